"""Background responses: queued at once, then played on the scenario's timeline whether or not anyone listens;
their stream resumed with exactly the missing events, live and after the end; cancelled; stopped on shutdown."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest
from helpers import validate_openapi
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from mockserver.server.state import STATE
from mockserver.testing import make_app

SCENARIOS = """
scenarios:
  - name: slow
    chunks: ["one", " two", " three", " four"]
    latency_ms: 300
    ttft_ms: 200
    interval_ms: 100
  - name: stalls
    chunks: ["before", {stall_ms: 5000}, " after"]
  - name: quick
    text: "Done."
  - name: fails
    chunks: ["a", {error: {status: 429, code: insufficient_quota}}]
"""
FRAME = re.compile(rb"event: ([a-z_.]+)\ndata: ([^\n]*)\n\n")
EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    return await aiohttp_client(make_app(SCENARIOS))


def frames(body: bytes) -> list[bytes]:
    found = [match.group(0) for match in FRAME.finditer(body)]
    assert b"".join(found) == body, body
    return found


def spec_view(response: dict[str, Any]) -> dict[str, Any]:
    """Less `"user": null` and `"usage": null`, which the real API sends and the OpenAPI document does not allow."""
    return {key: value for key, value in response.items() if key not in ("user", "usage") or value is not None}


def events(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(frame.split(b"data: ", 1)[1]) for frame in frames(body)]


async def start(client: Any, model: str, stream: bool = False, **body: Any) -> Any:
    return await client.post(
        "/v1/responses", json={"model": model, "input": "hi", "background": True, "stream": stream, **body}
    )


async def read_until(response: Any, count: int) -> bytes:
    """The first `count` events of a stream, read as they come."""
    data = b""
    for _ in range(count):
        data += await response.content.readuntil(b"\n\n")
    return data


async def status_of(client: Any, response_id: str) -> dict[str, Any]:
    got = await client.get(f"/v1/responses/{response_id}")
    assert got.status == 200
    result: dict[str, Any] = await got.json()
    return result


async def test_queued_at_once_then_in_progress_then_completed(client: Any) -> None:
    started = time.monotonic()
    queued = await (await start(client, "slow")).json()
    assert time.monotonic() - started < 0.3  # not after the scenario's 300 ms latency
    assert {key: queued[key] for key in ("status", "background", "output", "usage", "completed_at", "service_tier")} == {
        "status": "queued", "background": True, "output": [], "usage": None, "completed_at": None, "service_tier": "auto"
    }  # fmt: skip
    Response.model_validate({key: value for key, value in queued.items() if key != "store"})
    assert (await status_of(client, queued["id"]))["status"] == "queued"
    await asyncio.sleep(0.4 - (time.monotonic() - started))
    running = await status_of(client, queued["id"])
    assert (running["status"], running["output"], running["usage"]) == ("in_progress", [], None)
    while (done := await status_of(client, queued["id"]))["status"] != "completed":
        assert time.monotonic() - started < 5
        await asyncio.sleep(0.05)
    assert time.monotonic() - started >= 0.3 + 0.2 + 0.3 - 0.01  # latency, ttft, three intervals
    assert done["output"][0]["content"][0]["text"] == "one two three four"
    assert (done["service_tier"], done["usage"]["output_tokens"]) == ("default", 4)
    assert done["completed_at"] == done["created_at"] + 0  # 0.8 s after it, counted in whole seconds
    validate_openapi("Response", spec_view(queued))


async def test_the_stream_opens_queued_and_carries_no_padding(client: Any) -> None:
    started = time.monotonic()
    response = await start(client, "slow", stream=True)
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    first = await read_until(response, 2)
    assert time.monotonic() - started < 0.3
    body = first + await response.read()
    found = events(body)
    assert [event["type"].removeprefix("response.") for event in found][:5] == [
        "created", "queued", "in_progress", "output_item.added", "content_part.added"
    ]  # fmt: skip
    assert found[-1]["type"] == "response.completed"
    assert [event["sequence_number"] for event in found] == list(range(len(found)))
    assert list(found[0]) == ["type", "response", "sequence_number"]  # as recorded for background streams
    assert found[0]["response"]["status"] == found[1]["response"]["status"] == "queued"
    assert found[2]["response"]["status"] == "in_progress"
    assert b"obfuscation" not in body
    for event in found:
        if "response" in event:
            event = {**event, "response": {k: v for k, v in event["response"].items() if k != "store"}}
        EVENT.validate_python(event)


async def test_a_client_that_left_resumes_with_exactly_the_missing_events(client: Any) -> None:
    response = await start(client, "slow", stream=True)
    seen = await read_until(response, 4)  # created, queued, in_progress, output_item.added
    response.close()
    response_id = json.loads(frames(seen)[0].split(b"data: ", 1)[1])["response"]["id"]
    last = json.loads(frames(seen)[-1].split(b"data: ", 1)[1])["sequence_number"]
    # While the response still runs: what was sent since, then the rest as it comes.
    resumed = await client.get(f"/v1/responses/{response_id}?stream=true&starting_after={last}")
    assert resumed.status == 200
    rest = await resumed.read()
    assert events(rest)[0]["sequence_number"] == last + 1
    assert events(rest)[-1]["type"] == "response.completed"
    # After the end: the whole stream again, byte for byte what the first client got and what it missed.
    whole = await (await client.get(f"/v1/responses/{response_id}?stream=true")).read()
    assert whole == seen + rest
    end = events(whole)[-1]["sequence_number"]
    empty = await client.get(f"/v1/responses/{response_id}?stream=true&starting_after={end}")
    assert (empty.status, await empty.read()) == (200, b"")
    wrong = await client.get(f"/v1/responses/{response_id}?stream=true&starting_after=soon")
    assert (await wrong.json())["error"]["message"] == (
        "Invalid type for 'starting_after': expected an integer, but got a string instead."
    )


async def test_resuming_past_the_events_sent_so_far_waits_for_those_after_it(client: Any) -> None:
    # The events still to come were all sent, whatever `starting_after` said (a resuming client got them twice).
    response = await start(client, "slow")
    response_id = (await response.json())["id"]
    ahead = await client.get(f"/v1/responses/{response_id}?stream=true&starting_after=6")
    numbers = [event["sequence_number"] for event in events(await ahead.read())]
    assert numbers[0] == 7 and numbers == list(range(7, 7 + len(numbers)))
    beyond = await client.get(f"/v1/responses/{response_id}?stream=true&starting_after=99999")
    assert await beyond.read() == b""


async def test_cancel(client: Any) -> None:
    response = await start(client, "stalls", stream=True)
    seen = await read_until(response, 6)  # ... up to the delta of "before"
    response_id = json.loads(frames(seen)[0].split(b"data: ", 1)[1])["response"]["id"]
    started = time.monotonic()
    cancelled = await client.post(f"/v1/responses/{response_id}/cancel")
    assert cancelled.status == 200
    body = await cancelled.json()
    assert {key: body[key] for key in ("status", "usage", "completed_at", "error", "background")} == {
        "status": "cancelled", "usage": None, "completed_at": None, "error": None, "background": True
    }  # fmt: skip
    (message,) = body["output"]  # what was produced, the item still in progress
    assert (message["status"], message["content"][0]["text"]) == ("in_progress", "before")
    # The stream that was following ends at once, with the cancellation.
    ending = events(await response.read())
    assert time.monotonic() - started < 2
    assert ending[-1]["type"] == "response.failed" and ending[-1]["response"] == body
    numbers = [event["sequence_number"] for event in events(seen) + ending]
    assert numbers == list(range(len(numbers)))  # nothing made for later is skipped
    assert await status_of(client, response_id) == body
    again = await client.post(f"/v1/responses/{response_id}/cancel")
    assert (again.status, await again.json()) == (200, body)  # cancelling twice changes nothing
    validate_openapi("Response", spec_view(body))


async def test_what_cannot_be_cancelled(client: Any) -> None:
    finished = await (await start(client, "quick")).json()
    while (await status_of(client, finished["id"]))["status"] != "completed":
        await asyncio.sleep(0.02)
    refused = await client.post(f"/v1/responses/{finished['id']}/cancel")
    assert (refused.status, (await refused.json())["error"]) == (
        400,
        {
            "message": "Cannot cancel a completed response.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
    )
    foreground = await (await client.post("/v1/responses", json={"model": "quick", "input": "hi"})).json()
    refused = await client.post(f"/v1/responses/{foreground['id']}/cancel")
    assert (refused.status, (await refused.json())["error"]["message"]) == (
        400,
        "Cannot cancel a synchronous response.",
    )
    assert (await client.post("/v1/responses/resp_nope/cancel")).status == 404


async def test_a_failure_in_the_background(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(SCENARIOS, speed=0))
    body = await (await start(client, "fails", stream=True)).read()
    assert [event["type"] for event in events(body)][-2:] == ["error", "response.failed"]
    response_id = events(body)[0]["response"]["id"]
    failed = await status_of(client, response_id)
    assert failed["status"] == "failed" and failed["error"]["code"] == "insufficient_quota"


async def test_kept_for_polling_even_unstored_but_not_chained(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(SCENARIOS, speed=0))
    queued = await (await start(client, "quick", store=False)).json()
    assert (await status_of(client, queued["id"]))["status"] == "completed"
    chained = await client.post("/v1/responses", json={"model": "quick", "previous_response_id": queued["id"]})
    assert chained.status == 400


async def test_shutdown_stops_every_background_response(aiohttp_client: Any) -> None:
    app = make_app(SCENARIOS)
    client = await aiohttp_client(app)
    await start(client, "stalls")
    tasks = set(app[STATE].store.tasks)
    assert len(tasks) == 1 and not any(task.done() for task in tasks)
    await client.close()
    assert all(task.done() for task in tasks) and not app[STATE].store.tasks


async def test_reset_stops_a_sessions_background_responses(client: Any) -> None:
    response = await client.post(
        "/session/s/v1/responses", json={"model": "stalls", "input": "hi", "background": True, "stream": True}
    )
    await read_until(response, 2)
    await client.post("/_mock/reset?session=s")
    assert await asyncio.wait_for(response.read(), 2) is not None  # its stream ends
    assert not client.app[STATE].store.tasks


async def test_open_streams_count_background_streams_too(client: Any) -> None:
    # A background stream, and its replay, are open streams while they run, and none once they end.
    response = await start(client, "quick", stream=True)
    body = await response.read()
    (created,) = [event for event in events(body) if event["type"] == "response.created"]
    replay = await client.get(f"/v1/responses/{created['response']['id']}?stream=true")
    await replay.read()
    metrics = await (await client.get("/metrics")).text()
    assert re.search(r"^mockserver_open_streams 0$", metrics, re.M), metrics
