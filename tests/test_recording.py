"""Record and replay, end to end and offline: the upstream is a mockserver serving scripted streams, the recorder a
proxy in front of it, the replay a mockserver serving the recorded file. Both sides are compared event by event —
content, tool-call fragments, reasoning, refusals, finish, usage, model — and in time: a replayed event never
comes before it came when recorded (less a few ms of the proxy's own hop), nor much after."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import cli_server_running
from recording import Stream, deltas, post, recording, recording_process, replaying, serving

from mockserver import load_paths
from mockserver.record.command import make_app
from mockserver.record.recorder import Recorder
from mockserver.record.redact import Redactor
from mockserver.record.relay import Relay
from mockserver.server.runner import BackgroundServer

pytestmark = pytest.mark.slow  # three servers and a few seconds of scripted delays

UPSTREAM = """
scenarios:
  - name: uneven
    match: {contains: uneven}
    model: gpt-4o-2024-08-06
    chunks:
      - {content: The, delay_ms: 150}
      - {content: " quick", delay_ms: 10}
      - {content: " brown", delay_ms: 90}
      - {content: " fox", delay_ms: 5}
      - {content: ".", delay_ms: 60}
  - name: calls
    match: {contains: weather}
    chunks: [{content: Checking., delay_ms: 40}]
    tool_calls: [{name: get_weather, arguments: {city: Paris}}, {name: get_time, arguments: {zone: CET}}]
    interval_ms: 7
  - name: thinker
    match: {contains: think}
    reasoning: Six sevens are forty-two.
    text: "42."
    ttft_ms: 80
    interval_ms: 15
  - name: raw-thinker
    match: {contains: ponder}
    raw_reasoning: true
    reasoning: Let me see.
    text: Done.
    interval_ms: 12
  - name: declines
    match: {contains: forbidden}
    refusal: I can't help with that.
    ttft_ms: 50
    interval_ms: 8
  - name: flaky
    match: {contains: flaky}
    sequence:
      - error: {status: 429, retry_after_ms: 40}
        latency_ms: 20
      - text: Recovered.
        ttft_ms: 30
  - name: breaks
    match: {contains: breaks}
    chunks:
      - {content: Half, delay_ms: 30}
      - " an"
      - {error: {message: Upstream overloaded, type: server_error, code: null}, delay_ms: 40}
  - name: cut
    match: {contains: cut}
    chunks: [{content: Never, delay_ms: 20}, " finished", {disconnect: true, delay_ms: 25}]
  - name: two-ways
    match: {contains: twice}
    choices: [{text: Paris.}, {text: The capital is Paris.}]
    ttft_ms: 30
    interval_ms: 11
  - name: scored
    match: {contains: scored}
    chunks: [{content: Sure, logprob: -0.25, delay_ms: 10}, {content: " thing", logprob: -1.5}]
  - name: vectors
    match: {model: text-embedding-3-small}
    embeddings: [[0.1, -0.25, 0.5], [0.0022786001, 1.0, -0.000001]]
    latency_ms: 15
  - name: flagged
    match: {model: omni-moderation-latest}
    moderation: {flagged: [violence], scores: {violence: 0.93}}
