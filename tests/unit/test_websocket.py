"""The Responses API's WebSocket mode, in process: each response.create answered by the pipeline of
`POST /v1/responses` as JSON messages, lanes, the connection's memory, warm-ups, error events for what HTTP answers
with an error status, the close and refuse faults, the lifetime limit, the journal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp
import pytest
from helpers import problems, validate_openapi
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from mockserver.engine.socket_writer import Connection, send_events
from mockserver.engine.writer import Due, Outcome
from mockserver.scenario.chaos import parse as parse_chaos
from mockserver.scenario.load import BUNDLED
from mockserver.testing import make_app
from mockserver.wire.responses_ws import connection_limit, frames

SCENARIOS = """
scenarios:
  - name: hello
    text: "Hello there, friend."
  - name: slow
    chunks: ["one", " two", " three"]
    ttft_ms: 150
    interval_ms: 50
  - name: steps
    sequence:
      - text: "first"
      - text: "second"
  - name: call
    tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: busy
    error: {status: 429, retry_after: 2}
  - name: broken
    error: {status: 500}
  - name: closes
    chunks: ["Half", {close: 1011, reason: "boom"}]
  - name: drops
    chunks: ["Half", {disconnect: true}]
  - name: no-code
    chunks: ["Half", {close: 1005}]
  - name: polices
    chunks: ["No", {close: 1008}]
  - name: restarts
    chunks: ["Half", {close: 1012, refuse: {times: 2, status: 503}}]
  - name: ends
    chunks: ["Half", {end: true}]
  - name: fails
    chunks: ["a", {error: {status: 429, code: insufficient_quota}}]
  - name: pinged
    chunks: ["a", {keepalive: true}, {raw: "not json"}, "b"]
