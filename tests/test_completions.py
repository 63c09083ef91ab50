"""Legacy completions (`/v1/completions`) and the model list (`/v1/models`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from helpers import completion, sse_chunks, validate_openapi, validate_sdk
from openai.types import Completion, Model

from mockserver.scenario.load import BUNDLED
from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app

EXTRA = """
scenarios:
  - {name: short, chunks: ["Hello", " there", "!"]}
  - {name: broken, chunks: ["Hello", {error: {message: boom}}]}
  - {name: minis, match: {model: gpt-4o-mini}, text: x}
  - {name: globbed, match: {model: "gpt-5*"}, text: x}
"""


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    return await aiohttp_client(make_app(BUNDLED, EXTRA, speed=0))


async def test_stream_framing_and_fields(client: Any) -> None:
    response = await client.post("/v1/completions", json=completion("short"))
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache, must-revalidate"
    body = await response.read()
    assert b"obfuscation" not in body and b"system_fingerprint" not in body
    first = body.split(b"\n\n")[0]
    assert re.fullmatch(
        rb'data: \{"id":"cmpl-[0-9A-Za-z]{29}","object":"text_completion","created":\d+,"choices":\[\{"text":"Hello",'
        rb'"index":0,"logprobs":null,"finish_reason":null\}\],"model":"short"\}',
        first,
    )
    chunks = sse_chunks(body)
    assert [c["choices"][0]["text"] for c in chunks] == ["Hello", " there", "!"]
    # the finish reason rides on the last text chunk; there is no empty finish chunk
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, "stop"]
    assert len({c["id"] for c in chunks}) == 1
    # Mid-stream chunks carry finish_reason null, which neither the SDK's model nor the OpenAPI document admit
    # (the SDK builds them unchecked); the last one is checked in full.
    validate_sdk(Completion, chunks[-1])
    validate_openapi("CreateCompletionResponse", chunks[-1])


async def test_usage_chunk_when_asked(client: Any) -> None:
    response = await client.post("/v1/completions", json=completion("short", stream_options={"include_usage": True}))
    chunks = sse_chunks(await response.read())
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert list(chunks[-1]) == ["id", "object", "created", "model", "usage", "choices"]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


async def test_max_tokens_defaults_to_16_as_in_the_real_api(client: Any) -> None:
    data = await (await client.post("/v1/completions", json=completion("finish-length", stream=False))).json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 16
    data = await (await client.post("/v1/completions", json=completion("short", stream=False, max_tokens=2))).json()
    assert (data["choices"][0]["text"], data["choices"][0]["finish_reason"]) == ("Hello there", "length")
    validate_sdk(Completion, data)
    validate_openapi("CreateCompletionResponse", data)


async def test_echo_logprobs_and_several_prompts(client: Any) -> None:
    body = completion("short", stream=False, prompt=["A:", "B:"], n=2, echo=True, logprobs=2)
    data = await (await client.post("/v1/completions", json=body)).json()
    assert [(c["index"], c["text"]) for c in data["choices"]] == [
        (0, "A:Hello there!"),
        (1, "A:Hello there!"),
        (2, "B:Hello there!"),
        (3, "B:Hello there!"),
    ]
    logprobs = data["choices"][0]["logprobs"]
    assert logprobs["tokens"] == ["Hello", " there", "!"]
    assert logprobs["text_offset"] == [2, 7, 13]
    assert all(len(top) == 2 for top in logprobs["top_logprobs"])
    validate_sdk(Completion, data)


async def test_text_only_scenarios_and_faults(client: Any) -> None:
    data = await (await client.post("/v1/completions", json=completion("reasoning", stream=False))).json()
    assert data["choices"][0]["text"] == "6 × 7 = 42."  # the reasoning has no place here
    body = await (await client.post("/v1/completions", json=completion("broken"))).read()
    assert body.endswith(
        b'data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}\n\ndata: [DONE]\n\n'
    )


async def test_bad_requests(client: Any) -> None:
    response = await client.post("/v1/completions", json={"model": "short"})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "missing_required_parameter"
    response = await client.post("/v1/completions", json=completion("short", logprobs=9))
    assert (await response.json())["error"]["code"] == "integer_above_max_value"


async def test_models(client: Any) -> None:
    data = await (await client.get("/v1/models")).json()
    ids = [model["id"] for model in data["data"]]
    assert data["object"] == "list"
    assert ids[:4] == ["agent-follow-up", "agent-call-tools", "agent-structured-answer", "agent-answer"]  # load order
    assert ids.index("default") < ids.index("haiku")
    assert "gpt-4o-mini" in ids  # named by a match rule
    assert not [i for i in ids if "*" in i]  # globs are not model names
    for model in data["data"]:
        validate_sdk(Model, model)
    assert (await (await client.get("/v1/models/tool-call")).json())["id"] == "tool-call"
    response = await client.get("/v1/models/nope")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "model_not_found"
    await client.post("/_mock/scenarios?session=s1", data="name: only-in-s1\ntext: x\n")
    ids = [m["id"] for m in (await (await client.get("/session/s1/v1/models")).json())["data"]]
    assert "only-in-s1" in ids
    assert "only-in-s1" not in [m["id"] for m in (await (await client.get("/v1/models")).json())["data"]]


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(make_app(BUNDLED, EXTRA, speed=0)) as running:
        yield running


def test_openai_sdk(server: BackgroundServer) -> None:
    client = openai.OpenAI(base_url=server.root_url + "/v1", api_key="x")
    text = "".join(c.choices[0].text for c in client.completions.create(model="short", prompt="x", stream=True))
    assert text == "Hello there!"
    answer = client.completions.create(model="finish-stop", prompt="x", max_tokens=50)
    assert answer.choices[0].text == "The capital of France is Paris."
    assert "default" in [m.id for m in client.models.list()]
    assert json.loads(client.models.retrieve("haiku").to_json())["owned_by"] == "system"


async def test_async_openai_sdk(server: BackgroundServer) -> None:
    client = openai.AsyncOpenAI(base_url=server.root_url + "/v1", api_key="x")
    stream = await client.completions.create(
        model="short", prompt="x", stream=True, stream_options={"include_usage": True}
    )
    pieces, usage = [], None
    async for chunk in stream:
        pieces += [choice.text for choice in chunk.choices]
        usage = chunk.usage or usage
    assert "".join(pieces) == "Hello there!" and usage.completion_tokens == 3
    await client.close()


async def test_faults_with_several_choices(client: Any) -> None:
    response = await client.post("/v1/completions", json=completion("broken", stream=False, n=2))
    assert response.status == 500
    assert (await response.json())["error"]["message"] == "boom"
    body = await (await client.post("/v1/completions", json=completion("broken", n=2))).read()
    assert body.count(b'"error"') == 1 and b'"message":"boom"' in body and body.endswith(b"data: [DONE]\n\n")


async def test_the_journal_names_only_faults_that_were_played(client: Any) -> None:
    await client.post("/v1/completions", json=completion("reasoning"))
    await client.post("/v1/completions", json=completion("broken"))
    entries = (await (await client.get("/_mock/requests")).json())["requests"]
    assert [(e["scenario"], e["fault"], e["stall_ms"]) for e in entries] == [
        ("reasoning", None, None),
        ("broken", "error", None),
    ]


async def test_prompts_times_n_is_bounded(client: Any) -> None:
    response = await client.post("/v1/completions", json=completion("short", prompt=["a"] * 65, n=2))
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["param"], "130 choices" in error["message"]) == ("prompt", True)
    assert (await client.post("/v1/completions", json=completion("short", prompt=["a"] * 64, n=2))).status == 200