"""


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        "stream_options": {"include_usage": True},
        **extra,
    }


STREAMS = [
    chat("An uneven stream, please"),
    chat("What is the weather in Paris?", tools=[{"type": "function", "function": {"name": "get_weather"}}]),
    chat("Think: six times seven?", reasoning_effort="low"),
    chat("Ponder this"),
    chat("Something forbidden"),
    chat("This breaks"),
    chat("Say it twice", n=2),
    chat("scored", logprobs=True, top_logprobs=1),
]


def assert_same_timing(recorded: Stream, replayed: Stream) -> None:
    """Each event of the replay comes when it came while recording: none more than 10 ms before, beyond what the
    first event came early (the recorder measures from when it read the request, so the whole replay may lead the
    record pass by its own hop and a new connection's cost); none much after. `bench/replay_timing.py` measures
    the error itself."""
    assert len(replayed.times) == len(recorded.times)
    lead = max(0.0, recorded.times[0] - replayed.times[0])
    assert lead <= 30, f"the first event came {lead:.1f} ms early"
    for index, (was, now) in enumerate(zip(recorded.times, replayed.times, strict=True)):
        assert now >= was - lead - 10, f"event {index} came {was - now:.1f} ms early ({lead:.1f} ms at first)"
        assert now <= was + 250, f"event {index} came {now - was:.1f} ms late"


async def test_streams_replay_chunk_for_chunk_and_on_time(tmp_path: Path) -> None:
    """The upstream and the recorder run in processes of their own, as a user runs them: no server thread of the
    test's process slows the client down while it notes when each event came."""
    out = tmp_path / "recorded.yaml"
    upstream_file = tmp_path / "upstream.yaml"
    upstream_file.write_text(UPSTREAM)
    with (
        cli_server_running("--scenarios", str(upstream_file)) as upstream,
        recording_process(upstream.base_url, out) as proxy,
    ):
        recorded = [await post(proxy, "/v1/chat/completions", body) for body in STREAMS]
    assert load_paths([out]).problems == []
    with replaying(out) as replay:
        replayed = [await post(replay.root_url, "/v1/chat/completions", body) for body in STREAMS]
    for body, was, now in zip(STREAMS, recorded, replayed, strict=True):
        assert (now.status, now.cut) == (was.status, was.cut) == (200, False), body
        assert now.comparable() == was.comparable(), body["messages"]
        assert_same_timing(was, now)
    # what the comparison covers: tool-call fragments, hidden and raw reasoning, a refusal, an error event, usage
    calls = [call for delta in deltas(replayed[1]) for call in delta.get("tool_calls", [])]
    assert [call["function"].get("name") for call in calls if "id" in call] == ["get_weather", "get_time"]
    assert replayed[2].payloads[-2]["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    assert any("reasoning_content" in delta for delta in deltas(replayed[3]))
    assert any(delta.get("refusal") for delta in deltas(replayed[4]))
    assert replayed[5].payloads[-2] == {"error": recorded[5].payloads[-2]["error"]}
    assert {choice["index"] for payload in replayed[6].payloads[:-2] for choice in payload["choices"]} == {0, 1}
    assert replayed[0].payloads[0]["model"] == "gpt-4o-2024-08-06"


async def test_a_responses_stream_is_recorded_into_the_same_model(tmp_path: Path) -> None:
    """A Responses stream replays as the same events; the recording answers a chat request too."""
    out = tmp_path / "recorded.yaml"
    body = {"model": "o4-mini", "input": "Think it over", "stream": True, "reasoning": {"summary": "auto"}}
    with serving(UPSTREAM) as upstream, recording(upstream, out) as proxy:
        recorded = await post(proxy.root_url, "/v1/responses", body)
    with replaying(out) as replay:
        replayed = await post(replay.root_url, "/v1/responses", body)
        as_chat = await post(replay.root_url, "/v1/chat/completions", chat("Think it over", model="o4-mini"))
    assert [event["type"] for event in replayed.payloads] == [event["type"] for event in recorded.payloads]
    assert replayed.comparable()[1:] == recorded.comparable()[1:]  # after response.created, whose times differ
    assert_same_timing(recorded, replayed)
    summary = "".join(e["delta"] for e in replayed.payloads if e["type"] == "response.reasoning_summary_text.delta")
    assert summary == "Six sevens are forty-two."
    assert "".join(delta.get("content") or "" for delta in deltas(as_chat)) == "42."


async def test_rate_limited_then_answered_is_recorded_as_a_sequence(tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    body = chat("flaky?", stream=False)
    del body["stream_options"]
    with serving(UPSTREAM) as upstream, recording(upstream, out) as proxy:
        first = await post(proxy.root_url, "/v1/chat/completions", body)
        second = await post(proxy.root_url, "/v1/chat/completions", body)
    assert (first.status, second.status) == (429, 200)
    text = out.read_text()
    assert "  - continues: flaky\n" in text and "retry_after_ms: 40" in text
    (scenario,) = load_paths([out]).scenarios
    assert scenario.is_sequence and len(scenario.steps) == 2
    with replaying(out) as replay:
        again = [await post(replay.root_url, "/v1/chat/completions", body) for _ in range(3)]
    assert [stream.status for stream in again] == [429, 200, 200]
    assert again[1].body.count(b"Recovered.") == 1


async def test_an_upstream_that_cuts_the_stream_is_recorded_as_a_disconnect(tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    with serving(UPSTREAM) as upstream, recording(upstream, out) as proxy:
        recorded = await post(proxy.root_url, "/v1/chat/completions", chat("cut it"))
    assert recorded.cut and "{disconnect: true, delay_ms: " in out.read_text()
    with replaying(out) as replay:
        replayed = await post(replay.root_url, "/v1/chat/completions", chat("cut it"))
    assert replayed.cut and replayed.comparable() == recorded.comparable()


async def test_endpoints_that_do_not_stream_replay_the_same_bodies(tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    requests = [
        ("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64"}),
        ("/v1/moderations", {"model": "omni-moderation-latest", "input": "a fight"}),
        ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "weather?"}]}),
    ]
    with serving(UPSTREAM) as upstream, recording(upstream, out) as proxy:
        recorded = [await post(proxy.root_url, path, body) for path, body in requests]
    with replaying(out) as replay:
        replayed = [await post(replay.root_url, path, body) for path, body in requests]
    import json

    for (path, _), was, now in zip(requests, recorded, replayed, strict=True):
        assert now.status == was.status == 200, path
        old, new = json.loads(was.body), json.loads(now.body)
        for body in (old, new):
            body.pop("id", None), body.pop("created", None)
            for choice in body.get("choices", ()):
                for call in choice["message"].get("tool_calls") or ():
                    call.pop("id")
        assert new == old, path
    vectors = [
        struct.unpack("<3f", base64.b64decode(item["embedding"])) for item in json.loads(replayed[0].body)["data"]
    ]
    assert vectors[0] == struct.unpack("<3f", struct.pack("<3f", 0.1, -0.25, 0.5))


