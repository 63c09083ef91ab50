"""Scriptable faults, on the wire and as the real openai SDK sees them; chaos; client verdicts."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx2 as httpx
import openai
import pytest
from helpers import USER, Session, problems, sse_payloads
from helpers import chat as plain_chat

from mockserver.engine.ask import Ask
from mockserver.engine.plan import make_plan
from mockserver.scenario.chaos import parse as parse_chaos
from mockserver.scenario.load import BUNDLED, load_paths, load_text
from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app

FAULTS = """
scenarios:
  - name: error-event
    chunks: ["a", "b", {error: {message: "boom", code: oops}}]
  - name: cut
    chunks: ["a", "b", {disconnect: true}]
    interval_ms: 10
  - name: early-end
    chunks: ["a", {end: true}]
  - name: stall
    chunks: ["a", {stall_ms: 300}, "b"]
  - name: raw
    chunks: [{keepalive: true}, "a", {raw: "event: ping\\r\\n", delay_ms: 50}, "b"]
    interval_ms: 100
  - name: slow-headers
    latency_ms: 300
    text: "late"
  - name: slow-error
    latency_ms: 200
    error: {status: 503}
  - name: long-stall
    chunks: ["a", {stall_ms: 5000}, "b"]
  - name: jittery
    chunks: ["a", "b", "c", "d"]
    ttft_ms: 100
    interval_ms: 100
    jitter_ms: 50
  - name: date-retry
    error: {status: 429, retry_after: "Wed, 21 Oct 2015 07:28:00 GMT"}
  - name: ms-retry
    error: {status: 429, retry_after_ms: 250}
  - name: both-retry
    error: {status: 429, retry_after: 2, retry_after_ms: 100}
