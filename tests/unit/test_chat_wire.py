"""The Chat Completions wire format, byte by byte, through the aiohttp app."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from helpers import chat, sse_chunks, sse_payloads, validate_openapi, validate_sdk
from openai.types.chat import ChatCompletion, ChatCompletionChunk

SCENARIOS = """
scenarios:
  - name: two
    chunks: ["Hi", " there"]
  - name: worm
    chunks: ["a worm", " digs deep", "!"]
  - name: text
    text: "Hello, world."
  - name: empty
    chunks: []
  - name: filtered
    text: "partial answer"
    finish_reason: content_filter
  - name: cut
    text: "cut short"
    finish_reason: length
  - name: renamed
    text: "x"
    model: gpt-4o-2024-08-06
  - name: counted
    text: "one two three four"
    usage: {prompt_tokens: 100, completion_tokens: 50}
  - name: paced
    chunks: ["a", "b", "c", "d", "e"]
    ttft_ms: 100
    interval_ms: 50
  - name: late
    chunks: ["x"]
    ttft_ms: 1500
"""


async def post(client: Any, body: dict[str, Any], **headers: str) -> tuple[Any, bytes]:
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    return response, await response.read()


async def test_stream_framing_byte_by_byte(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    response, body = await post(client, chat("two", stream_options={"include_obfuscation": False}))
    assert response.status == 200
    id_, created = re.search(
        rb'"id":"(chatcmpl-[0-9A-Za-z]{29})","object":"chat.completion.chunk","created":(\d+)', body
    ).groups()
    assert abs(int(created) - time.time()) < 60
    fp = re.search(rb'"system_fingerprint":"(fp_[0-9a-f]{10})"', body).group(1)
    head = (
        b'data: {"id":"' + id_ + b'","object":"chat.completion.chunk","created":' + created + b',"model":"two",'
        b'"service_tier":"default","system_fingerprint":"' + fp + b'","choices":['
    )
    assert body == (
        head
        + b'{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}\n\n'
        + head
        + b'{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}\n\n'
        + head
        + b'{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null}]}\n\n'
        + head
        + b'{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )


async def test_obfuscation_pads_every_chunk_by_default(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, body = await post(client, chat("worm", stream_options={"include_usage": True}))
    chunks = sse_chunks(body)
    for line in body.split(b"\n\n")[:-2]:
        assert re.search(rb',"obfuscation":"[0-9A-Za-z]{0,15}"}$', line), line
    assert all(list(chunk)[-1] == "obfuscation" for chunk in chunks)
    assert len({chunk["obfuscation"] for chunk in chunks}) > 2
    _, again = await post(client, chat("worm", stream_options={"include_usage": True}))
    assert [c["obfuscation"] for c in sse_chunks(again)] == [
        c["obfuscation"] for c in chunks
    ]  # same script, same bytes
    _, plain = await post(client, chat("worm", stream_options={"include_obfuscation": False}))
    assert b"obfuscation" not in plain


async def test_obfuscation_can_be_off_by_default(client_for: Any) -> None:
    client = await client_for(SCENARIOS, obfuscation=False)
    _, body = await post(client, chat("worm"))
    assert b"obfuscation" not in body
    _, body = await post(client, chat("worm", stream_options={"include_obfuscation": True}))
    assert b"obfuscation" in body


async def test_stream_headers(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    response, _ = await post(client, chat("two"))
    headers = response.headers
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
    assert headers["openai-version"] == "2020-10-01"
    assert int(headers["openai-processing-ms"]) >= 1
    assert headers["x-ratelimit-remaining-requests"] == "9999"
    for name in ("limit-requests", "limit-tokens", "remaining-tokens", "reset-requests", "reset-tokens"):
        assert f"x-ratelimit-{name}" in headers
    assert "Content-Length" not in headers
    assert headers.get("Content-Encoding") is None


async def test_chunk_order_and_shared_fields_with_usage(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, body = await post(client, chat("worm", stream_options={"include_usage": True}))
    chunks = sse_chunks(body)
    role, *contents, finish, usage = chunks
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert [c["choices"][0]["delta"] for c in contents] == [
        {"content": "a worm"},
        {"content": " digs deep"},
        {"content": "!"},
    ]
    assert finish["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]
    assert usage["choices"] == []
    assert usage["usage"] == {
        "prompt_tokens": 8,  # 3 + 3 per message + "user" + "hi"
        "completion_tokens": 5,  # "a worm" is 2 tokens, " digs deep" 2, "!" 1
        "total_tokens": 13,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    for chunk in chunks:
        assert list(chunk) == [
            "id",
            "object",
            "created",
            "model",
            "service_tier",
            "system_fingerprint",
            "choices",
            "usage",
            "obfuscation",
        ]
        assert (chunk["id"], chunk["created"], chunk["system_fingerprint"]) == (
            role["id"],
            role["created"],
            role["system_fingerprint"],
        )
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "worm"
        for choice in chunk["choices"]:
            assert list(choice) == ["index", "delta", "logprobs", "finish_reason"]
        if chunk is not usage:
            assert chunk["usage"] is None
        validate_sdk(ChatCompletionChunk, chunk)


async def test_no_usage_key_unless_asked(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    for extra in ({}, {"stream_options": {"include_usage": False}}, {"stream_options": {}}):
        _, body = await post(client, chat("worm", **extra))
        chunks = sse_chunks(body)
        assert all("usage" not in chunk for chunk in chunks)
        assert all(chunk["choices"] for chunk in chunks)


async def test_text_streams_as_token_pieces(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, body = await post(client, chat("text"))
    deltas = [c["choices"][0]["delta"].get("content") for c in sse_chunks(body)[1:-1]]
    assert deltas == ["Hello", ",", " world", "."]


async def test_empty_answer(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, body = await post(client, chat("empty", stream_options={"include_usage": True}))
    _role, finish, usage = sse_chunks(body)
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert usage["usage"]["completion_tokens"] == 0


async def test_an_empty_answer_still_waits_its_time_to_first_token(client_for: Any) -> None:
    client = await client_for("scenarios:\n  - {name: quiet, text: '', ttft_ms: 200}\n")
    for stream in (True, False):
        started = time.monotonic()
        response, _ = await post(client, chat("quiet", stream=stream))
        assert response.status == 200
        assert time.monotonic() - started >= 0.2 - 0.005


async def test_scripted_finish_reasons(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    for name, reason in (("two", "stop"), ("filtered", "content_filter"), ("cut", "length")):
        _, body = await post(client, chat(name))
        assert sse_chunks(body)[-1]["choices"][0]["finish_reason"] == reason


async def test_non_streaming_completion(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    for stream in (False, None):
        body = chat("worm")
        if stream is None:
            del body["stream"]
        else:
            body["stream"] = stream
        response, raw = await post(client, body)
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        data = json.loads(raw)
        assert re.fullmatch(r"chatcmpl-[0-9A-Za-z]{29}", data["id"])
        assert data["object"] == "chat.completion"
        assert data["choices"] == [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "a worm digs deep!", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ]
        assert data["usage"]["completion_tokens"] == 5
        assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + 5
        assert data["service_tier"] == "default"
        assert data["system_fingerprint"].startswith("fp_")
        validate_sdk(ChatCompletion, data)
        validate_openapi("CreateChatCompletionResponse", data)


async def test_chunks_validate_against_the_openapi_document(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, body = await post(client, chat("worm", stream_options={"include_usage": True}))
    for chunk in sse_chunks(body):
        validate_openapi("CreateChatCompletionStreamResponse", chunk)


async def test_max_tokens_cuts_inside_a_chunk(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, body = await post(client, chat("worm", max_tokens=3, stream_options={"include_usage": True}))
    chunks = sse_chunks(body)
    assert [c["choices"][0]["delta"] for c in chunks[1:-2]] == [{"content": "a worm"}, {"content": " digs"}]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 3

    _response, raw = await post(client, chat("worm", stream=False, max_completion_tokens=2))
    data = json.loads(raw)
    assert data["choices"][0]["message"]["content"] == "a worm"
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 2


async def test_max_tokens_zero_and_large(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, raw = await post(client, chat("worm", stream=False, max_tokens=0))
    data = json.loads(raw)
    assert (data["choices"][0]["message"]["content"], data["choices"][0]["finish_reason"]) == ("", "length")
    _, raw = await post(client, chat("worm", stream=False, max_tokens=5))
    assert json.loads(raw)["choices"][0]["finish_reason"] == "stop"  # exactly enough room


async def test_usage_override_wins_over_truncation(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, raw = await post(client, chat("counted", stream=False, max_tokens=2))
    data = json.loads(raw)
    assert data["choices"][0]["message"]["content"] == "one two"
    assert data["usage"]["prompt_tokens"] == 100
    assert data["usage"]["completion_tokens"] == 50
    assert data["usage"]["total_tokens"] == 150


async def test_model_override_and_default(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, body = await post(client, chat("renamed"))
    assert {c["model"] for c in sse_chunks(body)} == {"gpt-4o-2024-08-06"}
    _, body = await post(client, chat("two"))
    assert {c["model"] for c in sse_chunks(body)} == {"two"}


async def test_n_choices_are_interleaved(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    _, body = await post(client, chat("two", n=2, stream_options={"include_usage": True}))
    chunks = sse_chunks(body)
    indexed = [
        (c["choices"][0]["index"], c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks[:-1]
    ]
    assert indexed == [
        (0, {"role": "assistant", "content": "", "refusal": None}, None),
        (0, {"content": "Hi"}, None),
        (1, {"role": "assistant", "content": "", "refusal": None}, None),
        (1, {"content": "Hi"}, None),
        (0, {"content": " there"}, None),
        (1, {"content": " there"}, None),
        (0, {}, "stop"),
        (1, {}, "stop"),
    ]
    assert chunks[-1]["usage"]["completion_tokens"] == 4


async def test_delays_follow_the_script(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=chat("paced"))
    arrivals = []
    async for line in response.content:
        if line.startswith(b"data: {") and b'"content":"' in line and b'"content":""' not in line:
            arrivals.append(time.monotonic() - started)
    # content i is due at 100 + 50*i ms: never early, late only by scheduling noise
    assert len(arrivals) == 5
    for index, arrived in enumerate(arrivals):
        assert arrived >= (100 + 50 * index) / 1000 - 0.005
    assert arrivals[-1] < 2.0


async def test_status_and_headers_do_not_wait_for_the_first_chunk(client_for: Any) -> None:
    """A client timeout after the headers is not retried by the SDKs, so ttft_ms must come after them."""
    client = await client_for(SCENARIOS)
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=chat("late"))
    assert response.status == 200
    assert time.monotonic() - started < 1.4  # well before the first chunk, due at 1.5 s
    first = await response.content.readline()
    assert time.monotonic() - started >= 1.5 - 0.005
    assert b'"role":"assistant"' in first and b'"content":"x"' in await response.content.read()


async def test_speed_scales_delays(client_for: Any) -> None:
    fast = await client_for(SCENARIOS, speed=0)
    started = time.monotonic()
    _, body = await post(fast, chat("paced"))
    assert time.monotonic() - started < 2.0  # no delays at all (loose: a busy machine is slow)
    assert len(sse_payloads(body)) == 8
    double = await client_for(SCENARIOS, speed=2)
    started = time.monotonic()
    await post(double, chat("paced"))
    assert time.monotonic() - started >= 0.15 - 0.005  # (100 + 4 * 50) / 2 ms


async def test_non_streaming_answer_waits_for_the_whole_script(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    started = time.monotonic()
    response, _ = await post(client, chat("paced", stream=False))
    assert response.status == 200
    assert time.monotonic() - started >= 0.3 - 0.005


async def test_client_disconnect_ends_the_stream_quietly(client_for: Any, caplog: Any) -> None:
    client = await client_for(SCENARIOS)
    caplog.set_level("INFO", logger="mockserver")
    response = await client.post("/v1/chat/completions", json=chat("paced"))
    await response.content.readline()
    response.close()
    await asyncio.sleep(0.4)
    # the server goes on serving, and says how that stream ended
    response, _body = await post(client, chat("two"))
    assert response.status == 200
    assert any("scenario=paced" in r.getMessage() and "client disconnected" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= 40]


async def test_same_requests_give_the_same_bytes(aiohttp_client: Any) -> None:
    from helpers import app_from_yaml

    bodies = []
    for _ in range(2):
        client = await aiohttp_client(app_from_yaml(SCENARIOS, speed=0))
        _, first = await post(client, chat("worm"))
        _, second = await post(client, chat("text", n=2))
        bodies.append(re.sub(rb'"created":\d+', b"", first + second))
    assert bodies[0] == bodies[1]