async def test_concurrent_streams_are_recorded_whole_into_one_file(tmp_path: Path) -> None:
    """Fifty streams at once through the proxy: the file loads with fifty scenarios, each replaying its own."""
    out = tmp_path / "recorded.yaml"
    upstream_yaml = "scenarios:\n  - name: echo\n    match: {model: gpt-4o}\n    text: one two three four five\n    interval_ms: 5\n"
    bodies = [chat(f"Question number {index}") for index in range(50)]
    with serving(upstream_yaml) as upstream, recording(upstream, out) as proxy:
        recorded = await asyncio.gather(*(post(proxy.root_url, "/v1/chat/completions", body) for body in bodies))
    result = load_paths([out])
    assert result.problems == [] and len(result.scenarios) == 50
    assert sorted(scenario.name for scenario in result.scenarios)[:2] == ["question-number-0", "question-number-1"]
    with replaying(out) as replay:
        replayed = await asyncio.gather(*(post(replay.root_url, "/v1/chat/completions", body) for body in bodies))
    for was, now in zip(recorded, replayed, strict=True):
        assert now.comparable() == was.comparable()


def _sse_upstream(chunks: int, size: int) -> Any:
    """A bare upstream streaming `chunks` content chunks of `size` characters, all at once."""
    from aiohttp import web

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        body = event({"role": "assistant", "content": ""}) + event({"content": "x" * size}) * chunks
        await response.write_eof(body + event({}, "stop") + b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    return app


async def test_a_long_stream_is_recorded_at_a_steady_cost_a_chunk(tmp_path: Path) -> None:
    """Each chunk's text was added to one string, copying it all: the cost grew with the square of the stream, and
    every other client of the server waited (12,000 chunks of 2 KB took about a minute; now a few seconds)."""
    out = tmp_path / "recorded.yaml"
    with BackgroundServer(_sse_upstream(12_000, 2000)) as upstream, recording(upstream, out) as proxy:
        started = time.monotonic()
        recorded = await asyncio.wait_for(post(proxy.root_url, "/v1/chat/completions", chat("long")), 60)
        assert len(recorded.events) == 12_003
        await asyncio.sleep(0)
    assert time.monotonic() - started < 20
    assert out.read_text().count("x" * 2000) >= 1


async def test_upstream_header_bytes_a_head_cannot_carry_are_left_out(tmp_path: Path) -> None:
    """aiohttp refuses to write a header or reason with a control character: the relay was a 500 whose body
    began with the answer's chunk framing, after recording a 200 the client never got."""
    body = b'{"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": []}'

    async def raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 Fine\x01Reason\r\nContent-Type: application/json\r\nX-Ctl: a\x01b\x7fc\r\n"
            b"X-Plain: kept\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(raw, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    out = tmp_path / "recorded.yaml"
    recorder = Recorder(out, Redactor(()))
    recorder.open()
    try:
        with BackgroundServer(make_app(Relay(f"http://127.0.0.1:{port}/v1", recorder))) as proxy:
            url = f"{proxy.root_url}/v1/chat/completions"
            async with aiohttp.ClientSession() as session, session.post(url, json=chat("odd head")) as answer:
                assert answer.status == 200 and await answer.read() == body
                assert "X-Ctl" not in answer.headers and answer.headers["X-Plain"] == "kept"
    finally:
        server.close()
        await server.wait_closed()