"""


def chat(model: str, stream: bool = True, **extra: Any) -> dict[str, Any]:
    """A chat request; streams leave out obfuscation, so their bytes can be compared exactly."""
    options = {"stream_options": {"include_obfuscation": False}} if stream else {}
    return plain_chat(model, stream, **options, **extra)


# --- on the wire ------------------------------------------------------------------------------------------


async def test_error_event_mid_stream(client_for: Any) -> None:
    client = await client_for(FAULTS)
    response = await client.post("/v1/chat/completions", json=chat("error-event"))
    assert response.status == 200
    payloads = sse_payloads(await response.read())
    assert [json.loads(p)["choices"][0]["delta"].get("content") for p in payloads[:3]] == ["", "a", "b"]
    assert json.loads(payloads[3]) == {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": "oops"}
    }
    assert payloads[4:] == ["[DONE]"]  # no finish chunk


async def test_disconnect_cuts_the_body(client_for: Any) -> None:
    client = await client_for(FAULTS)
    response = await client.post("/v1/chat/completions", json=chat("cut"))
    assert response.status == 200
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async for data in response.content.iter_any():
            received += data
    assert received.count(b"data: ") == 3  # the role chunk, "a", "b"
    assert b"[DONE]" not in received and b'finish_reason":"stop' not in received


async def test_end_stops_cleanly_without_finish_or_done(client_for: Any) -> None:
    client = await client_for(FAULTS)
    response = await client.post("/v1/chat/completions", json=chat("early-end"))
    body = await response.read()  # no error: the chunked body ended properly
    assert body.count(b"data: ") == 2  # the role chunk and "a"
    assert body.endswith(b"}]}\n\n")
    assert b"[DONE]" not in body


async def test_stall_delays_what_follows(client_for: Any) -> None:
    client = await client_for(FAULTS)
    response = await client.post("/v1/chat/completions", json=chat("stall"))
    await response.content.readline()  # the role chunk
    await response.content.readline()
    assert b'"content":"a"' in await response.content.readline()
    first = time.monotonic()
    await response.read()
    assert time.monotonic() - first >= 0.3 - 0.005  # the stall came after the first chunk


async def test_raw_bytes_and_keepalives_are_sent_verbatim(client_for: Any) -> None:
    client = await client_for(FAULTS)
    body = await (await client.post("/v1/chat/completions", json=chat("raw"))).read()
    assert body.startswith(b": keep-alive\n\ndata: {")
    assert b'"content":"a"},"logprobs":null,"finish_reason":null}]}\n\nevent: ping\r\ndata: {' in body


async def test_latency_delays_the_status_line(client_for: Any) -> None:
    client = await client_for(FAULTS)
    for model, status in (("slow-headers", 200), ("slow-error", 503)):
        started = time.monotonic()
        response = await client.post("/v1/chat/completions", json=chat(model))
        assert response.status == status
        assert time.monotonic() - started >= {200: 0.3, 503: 0.2}[status] - 0.005


async def test_retry_after_forms(client_for: Any) -> None:
    client = await client_for(FAULTS)
    response = await client.post("/v1/chat/completions", json=chat("date-retry"))
    assert response.headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert "retry-after-ms" not in response.headers
    response = await client.post("/v1/chat/completions", json=chat("ms-retry"))
    assert (response.headers["retry-after-ms"], response.headers.get("retry-after")) == ("250", None)
    response = await client.post("/v1/chat/completions", json=chat("both-retry"))
    assert (response.headers["retry-after-ms"], response.headers["retry-after"]) == ("100", "2")


async def test_max_tokens_cuts_before_a_later_fault(client_for: Any) -> None:
    client = await client_for(FAULTS)
    body = await (await client.post("/v1/chat/completions", json=chat("error-event", max_tokens=1))).read()
    payloads = sse_payloads(body)
    assert '"error"' not in "".join(payloads)
    assert json.loads(payloads[-2])["choices"][0]["finish_reason"] == "length"


async def test_faults_on_non_streaming_requests(client_for: Any) -> None:
    client = await client_for(FAULTS)
    response = await client.post("/v1/chat/completions", json=chat("error-event", stream=False))
    assert response.status == 500
    assert (await response.json())["error"] == {
        "message": "boom",
        "type": "server_error",
        "param": None,
        "code": "oops",
    }
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post("/v1/chat/completions", json=chat("cut", stream=False))
    response = await client.post("/v1/chat/completions", json=chat("early-end", stream=False))
    assert (await response.json())["choices"][0]["message"]["content"] == "a"


def test_jitter_is_seeded_per_request() -> None:
    (answer,) = next(s for s in load_text(FAULTS).scenarios if s.name == "jittery").steps
    ask = Ask(model="m", last_user="", prompt_tokens=1, stream=True)

    def times(seed: str) -> list[float]:
        return [event[0] for event in make_plan(answer, ask, 1.0, random.Random(seed)).events]

    assert times("a") == times("a")  # the same draw, the same schedule
    assert times("a") != times("b")
    for got in (times("a"), times("b")):
        base = [0.1, 0.2, 0.3, 0.4]
        assert all(abs(t - b) <= 0.05 * (i + 1) + 1e-9 for i, (t, b) in enumerate(zip(got, base, strict=True)))


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ('["a", {disconnect: true}, "b"]', "chunk 3 of scenario 's' comes after 'disconnect', which ends the stream"),
        ("[{stall_ms: 5, delay_ms: 5}]", "a stall is a delay already; give 'stall_ms' alone"),
        ("[{end: false}]", "'end' in chunk 1 of scenario 's' must be true, got False"),
        ("[{raw: ''}]", "'raw' in chunk 1 of scenario 's' must be non-empty text"),
        (
            '[{content: a, raw: "x"}]',
            "chunk 1 of scenario 's' needs exactly one of content, reasoning, refusal, tool_call, arguments, error, disconnect, close, end, stall_ms, raw, keepalive; it has 'content' and 'raw'",
        ),
        (
            "[{error: {mesage: x}}]",
            "unknown key 'mesage' in 'error' in chunk 1 of scenario 's'; did you mean 'message'?",
        ),
    ],
)
def test_fault_items_are_validated(chunks: str, message: str) -> None:
    found = problems(f"scenarios:\n  - name: s\n    chunks: {chunks}\n")
    assert len(found) == 1 and message in found[0], found


def test_chaos_blocks_are_validated() -> None:
    assert problems("scenarios:\n  - name: s\n    text: x\n    chaos: {rate_limt: 0.5}\n") == [
        "s.yaml:4: unknown chaos key 'rate_limt'; did you mean 'rate_limit'? (scenario 's')"
    ]
    (found,) = problems("scenarios:\n  - name: s\n    text: x\n    chaos: {rate_limit: 0.7, stall: 0.7}\n")
    assert "add up to 1.4" in found


def test_bundled_fault_catalogue() -> None:
    names = {s.name for s in load_paths([BUNDLED]).scenarios}
    for status in (400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503):
        assert f"error-{status}" in names
    for name in ("fault-error-event", "fault-disconnect", "fault-end", "fault-stall", "fault-latency",
                 "fault-malformed-json", "error-429-quota", "error-429-no-retry", "quirk-usage-without-choices",
                 "quirk-no-done", "quirk-crlf", "quirk-keepalive", "quirk-split-line"):  # fmt: skip
        assert name in names


# --- with the real openai SDK -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(make_app(BUNDLED, FAULTS)) as running:
        yield running


def new_session(server: BackgroundServer) -> tuple[Session, str]:
    """A session of its own on the shared server, and its base URL."""
    session = Session(server.root_url)
    return session, session.base_url


def sdk(base_url: str, timeout: float = 30.0, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="x", timeout=httpx.Timeout(timeout, connect=5.0), **options)


def consume(stream: Any) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_sdk_mid_stream_error_raises_api_error_and_is_not_retried(server: BackgroundServer) -> None:
    session, url = new_session(server)
    with pytest.raises(openai.APIError) as caught:
        consume(sdk(url).chat.completions.create(model="fault-error-event", messages=USER, stream=True))
    assert not isinstance(caught.value, openai.APIStatusError)
    assert getattr(caught.value, "status_code", None) is None
    assert caught.value.type == "server_error"
    (entry,) = session.journal()
    assert (entry["status"], entry["ended"], entry["fault"]) == (200, "fault", "error")


def test_sdk_disconnect_raises_a_connection_error(server: BackgroundServer) -> None:
    session, url = new_session(server)
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        consume(sdk(url).chat.completions.create(model="fault-disconnect", messages=USER, stream=True))
    (entry,) = session.journal()
    assert (entry["ended"], entry["fault"], entry["chunks"]) == ("fault", "disconnect", 4)  # role + 3 contents


def test_sdk_stall_beyond_the_read_timeout_times_out(server: BackgroundServer) -> None:
    session, url = new_session(server)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        consume(sdk(url, timeout=0.5).chat.completions.create(model="fault-stall", messages=USER, stream=True))
    assert time.monotonic() - started < 5
    (entry,) = session.journal()  # a timeout after the headers is never retried
    assert entry["fault"] == "stall"


def test_sdk_retries_a_timeout_before_the_headers(server: BackgroundServer) -> None:
    session, url = new_session(server)
    with pytest.raises(openai.APITimeoutError):
        sdk(url, timeout=0.1).chat.completions.create(model="slow-headers", messages=USER, stream=True)
    entries = session.ended_journal()  # the server notices each disconnect a moment later
    assert [(e["retry_count"], e["status"], e["ended"]) for e in entries] == [
        (0, None, "client disconnected"),
        (1, None, "client disconnected"),
        (2, None, "client disconnected"),
    ]


def test_sdk_obeys_x_should_retry_false(server: BackgroundServer) -> None:
    session, url = new_session(server)
    with pytest.raises(openai.RateLimitError):
        sdk(url).chat.completions.create(model="error-429-no-retry", messages=USER)
    (entry,) = session.journal()
    assert entry["should_retry"] is False


def test_sdk_honours_retry_after(server: BackgroundServer) -> None:
    session, url = new_session(server)
    with pytest.raises(openai.RateLimitError):
        sdk(url).chat.completions.create(model="error-429", messages=USER, stream=True)
    entries = session.journal()
    assert len(entries) == 3
    for previous, retry in itertools.pairwise(entries):
        assert previous["retry_after"] == 0.5
        assert retry["time"] - (previous["time"] + previous["duration_ms"] / 1000) >= 0.5 - 0.01


async def test_async_sdk_sees_the_same_faults(server: BackgroundServer) -> None:
    _, url = new_session(server)
    client = openai.AsyncOpenAI(base_url=url, api_key="x", timeout=httpx.Timeout(0.5, connect=5.0), max_retries=0)
    with pytest.raises(openai.APIError) as caught:
        async for _ in await client.chat.completions.create(model="fault-error-event", messages=USER, stream=True):
            pass
    assert getattr(caught.value, "status_code", None) is None
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        async for _ in await client.chat.completions.create(model="fault-disconnect", messages=USER, stream=True):
            pass
    with pytest.raises(openai.APITimeoutError):
        async for _ in await client.chat.completions.create(model="fault-stall", messages=USER, stream=True):
            pass
    await client.close()


# --- chaos ------------------------------------------------------------------------------------------------


def chaos_run(seed: int) -> list[tuple[Any, ...]]:
    from mockserver import Settings, create_app
    from mockserver.scenario.chaos import parse

    settings = Settings(
        speed=0, seed=seed, chaos=parse("rate_limit=0.1,server_error=0.05,disconnect=0.05,stall=0.05,stall_ms=1")
    )
    app = create_app(load_text("scenarios:\n  - {name: default, text: one two three four five}\n").scenarios, settings)
    with BackgroundServer(app) as running:
        url = f"{running.root_url}/v1/chat/completions"
        for _ in range(200):
            body = json.dumps(chat("m")).encode()
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with contextlib.suppress(Exception):  # the faults are the point
                urllib.request.urlopen(request, timeout=10).read()
        with urllib.request.urlopen(f"{running.root_url}/_mock/requests", timeout=10) as response:
            entries = json.loads(response.read())["requests"]
    return [(e["id"], e["status"], e["chaos"], e["fault"], e["chunks"]) for e in entries]


def test_a_seeded_chaos_run_repeats_exactly() -> None:
    first, second = chaos_run(7), chaos_run(7)
    assert first == second
    kinds = [entry[2] for entry in first]
    assert len(first) == 200
    for kind in ("rate_limit", "server_error", "disconnect", "stall", None):
        assert kind in kinds
    assert [e[1] for e in first if e[2] == "rate_limit"] == [429] * kinds.count("rate_limit")
    assert chaos_run(8) != first


async def test_chaos_can_be_read_and_changed_at_run_time(client_for: Any) -> None:
    client = await client_for("scenarios:\n  - {name: default, text: x}\n")
    assert (await (await client.get("/_mock/chaos")).json())["rates"]["rate_limit"] == 0.0
    response = await client.post("/_mock/chaos", data="rate_limit=1")
    assert (await response.json())["rates"]["rate_limit"] == 1.0
    assert (await client.post("/v1/chat/completions", json=chat("m"))).status == 429
    response = await client.post("/_mock/chaos", json={"rate_limt": 1})
    assert response.status == 400
    assert "did you mean 'rate_limit'" in (await response.json())["error"]["message"]
    await client.post("/_mock/chaos", json={})
    assert (await client.post("/v1/chat/completions", json=chat("m"))).status == 200


# --- verdicts ---------------------------------------------------------------------------------------------


def naive_retry_loop(url: str, model: str, attempts: int = 3) -> None:
    """A hand-written client that retries at once, whatever the answer says."""
    body = json.dumps({"model": model, "messages": USER, "stream": True}).encode()
    for _ in range(attempts):
        request = urllib.request.Request(
            url + "/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            urllib.request.urlopen(request, timeout=10).read()
            return
        except Exception:  # a bad client, on purpose
            continue


def test_verdicts_flag_a_bad_client(server: BackgroundServer) -> None:
    rules = {}
    for model in ("error-429", "error-400", "error-429-no-retry", "fault-disconnect"):
        session, url = new_session(server)
        naive_retry_loop(url, model)
        findings = session.control("verdicts")["findings"]
        rules[model] = {finding["rule"] for finding in findings}
        assert all(finding["message"].endswith(".") for finding in findings)
    assert rules == {
        "error-429": {"retry_too_soon"},
        "error-400": {"retried_not_retryable"},
        "error-429-no-retry": {"retried_against_advice"},
        "fault-disconnect": {"repeated_after_stream_fault"},
    }
    session, url = new_session(server)
    naive_retry_loop(url, "rate-limit-recovers", attempts=2)  # gives up one attempt short, and too soon
    findings = {finding["rule"]: finding["message"] for finding in session.control("verdicts")["findings"]}
    assert set(findings) == {"retry_too_soon", "gave_up_early"}
    assert "step 3" in findings["gave_up_early"]


def test_verdicts_pass_the_openai_sdk(server: BackgroundServer) -> None:
    session, url = new_session(server)
    client = sdk(url)
    assert consume(client.chat.completions.create(model="rate-limit-recovers", messages=USER, stream=True))
    for model in ("error-429", "error-400", "error-429-no-retry"):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model=model, messages=USER)
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        consume(client.chat.completions.create(model="fault-disconnect", messages=USER, stream=True))
    result = session.control("verdicts")
    assert result["findings"] == []
    assert result["clean"] is True
    assert (result["requests"], result["calls"]) == (3 + 3 + 1 + 1 + 1, 5)


def test_sitting_through_a_long_stall_is_a_finding(server: BackgroundServer) -> None:
    session, url = new_session(server)
    consume(sdk(url, timeout=30).chat.completions.create(model="long-stall", messages=USER, stream=True))
    (finding,) = session.control("verdicts")["findings"]
    assert finding["rule"] == "sat_through_stall"
    assert "5 s stall" in finding["message"]


async def test_chaos_reaches_every_choice(client_for: Any) -> None:
    client = await client_for(
        "scenarios:\n  - {name: default, choices: [{text: one two three}, {text: four five six}]}\n",
        chaos=parse_chaos("disconnect=1"),
    )
    response = await client.post("/v1/chat/completions", json=chat("m", n=2))
    body = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async for data in response.content.iter_any():
            body += data
    assert b"[DONE]" not in body and b'"finish_reason":"stop"' not in body
    (entry,) = (await (await client.get("/_mock/requests")).json())["requests"]
    assert (entry["chaos"], entry["fault"], entry["ended"]) == ("disconnect", "disconnect", "fault")


async def test_an_empty_chaos_block_turns_the_servers_chaos_off(client_for: Any) -> None:
    client = await client_for(
        "scenarios:\n  - {name: calm, text: x, chaos: {}}\n  - {name: default, text: y}\n",
        chaos=parse_chaos("rate_limit=1"),
    )
    assert (await client.post("/v1/chat/completions", json=chat("calm"))).status == 200
    assert (await client.post("/v1/chat/completions", json=chat("other"))).status == 429


async def test_a_stall_cut_off_by_max_tokens_is_not_journaled(client_for: Any) -> None:
    client = await client_for(FAULTS)
    body = await (await client.post("/v1/chat/completions", json=chat("long-stall", max_tokens=1))).read()
    assert b'"finish_reason":"length"' in body
    (entry,) = (await (await client.get("/_mock/requests")).json())["requests"]
    assert (entry["fault"], entry["stall_ms"], entry["ended"]) == (None, None, "completed")
