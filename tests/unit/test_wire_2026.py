"""Wire details as recorded in 2026: failures inside a 200 stream in the shape the SDKs raise on, on Responses and
chat, and as HTTP errors when the request does not stream; chat's refusal-with-logprobs role chunk and echoed
service tier; the headers of /v1/models and of 400s."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from helpers import chat, problems, sse_chunks

from mockserver.scenario.load import BUNDLED
from mockserver.testing import make_app

QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
FRAME = re.compile(rb"event: ([a-z_.]+)\ndata: ([^\n]*)\n\n")
# The bundled failures inside a stream: (scenario, the error object the Responses stream nests, the status a
# request that does not stream gets).
FAILURES = [
    (
        "fault-stream-quota",
        {"type": "insufficient_quota", "code": "insufficient_quota", "message": QUOTA_MESSAGE, "param": None},
        429,
    ),
    (
        "fault-stream-rate-limit",
        {
            "type": "tokens",
            "code": "rate_limit_exceeded",
            "message": "Rate limit reached for fault-stream-rate-limit in organization org-mockserver on tokens per "
            "min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 1s. "
            "Visit https://platform.openai.com/account/rate-limits to learn more.",
            "param": None,
        },
        429,
    ),
    (
        "fault-stream-overloaded",
        {
            "type": "service_unavailable_error",
            "code": "server_is_overloaded",
            "message": "Our servers are currently overloaded. Please try again later.",
            "param": None,
        },
        503,
    ),
    (
        "fault-stream-context-length",
        {
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
            "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
            "param": "input",
        },
        400,
    ),
]


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    return await aiohttp_client(make_app(BUNDLED, speed=0))


def events(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(match.group(2)) for match in FRAME.finditer(body)]


@pytest.mark.parametrize(("model", "error", "status"), FAILURES, ids=[failure[0] for failure in FAILURES])
async def test_a_failure_inside_a_responses_stream(client: Any, model: str, error: dict[str, Any], status: int) -> None:
    response = await client.post("/v1/responses", json={"model": model, "input": "hi", "stream": True})
    assert response.status == 200
    found = events(await response.read())
    failure, failed = found[-2:]
    assert failure == {"type": "error", "sequence_number": len(found) - 2, "error": error}
    assert list(failure) == ["type", "sequence_number", "error"] and list(failure["error"]) == list(error)
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"] == {"code": error["code"], "message": error["message"]}
    assert (failed["response"]["status"], failed["response"]["usage"], failed["response"]["service_tier"]) == (
        "failed", None, "auto"
    )  # fmt: skip
    whole = await client.post("/v1/responses", json={"model": model, "input": "hi"})
    assert whole.status == status
    assert (await whole.json())["error"]["code"] == error["code"]


async def test_a_failure_inside_a_chat_stream(client: Any) -> None:
    response = await client.post("/v1/chat/completions", json=chat("fault-stream-quota"))
    body = await response.read()
    assert response.status == 200 and body.endswith(b"data: [DONE]\n\n")
    assert sse_chunks(body)[-1] == {
        "error": {"message": QUOTA_MESSAGE, "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}
    }
    whole = await client.post("/v1/chat/completions", json=chat("fault-stream-quota", stream=False))
    assert (whole.status, (await whole.json())["error"]["type"]) == (429, "insufficient_quota")


async def test_the_flat_error_event_stays_behind_standalone(client_for: Any) -> None:
    client = await client_for(
        "scenarios:\n  - {name: flat, chunks: [a, {error: {status: 503}, standalone: true}]}\n", speed=0
    )
    body = await (await client.post("/v1/responses", json={"model": "flat", "input": "hi", "stream": True})).read()
    *_, last = events(body)
    assert last == {
        "type": "error",
        "code": "server_is_overloaded",
        "message": "Our servers are currently overloaded. Please try again later.",
        "param": None,
        "sequence_number": last["sequence_number"],
    }


async def test_chaos_error_events_fail_responses_as_the_real_api_does(client_for: Any) -> None:
    client = await client_for("scenarios:\n  - {name: c, text: Hello there., chaos: {error_event: 1}}\n", speed=0)
    body = await (await client.post("/v1/responses", json={"model": "c", "input": "hi", "stream": True})).read()
    assert [event["type"] for event in events(body)][-2:] == ["error", "response.failed"]
    assert events(body)[-2]["error"]["type"] == "server_error"


def test_a_stream_error_with_a_status_is_checked() -> None:
    assert problems("scenarios:\n  - {name: s, chunks: [{error: {status: 700}}]}\n") == [
        "s.yaml:2: 'status' in chunk 1 of scenario 's' must be an HTTP error status 400-599, got 700"
    ]
    assert problems("scenarios:\n  - {name: s, chunks: [{error: {status: 429, retry_after: 1}}]}\n") == [
        "s.yaml:2: unknown key 'retry_after' in 'error' in chunk 1 of scenario 's'; expected one of: status, "
        "message, type, code, param"
    ]


async def test_chat_refusal_with_logprobs_opens_the_refusal_list(client: Any) -> None:
    chunks = sse_chunks(await (await client.post("/v1/chat/completions", json=chat("refusal", logprobs=True))).read())
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None, "refusal": ""}
    assert chunks[0]["choices"][0]["logprobs"] == {"content": None, "refusal": []}
    assert chunks[1]["choices"][0]["logprobs"]["content"] is None and chunks[1]["choices"][0]["logprobs"]["refusal"]


@pytest.mark.parametrize(
    ("asked", "reported"),
    [(None, "default"), ("auto", "default"), ("default", "default"), ("flex", "flex"), ("priority", "priority"),
     ("fast", "priority")],
)  # fmt: skip
async def test_chat_echoes_the_service_tier(client: Any, asked: str | None, reported: str) -> None:
    extra = {"service_tier": asked} if asked else {}
    chunks = sse_chunks(await (await client.post("/v1/chat/completions", json=chat("default", **extra))).read())
    assert {chunk["service_tier"] for chunk in chunks} == {reported}
    whole = await (await client.post("/v1/chat/completions", json=chat("default", stream=False, **extra))).json()
    assert whole["service_tier"] == reported


async def test_responses_report_the_tier_once_done(client: Any) -> None:
    body = await (
        await client.post(
            "/v1/responses", json={"model": "default", "input": "hi", "stream": True, "service_tier": "flex"}
        )
    ).read()
    found = events(body)
    assert (found[0]["response"]["service_tier"], found[-1]["response"]["service_tier"]) == ("flex", "flex")


async def test_models_and_400s_carry_the_usual_headers(client: Any) -> None:
    for path in ("/v1/models", "/v1/models/default"):
        response = await client.get(path)
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
        assert response.headers["openai-version"] == "2020-10-01" and int(response.headers["openai-processing-ms"]) >= 1
    refused = await client.post("/v1/chat/completions", json={"messages": []})
    assert refused.status == 400
    assert refused.headers["x-ratelimit-limit-requests"] == "10000"
    assert refused.headers["x-ratelimit-remaining-requests"] == "10000"  # a refused request uses nothing


async def test_hidden_reasoning_before_a_tool_call_leaves_the_role_in_the_call(client_for: Any) -> None:
    """The first chunk sent is the call's header, so the role travels in it, as when nothing comes before."""
    client = await client_for(
        "scenarios:\n  - {name: t, reasoning: Look it up., tool_calls: [{name: f, arguments: {a: 1}}]}\n", speed=0
    )
    chunks = sse_chunks(await (await client.post("/v1/chat/completions", json=chat("t"))).read())
    first = chunks[0]["choices"][0]["delta"]
    assert (first["role"], first["content"], first["tool_calls"][0]["function"]["name"]) == ("assistant", None, "f")
    assert not any("reasoning_content" in chunk["choices"][0]["delta"] for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