"""
EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    return await aiohttp_client(make_app(SCENARIOS, speed=1.0))


def create(model: str = "hello", **body: Any) -> dict[str, Any]:
    return {"type": "response.create", "model": model, "input": "hi", **body}


async def turn(ws: Any, **body: Any) -> list[dict[str, Any]]:
    """Send a response.create and read its events up to the terminal one."""
    await ws.send_json(create(**body))
    return await until_terminal(ws)


async def until_terminal(ws: Any) -> list[dict[str, Any]]:
    events = []
    while True:
        message = await ws.receive(timeout=5)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        events.append(json.loads(message.data))
        if events[-1]["type"] in TERMINAL:
            return events


async def journal(client: Any) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await (await client.get("/_mock/requests")).json())["requests"]
    return listed


# --- a turn ---------------------------------------------------------------------------------------------------


async def test_a_turn_is_the_sse_stream_as_messages(client: Any) -> None:
    sse = await (await client.post("/v1/responses", json={"model": "hello", "input": "hi", "stream": True})).read()
    sse_events = [json.loads(line[6:]) for line in sse.split(b"\n") if line.startswith(b"data: ")]
    async with client.ws_connect("/v1/responses") as ws:
        events = await turn(ws)
    assert [event["type"] for event in events] == [event["type"] for event in sse_events]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    for event in events:
        EVENT.validate_python(event)
        assert "stream_id" not in event
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Hello there, friend."
    deltas = [event["delta"] for event in events if event["type"] == "response.output_text.delta"]
    assert deltas == [event["delta"] for event in sse_events if event["type"] == "response.output_text.delta"]


async def test_the_journal_keeps_the_code_the_server_closed_with(client: Any) -> None:
    # A message past 10 MiB is closed with 1009; the journal said 1006, the client's vanishing.
    async with client.ws_connect("/v1/responses", max_msg_size=0) as ws:
        with contextlib.suppress(ConnectionError):  # the server may close before the whole message is out
            await ws.send_str("x" * (11 * 1024 * 1024))
        closed = await ws.receive()
    assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1009)
    (entry,) = await journal(client)
    assert (entry["close_code"], entry["ended"]) == (1009, "completed")


async def test_one_connection_serves_many_turns_with_the_scenarios_sequence(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        first = await turn(ws, model="steps")
        second = await turn(ws, model="steps", stream=True)  # `stream` is implied; clients that send it are served
    assert first[-1]["response"]["output"][0]["content"][0]["text"] == "first"
    assert second[-1]["response"]["output"][0]["content"][0]["text"] == "second"


async def test_events_keep_the_scenarios_timing(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        sent = time.monotonic()
        await ws.send_json(create("slow"))
        arrived = {}
        while "response.completed" not in arrived:
            event = json.loads((await ws.receive(timeout=5)).data)
            arrived.setdefault(event["type"], time.monotonic() - sent)
    assert arrived["response.created"] < 0.15  # before the first token is due
    assert arrived["response.output_text.delta"] >= 0.15  # ttft_ms
    assert arrived["response.completed"] >= 0.25  # and two intervals
    assert arrived["response.completed"] < 2.0


async def test_a_keepalive_is_a_ping_and_raw_bytes_a_message_of_their_own(client: Any) -> None:
    async with client.ws_connect("/v1/responses", autoping=False) as ws:
        await ws.send_json(create("pinged"))
        kinds = []
        while not kinds or kinds[-1] != "response.completed":
            message = await ws.receive(timeout=5)
            if message.type is aiohttp.WSMsgType.PING:
                kinds.append("ping")
            elif message.data == "not json":
                kinds.append("raw")
            else:
                kinds.append(json.loads(message.data)["type"])
    assert kinds.index("ping") < kinds.index("raw") < len(kinds) - 1


# --- lanes ------------------------------------------------------------------------------------------------------


async def test_lanes_run_side_by_side_and_echo_their_stream_id(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        started = time.monotonic()
        await ws.send_json(create("slow", stream_id="a"))
        await ws.send_json(create("slow", stream_id="b.2"))
        done: dict[str, list[dict[str, Any]]] = {"a": [], "b.2": []}
        while sum(events[-1]["type"] == "response.completed" for events in done.values() if events) < 2:
            event = json.loads((await ws.receive(timeout=5)).data)
            done[event["stream_id"]].append(event)
        elapsed = time.monotonic() - started
    assert elapsed < 0.5  # together, not one after the other (2 x 0.25 s)
    for events in done.values():
        assert [event["sequence_number"] for event in events] == list(range(len(events)))
        assert all(list(event)[-1] == "stream_id" for event in events)


async def test_a_lane_runs_its_responses_in_order(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_json(create("slow", stream_id="a"))
        await ws.send_json(create("hello", stream_id="a"))
        first = await until_terminal(ws)
        second = await until_terminal(ws)
    assert first[-1]["response"]["model"] == "slow"
    assert second[0]["type"] == "response.created" and second[-1]["response"]["model"] == "hello"


async def test_at_most_sixteen_responses_run_at_once(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        for lane in range(17):
            await ws.send_json(create("slow", stream_id=f"lane{lane}"))
        created = []
        completed = 0
        while len(created) < 17:
            event = json.loads((await ws.receive(timeout=5)).data)
            if event["type"] == "response.created":
                created.append((event["stream_id"], completed))
            completed += event["type"] == "response.completed"
    lane, ended_before = created[-1]
    assert lane == "lane16" and ended_before >= 1  # queued until one of the sixteen ended
    assert all(count == 0 for _, count in created[:16])


async def test_a_33rd_lane_and_a_malformed_stream_id_are_refused(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        for lane in range(32):
            await turn(ws, stream_id=f"l{lane}")
        (refused,) = await turn(ws, stream_id="l32")
        assert refused == {
            "type": "error",
            "status": 400,
            "stream_id": "l32",
            "error": {
                "type": "invalid_request_error",
                "code": "websocket_stream_limit_reached",
                "message": "This WebSocket connection has reached its maximum number of distinct stream IDs (32). "
                "Reuse an existing stream_id or open a new WebSocket connection.",
                "param": "stream_id",
            },
        }
        assert (await turn(ws, stream_id="l7"))[-1]["type"] == "response.completed"  # a lane in use still is
        (bad,) = await turn(ws, stream_id="no spaces")
    assert bad["error"]["code"] == "invalid_stream_id" and "stream_id" not in bad


# --- memory, store, warm-up -------------------------------------------------------------------------------------


async def test_store_false_chains_within_the_connection_only(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        first = (await turn(ws, store=False))[-1]["response"]
        second = (await turn(ws, store=False, previous_response_id=first["id"], input="more"))[-1]["response"]
        third = (await turn(ws, store=False, previous_response_id=second["id"], input="again"))[-1]
        assert second["previous_response_id"] == first["id"] and third["type"] == "response.completed"
        # the whole chain is counted: three inputs, two outputs
        assert third["response"]["usage"]["input_tokens"] > second["usage"]["input_tokens"]
    assert (await client.get(f"/v1/responses/{first['id']}")).status == 404
    async with client.ws_connect("/v1/responses") as ws:
        (missing,) = await turn(ws, store=False, previous_response_id=second["id"])
        assert missing["status"] == 400 and missing["error"]["code"] == "previous_response_not_found"
        assert missing["error"]["message"] == f"Previous response with id '{second['id']}' not found."
        assert (await turn(ws))[-1]["type"] == "response.completed"  # the connection serves on


async def test_a_new_lane_can_fork_from_another_lanes_response(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        parent = (await turn(ws, store=False, stream_id="main"))[-1]["response"]
        forks = []
        for lane in ("fork1", "fork2"):
            forks.append((await turn(ws, store=False, stream_id=lane, previous_response_id=parent["id"]))[-1])
    assert all(fork["type"] == "response.completed" for fork in forks)
    assert all(fork["response"]["previous_response_id"] == parent["id"] for fork in forks)


async def test_a_stall_holds_the_next_messages_back(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app('scenarios:\n  - {name: s, chunks: ["a", {stall_ms: 200}, "b"]}\n'))
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_json(create("s"))
        deltas = []
        while len(deltas) < 2:
            event = json.loads((await ws.receive(timeout=5)).data)
            if event["type"] == "response.output_text.delta":
                deltas.append(time.monotonic())
    # Both are due on deadlines from the turn's start: a first delta read a little late narrows the gap.
    assert deltas[1] - deltas[0] >= 0.2 - 0.01
    (entry,) = [entry for entry in await journal(client) if entry["method"] == "WS"]
    assert entry["fault"] == "stall" and entry["stall_ms"] == 200


async def test_store_true_is_stored_as_over_http(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        response = (await turn(ws))[-1]["response"]
    stored = await (await client.get(f"/v1/responses/{response['id']}")).json()
    assert stored == response
    async with client.ws_connect("/v1/responses") as ws:  # a new connection chains from the store
        assert (await turn(ws, previous_response_id=response["id"]))[-1]["type"] == "response.completed"


async def test_a_continuation_refused_on_its_lane_evicts_its_parent(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        parent = (await turn(ws, store=False))[-1]["response"]["id"]
        (refused,) = await turn(ws, store=False, previous_response_id=parent, temperature=9)
        assert refused["error"]["code"] == "decimal_above_max_value"
        (missing,) = await turn(ws, store=False, previous_response_id=parent)
    assert missing["error"]["code"] == "previous_response_not_found"


async def test_a_warm_up_answers_an_id_to_chain_from_and_uses_no_step(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        warm = await turn(ws, model="steps", generate=False, store=False, instructions="Be brief.")
        assert [event["type"] for event in warm] == ["response.created", "response.in_progress", "response.completed"]
        for event in warm:
            EVENT.validate_python(event)
        done = warm[-1]["response"]
        assert done["output"] == [] and done["usage"]["total_tokens"] == 0 and done["status"] == "completed"
        answered = await turn(ws, model="steps", store=False, previous_response_id=done["id"])
    assert answered[-1]["response"]["output"][0]["content"][0]["text"] == "first"


# --- errors as events -------------------------------------------------------------------------------------------

BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble "
    "figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json", {"type": "invalid_request_error", "code": None, "message": BAD_JSON, "param": None}),
        (
            "[1, 2]",
            {
                "type": "invalid_request_error",
                "code": "invalid_type",
                "message": "Invalid body: expected a JSON object, but got an array instead.",
                "param": None,
            },
        ),
        (
            '{"model": "hello"}',
            {
                "type": "invalid_request_error",
                "code": "missing_required_parameter",
                "message": "Missing required parameter: 'type'.",
                "param": "type",
            },
        ),
        (
            '{"type": "response.cancel"}',
            {
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "Invalid value: 'response.cancel'. Supported values are: 'response.create' and "
                "'response.steer'.",
                "param": "type",
            },
        ),
        (
            '{"type": "response.create", "input": "hi"}',
            {
                "type": "invalid_request_error",
                "code": "missing_required_parameter",
                "message": "Missing required parameter: 'model'.",
                "param": "model",
            },
        ),
        (
            '{"type": "response.create", "model": "hello", "input": "hi", "background": true}',
            {
                "type": "invalid_request_error",
                "code": "unsupported_parameter",
                "message": "The 'background' parameter is not supported in WebSocket mode.",
                "param": "background",
            },
        ),
    ],
)
async def test_a_bad_message_gets_the_error_event_and_the_connection_serves_on(
    client: Any, message: str, error: dict[str, Any]
) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_str(message)
        assert json.loads((await ws.receive(timeout=5)).data) == {"type": "error", "status": 400, "error": error}
        assert (await turn(ws))[-1]["type"] == "response.completed"
    turns = [entry for entry in await journal(client) if entry["method"] == "WS"]
    assert [entry["status"] for entry in turns] == [400, 200]
    assert turns[0]["error"]["message"] == error["message"]


async def test_http_errors_arrive_as_error_events_with_their_status_and_retry_headers(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        (busy,) = await turn(ws, model="busy", stream_id="x")
        (broken,) = await turn(ws, model="broken")
        (missing,) = await turn(ws, model="nobody")
    assert busy["status"] == 429 and busy["stream_id"] == "x"
    assert busy["error"]["code"] == "rate_limit_exceeded"
    assert busy["error"]["headers"]["retry-after"] == "2" and busy["headers"] == busy["error"]["headers"]
    assert busy["headers"]["x-ratelimit-remaining-requests"] == "0"
    assert broken["status"] == 500 and broken["error"]["type"] == "server_error" and "headers" not in broken
    assert missing["status"] == 404 and missing["error"]["code"] == "scenario_not_found"
    entries = [entry for entry in await journal(client) if entry["method"] == "WS"]
    assert [entry["status"] for entry in entries] == [429, 500, 404]
    assert entries[0]["retry_after"] == 2


async def test_a_failure_inside_the_stream_is_the_error_event_then_response_failed(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        events = await turn(ws, model="fails")
        events.append(json.loads((await ws.receive(timeout=5)).data))
    assert [event["type"] for event in events[-2:]] == ["error", "response.failed"]
    assert events[-2]["error"]["code"] == "insufficient_quota" and "status" not in events[-2]


async def test_steer_input_is_answered_with_response_steer_failed(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_json(create("slow"))
        created = json.loads((await ws.receive(timeout=5)).data)
        target = created["response"]["id"]
        await ws.send_json({"type": "response.steer", "previous_response_id": target, "input": "shorter please"})
        events = await until_terminal(ws)
        steered = next(event for event in events if event["type"] == "response.steer.failed")
        assert steered["error"] == {
            "code": "steering_not_supported",
            "message": "This response does not support steering.",
            "type": "invalid_request_error",
        }
        assert steered["steer"] == {"input": "shorter please", "previous_response_id": target}
        await ws.send_json({"type": "response.steer", "previous_response_id": target, "input": "now"})
        done = json.loads((await ws.receive(timeout=5)).data)
        assert done["error"]["code"] == "response_already_completed"
        await ws.send_json({"type": "response.steer", "previous_response_id": "resp_x", "input": [{"role": "tool"}]})
        invalid = json.loads((await ws.receive(timeout=5)).data)
        assert invalid["error"]["code"] == "invalid_input"
        await ws.send_json({"type": "response.steer", "previous_response_id": "resp_x", "input": "hi"})
        unknown = json.loads((await ws.receive(timeout=5)).data)
    assert unknown["error"]["code"] == "response_not_found"


# --- the upgrade ------------------------------------------------------------------------------------------------


async def test_the_api_key_is_checked_before_the_upgrade_and_the_admin_token_never(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(SCENARIOS, api_key="sk-right", admin_token="admin"))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/v1/responses", headers={"Authorization": "Bearer sk-wrong"})
    assert refused.value.status == 401
    async with client.ws_connect("/v1/responses", headers={"Authorization": "Bearer sk-right"}) as ws:
        assert (await turn(ws))[-1]["type"] == "response.completed"


async def test_a_get_without_the_upgrade_is_still_405(client: Any) -> None:
    answer = await client.get("/v1/responses")
    assert answer.status == 405
    assert (await answer.json())["error"]["message"] == (
        "Not allowed to GET on /v1/responses. (HINT: Perhaps you meant to use a different HTTP method?)"
    )


async def test_a_session_path_has_its_own_journal(client: Any) -> None:
    async with client.ws_connect("/session/mine/v1/responses") as ws:
        await turn(ws)
    mine = (await (await client.get("/_mock/requests?session=mine")).json())["requests"]
    connection, answered = mine
    assert connection["method"] == "GET" and connection["status"] == 101 and connection["close_code"] == 1000
    assert answered["method"] == "WS" and answered["status"] == 200 and answered["scenario"] == "hello"
    assert connection["websocket"] == answered["websocket"] and connection["websocket"].startswith("ws_")
    assert answered["body"]["type"] == "response.create"


# --- faults -----------------------------------------------------------------------------------------------------


async def test_a_scripted_close_sends_its_code_and_reason(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_json(create("closes"))
        while (message := await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
        assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 1011 and message.extra == "boom"
    connection, answered = await journal(client)
    assert answered["ended"] == "fault" and answered["fault"] == "disconnect" and answered["close_code"] == 1011
    assert connection["ended"] == "fault" and connection["close_code"] == 1011


@pytest.mark.parametrize(("model", "code"), [("drops", 1006), ("no-code", 1005)])
async def test_a_drop_has_no_close_frame_and_1005_a_close_frame_without_a_code(
    client: Any, model: str, code: int
) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_json(create(model))
        while (message := await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
        if code == 1006:
            assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        else:
            assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 0  # aiohttp's "no code"
    assert (await journal(client))[0]["close_code"] == code


async def test_a_close_with_refuse_refuses_the_next_upgrades(client: Any) -> None:
    async with client.ws_connect("/session/r/v1/responses") as ws:
        await ws.send_json(create("restarts"))
        while (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
    for _ in range(2):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/session/r/v1/responses")
        assert refused.value.status == 503
    async with client.ws_connect("/session/r/v1/responses") as ws:
        assert (await turn(ws))[-1]["type"] == "response.completed"
    statuses = [entry["status"] for entry in await journal(client) if entry["method"] == "GET"]
    assert statuses == [101, 503, 503, 101]


async def test_an_end_stops_the_turn_and_the_connection_serves_on(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_json(create("ends"))
        types = []
        while (message := await ws.receive(timeout=0.5)).type is aiohttp.WSMsgType.TEXT and len(types) < 20:
            types.append(json.loads(message.data)["type"])
            if types[-1] == "response.output_text.delta":
                break
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.2)
        assert (await turn(ws))[-1]["type"] == "response.completed"


async def test_chaos_closes_and_refuses(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(SCENARIOS))
    await client.post("/_mock/chaos", json={"close": 1, "close_code": 1013})
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_json(create())
        while (message := await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
        assert message.data == 1013
    await client.post("/_mock/chaos", json={"refuse": 1, "refuse_status": 429})
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/v1/responses")
    assert refused.value.status == 429
    chaos = [entry["chaos"] for entry in await journal(client) if entry["method"] != "POST"]
    assert chaos == [None, "close", "refuse"]


async def test_after_its_lifetime_a_connection_answers_the_limit_error(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(SCENARIOS, websocket_lifetime=0.2))
    async with client.ws_connect("/v1/responses") as ws:
        assert (await turn(ws))[-1]["type"] == "response.completed"
        await asyncio.sleep(0.25)
        (limit,) = await turn(ws)
        assert limit == {
            "type": "error",
            "status": 400,
            "error": {
                "type": "invalid_request_error",
                "code": "websocket_connection_limit_reached",
                "message": "Responses websocket connection limit reached (0.2 seconds). Create a new websocket "
                "connection to continue.",
                "param": None,
            },
        }
    async with client.ws_connect("/v1/responses") as ws:
        assert (await turn(ws))[-1]["type"] == "response.completed"


def test_the_default_lifetime_is_the_real_apis_sixty_minutes() -> None:
    assert connection_limit(3600).message == (
        "Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue."
    )


async def test_a_stopping_server_closes_its_connections_with_1001(aiohttp_server: Any) -> None:
    server = await aiohttp_server(make_app(SCENARIOS))
    async with aiohttp.ClientSession() as session, session.ws_connect(server.make_url("/v1/responses")) as ws:
        await ws.send_json(create("slow"))
        await ws.receive(timeout=5)
        await server.close()
        while (message := await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
    assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 1001


async def test_over_http_a_close_cuts_the_connection_as_a_disconnect(client: Any) -> None:
    answer = await client.post("/v1/responses", json={"model": "closes", "input": "hi", "stream": True})
    assert answer.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await answer.read()
    assert (await journal(client))[0]["fault"] == "disconnect"


async def test_events_due_together_leave_in_one_write() -> None:
    loop = asyncio.get_running_loop()
    writes: list[tuple[float, bytes]] = []

    class Transport:
        def is_closing(self) -> bool:
            return False

        def write(self, data: bytes) -> None:
            writes.append((loop.time(), data))

    async def drain() -> None:
        pass

    event = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"a"}\n\n'
    events = [Due(0.0, event * 2, 2), Due(0.0, event, 1), Due(0.05, event, 1)]
    start = loop.time()
    outcome = Outcome(origin=start)
    await send_events(Connection(Transport(), drain), events, start, outcome, lambda d, n: frames(d, n, b""))  # type: ignore[arg-type]
    (_, first), (second_at, _) = writes
    message = b'{"type":"response.output_text.delta","delta":"a"}'
    assert first == (b"\x81" + bytes([len(message)]) + message) * 3  # three text frames, one write
    assert second_at - start >= 0.05 and outcome.chunks == 4


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        (
            "[a, {close: 999}]",
            "s.yaml:3: 'close' in chunk 2 of scenario 's' must be a WebSocket close code from 1000 to 4999",
        ),
        ("[a, {close: 1011, reason: 7}]", "s.yaml:3: 'reason' in chunk 2 of scenario 's' must be text, got a number"),
        (
            "[a, {close: 1006, reason: gone}]",
            "'reason' in chunk 2 of scenario 's': a close with 1006 sends no close frame payload",
        ),
        (
            f"[a, {{close: 1011, reason: {'x' * 124}}}]",
            "'reason' in chunk 2 of scenario 's' is 124 bytes; a close frame holds 123",
        ),
        ("[a, {disconnect: true, reason: b}]", "'reason' in chunk 2 of scenario 's' goes with 'close'"),
        ("[{content: a, refuse: 1}]", "'refuse' in chunk 1 of scenario 's' goes with 'close' or 'disconnect'"),
        ("[a, {close: 1012, refuse: 0}]", "'refuse' in chunk 2 of scenario 's' must be how many upgrades are refused"),
        (
            "[a, {close: 1012, refuse: {times: 2, status: 302}}]",
            "'status' of 'refuse' in chunk 2 of scenario 's' must be an HTTP error status 400-599, got 302",
        ),
        ("[a, {close: 1012, refuse: {status: 503}}]", "'refuse' in chunk 2 of scenario 's' needs 'times'"),
        ("[a, {close: 1011}, b]", "chunk 3 of scenario 's' comes after 'close', which ends the stream"),
    ],
)
def test_close_items_are_validated(chunks: str, message: str) -> None:
    found = problems(f"scenarios:\n  - name: s\n    chunks: {chunks}\n")
    assert len(found) == 1 and message in found[0], found


def test_chaos_close_and_refuse_are_validated() -> None:
    assert problems("scenarios:\n  - {name: s, text: x, chaos: {close: 0.1, close_code: 1011.5}}\n") == [
        "s.yaml:2: chaos 'close_code' must be a whole number from 1000 to 4999, got 1011.5 (scenario 's')"
    ]
    assert problems("scenarios:\n  - {name: s, text: x, chaos: {close: 0.6, stall: 0.4, refuse: 0.9}}\n") == [
        "s.yaml:2: chaos 'refuse' in scenario 's': upgrades are refused before a scenario is chosen; give it to the "
        "server's chaos (--chaos, POST /_mock/chaos) instead"
    ]
    # drawn per upgrade, apart: it does not count toward a request's total
    assert parse_chaos("close=0.6,stall=0.4,refuse=0.9").rates["refuse"] == 0.9


async def test_the_bundled_fault_scenarios_close_with_each_code(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BUNDLED, speed=0))
    for code in (1001, 1005, 1006, 1008, 1011, 1012, 1013, 1015):
        async with client.ws_connect("/v1/responses") as ws:
            await ws.send_json(create(f"fault-ws-close-{code}"))
            while (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
                pass
    codes = [entry["close_code"] for entry in await journal(client) if entry["method"] == "GET"]
    assert codes == [1001, 1005, 1006, 1008, 1011, 1012, 1013, 1015]


# --- verdicts ---------------------------------------------------------------------------------------------------


async def verdicts(client: Any, session: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await (await client.get(f"/_mock/verdicts?session={session}")).json())["findings"]
    return found


async def closed_by_the_server(client: Any, session: str, model: str) -> None:
    async with client.ws_connect(f"/session/{session}/v1/responses") as ws:
        await ws.send_json(create(model))
        while (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass


async def test_a_client_that_never_reconnects_after_1011_is_flagged(client: Any) -> None:
    await closed_by_the_server(client, "gone", "closes")
    (finding,) = await verdicts(client, "gone")
    assert finding["rule"] == "never_reconnected" and "closed with 1011" in finding["message"]
    await closed_by_the_server(client, "back", "closes")
    async with client.ws_connect("/session/back/v1/responses") as ws:
        await turn(ws)
    assert await verdicts(client, "back") == []
    await closed_by_the_server(client, "policy", "polices")  # 1008: not to be reconnected
    assert await verdicts(client, "policy") == []


async def test_a_client_that_reconnects_at_once_again_and_again_is_a_storm(client: Any) -> None:
    await closed_by_the_server(client, "storm", "restarts")  # the next two upgrades are refused
    for _ in range(2):
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await client.ws_connect("/session/storm/v1/responses")
    async with client.ws_connect("/session/storm/v1/responses") as ws:
        await turn(ws)
    (finding,) = await verdicts(client, "storm")
    assert finding["rule"] == "reconnect_storm" and "3 reconnections in a row" in finding["message"]
    assert len(finding["requests"]) == 4


async def test_the_live_feed_shows_the_connection_and_its_turns(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        await turn(ws)
    feed = await client.get("/_mock/feed")
    head, data = (await feed.content.readuntil(b"\n\n")).split(b"\n", 1)
    feed.close()
    assert head == b"event: snapshot"
    connection, answered = json.loads(data.removeprefix(b"data: "))["requests"]
    assert (connection["method"], connection["status"], connection["close_code"]) == ("GET", 101, 1000)
    assert (answered["method"], answered["scenario"]) == ("WS", "hello")
    assert connection["websocket"] == answered["websocket"]


async def test_error_events_are_the_documents_response_ws_error(client: Any) -> None:
    async with client.ws_connect("/v1/responses") as ws:
        errors = [(await turn(ws, model="busy", stream_id="a"))[0], (await turn(ws, stream_id="no spaces"))[0]]
        await ws.send_str("not json")
        errors.append(json.loads((await ws.receive(timeout=5)).data))
    for error in errors:
        validate_openapi("ResponseWsError", error)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (503, "That model is currently overloaded with other requests."),
        (429, "Too Many Requests."),
        (426, "Upgrade Required."),
        (599, "Error."),
    ],
)
async def test_a_refused_upgrade_answers_its_status_in_the_envelope(
    aiohttp_client: Any, status: int, message: str
) -> None:
    client = await aiohttp_client(
        make_app(f"scenarios:\n  - {{name: s, chunks: [a, {{close: 1012, refuse: {{times: 1, status: {status}}}}}]}}\n")
    )
    async with client.ws_connect("/v1/responses") as ws:
        await ws.send_json(create("s"))
        while (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
    answer = await client.get(
        "/v1/responses",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    assert answer.status == status
    assert (await answer.json())["error"]["message"].startswith(message)
