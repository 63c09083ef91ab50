"""The journal's timeline of each answer: when its headers and first token left, every write of a stream as a
tick, where its faults were played, and the error it answered — what the page draws."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from helpers import chat, response_request

SCENARIOS = """
scenarios:
  - name: paced
    chunks: ["a", "b", "c"]
    ttft_ms: 60
    interval_ms: 30
  - name: stalls
    chunks: ["a", {stall_ms: 120}, "b"]
  - name: breaks
    chunks: ["a", "b", {error: true}]
    interval_ms: 20
  - name: slow-headers
    latency_ms: 50
    text: hi
"""


async def journal(client: Any) -> list[dict[str, Any]]:
    return (await (await client.get("/_mock/requests")).json())["requests"]


async def test_a_stream_s_writes_are_its_ticks(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await (await client.post("/v1/chat/completions", json=chat("paced"))).read()
    (entry,) = await journal(client)
    ticks = entry["ticks"]
    # the headers, then role + "a", "b", then "c" with the finish chunk ([DONE] is not a chunk)
    assert [chunks for _, chunks in ticks] == [0, 2, 3, 5]
    assert ticks[0][0] == entry["headers_ms"] < 50
    assert [at >= due for (at, _), due in zip(ticks[1:], (60, 90, 120), strict=True)] == [True] * 3
    assert entry["ttft_ms"] == ticks[1][0]
    assert entry["duration_ms"] >= ticks[-1][0]
    assert entry["marks"] is None and entry["error"] is None


async def test_the_first_token_is_the_first_content_not_the_first_event(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await (await client.post("/v1/responses", json=response_request("paced"))).read()
    (entry,) = await journal(client)
    assert entry["ticks"][1][0] < 50  # response.created and response.in_progress leave at once...
    assert entry["ttft_ms"] >= 60  # ...the first token when it is due


async def test_a_stall_is_marked_and_shows_as_a_gap(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await (await client.post("/v1/chat/completions", json=chat("stalls"))).read()
    (entry,) = await journal(client)
    (mark,) = entry["marks"]
    assert mark["kind"] == "stall" and mark["ms"] == 120 and mark["at_ms"] < 50
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(entry["ticks"])]
    assert entry["ticks"][-1][0] >= 120  # "b" is not sent before its time...
    assert max(gaps) >= 110  # ...and nearly all that time is one gap (the write before it left a moment late)


async def test_a_mid_stream_error_is_marked_where_it_was_sent(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await (await client.post("/v1/chat/completions", json=chat("breaks"))).read()
    (entry,) = await journal(client)
    assert entry["ended"] == "fault"
    assert entry["marks"] == [{"kind": "error", "at_ms": 20.0, "ms": None}]  # after "b", due at 20 ms


async def test_a_whole_answer_leaves_with_its_headers(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await (await client.post("/v1/chat/completions", json=chat("slow-headers", stream=False))).read()
    await (await client.post("/v1/chat/completions", json=chat("slow-headers"))).read()
    whole, stream = await journal(client)
    assert whole["ticks"] is None and whole["ttft_ms"] is None
    assert whole["headers_ms"] == whole["duration_ms"] >= 50
    assert stream["headers_ms"] >= 50  # the latency is before the headers


async def test_an_error_answer_says_why(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await client.post("/v1/chat/completions", json=chat("paced"), headers={"X-Mock-Scenario": "nope"})
    await client.post("/v1/chat/completions", json={"model": "paced"})
    miss, bad = await journal(client)
    assert miss["status"] == 404 and miss["error"]["code"] == "scenario_not_found"
    assert miss["error"]["message"].startswith("No scenario named 'nope' (asked for by the X-Mock-Scenario header).")
    assert bad["status"] == 400 and bad["error"]["message"] == "Missing required parameter: 'messages'."
    assert miss["headers_ms"] == miss["duration_ms"]


async def test_a_stream_in_flight_shows_its_scenario_and_ticks_so_far(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/v1/chat/completions", json=chat("stalls"))
    await response.content.readuntil(b"\n\n")  # the first chunk, then the stall
    await asyncio.sleep(0.02)
    (entry,) = await journal(client)
    assert (entry["status"], entry["ended"]) == (None, "in progress")
    assert (entry["scenario"], entry["chosen_by"]) == ("stalls", "model")
    assert [chunks for _, chunks in entry["ticks"]] == [0, 2]
    await response.read()


async def test_a_burst_s_first_tokens_count_from_each_request_s_arrival(client_for: Any, monkeypatch: Any) -> None:
    """Thirty streams asked for at once, each taking 5 ms to check: the last one's first token is still due 300 ms
    after it was sent, not 300 ms after the twenty-nine before it were checked."""
    from mockserver.server import admission

    client = await client_for("scenarios:\n  - name: slow-start\n    text: hi\n    ttft_ms: 300\n")
    checked = admission.parse

    def slow(*args: Any) -> Any:
        until = time.perf_counter() + 0.005
        while time.perf_counter() < until:  # the loop is busy, as under a burst of real checks
            pass
        return checked(*args)

    monkeypatch.setattr(admission, "parse", slow)

    async def first_token() -> float:
        sent = time.perf_counter()
        response = await client.post("/v1/chat/completions", json=chat("slow-start"))
        async for line in response.content:
            if b'"content":"hi"' in line:
                break
        waited = time.perf_counter() - sent
        await response.read()
        return waited

    waits = await asyncio.gather(*(first_token() for _ in range(30)))
    assert min(waits) >= 0.3
    assert max(waits) < 0.3 + 0.1  # checked one after another, the last would wait 30 x 5 ms more
