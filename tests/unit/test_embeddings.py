"""POST /v1/embeddings: the real shapes and layout, float and base64, vectors that are deterministic and that
mean something, the models' dimensions, the real 400s, and the scenario machinery (selection, scripted vectors,
errors, sequences, timing, chaos, faults, the journal)."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import time
from typing import Any

import aiohttp
import pytest
from helpers import problems, validate_openapi, validate_sdk
from openai.types import CreateEmbeddingResponse

from mockserver.scenario.chaos import parse as parse_chaos
from mockserver.server.state import STATE

SCENARIOS = """
scenarios:
  - name: default
    text: "Hello"
  - name: fixed
    embeddings: [0.1, -0.5, 0.0000014385998, 0.000000001]
  - name: per-input
    embeddings: [[1, 0], [0, 1]]
    model: text-embedding-3-small
    usage: {prompt_tokens: 42}
  - name: about-cats
    match: {contains: "cat food"}
    embeddings: [[0.6, 0.8]]
  - name: limited
    error: {status: 429, retry_after: 0.25}
  - name: flaky
    sequence:
      - error: {status: 503}
      - text: "computed vectors"
  - name: slow
    latency_ms: 150
    ttft_ms: 100
    text: "not sent to embeddings"
  - name: breaks
    chunks: ["a", {disconnect: true}]
  - name: fails
    chunks: [{error: {message: "Upstream broke", type: server_error}}]
"""
QUERY = "How do I reset my password?"
DOCUMENTS = [
    "Our office is open from nine to five, Monday to Friday.",
    "To reset your password, open Settings, choose Security and click Reset password.",
    "The cafeteria serves lunch between noon and two.",
    "Invoices are emailed on the first day of each month.",
]


async def embed(client: Any, expect: int = 200, **body: Any) -> tuple[Any, Any]:
    headers = body.pop("headers", {})
    response = await client.post("/v1/embeddings", json={"model": "text-embedding-3-small", **body}, headers=headers)
    assert response.status == expect, await response.text()
    return response, await response.read()


def vectors(raw: bytes) -> list[list[float]]:
    """The vectors of an answer, decoded from floats or base64."""
    found = []
    for item in json.loads(raw)["data"]:
        value = item["embedding"]
        if isinstance(value, str):
            packed = base64.b64decode(value)
            value = list(struct.unpack(f"<{len(packed) // 4}f", packed))
        found.append(value)
    return found


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_the_layout_key_order_and_floats_of_the_real_api(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    response, raw = await embed(client, model="fixed", input="anything", encoding_format="float")
    assert raw == (
        b'{\n  "object": "list",\n  "data": [\n    {\n      "object": "embedding",\n      "index": 0,\n'
        b'      "embedding": [\n        0.1,\n        -0.5,\n        0.0000014385998,\n        0.000000001\n'
        b'      ]\n    }\n  ],\n  "model": "fixed",\n  "usage": {\n    "prompt_tokens": 1,\n'
        b'    "total_tokens": 1\n  }\n}\n'
    )
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["openai-model"] == "fixed"
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
    assert response.headers["x-ratelimit-remaining-requests"] == "9999"


async def test_base64_is_the_little_endian_float32_of_the_same_vector(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    _, as_floats = await embed(client, input=[QUERY, "two"], encoding_format="float")
    _, as_base64 = await embed(client, input=[QUERY, "two"], encoding_format="base64")
    assert b'"embedding": "' in as_base64
    floats, decoded = vectors(as_floats), vectors(as_base64)
    # the float text reads back as exactly the float32 values
    assert [struct.pack(f"<{len(v)}f", *v) for v in floats] == [struct.pack(f"<{len(v)}f", *v) for v in decoded]
    assert len(decoded[0]) == 1536
    assert all(math.isclose(sum(x * x for x in vector), 1.0, abs_tol=1e-6) for vector in decoded)
    assert b"e-" not in as_floats and b"E" not in as_floats  # never in exponent notation


async def test_the_same_input_gives_the_same_vector(client_for: Any) -> None:
    first = await client_for(SCENARIOS, speed=0, seed=1)
    second = await client_for(SCENARIOS, speed=0, seed=2)
    _, a = await embed(first, input=QUERY, encoding_format="base64")
    _, b = await embed(second, input=QUERY, encoding_format="base64")
    assert a == b
    _, tokens = await embed(first, input=[4438, 656, 358, 7738, 856, 3636, 30], encoding_format="base64")
    _, again = await embed(second, input=[[4438, 656, 358, 7738, 856, 3636, 30]], encoding_format="base64")
    assert vectors(tokens) == vectors(again)
    _, other_model = await embed(first, model="text-embedding-3-large", input=QUERY, dimensions=1536)
    assert vectors(other_model) != vectors(a)  # another model, another space


async def test_texts_that_share_words_are_near(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    _, raw = await embed(client, input=[QUERY, *DOCUMENTS], encoding_format="base64")
    query, *documents = vectors(raw)
    scores = [cosine(query, document) for document in documents]
    assert max(range(len(scores)), key=scores.__getitem__) == 1
    assert scores[1] > 0.3 > max(scores[0], scores[2], scores[3])
    # the same holds for shortened vectors, and for token arrays sharing tokens
    _, short = await embed(client, input=[QUERY, *DOCUMENTS], dimensions=64)
    query, *documents = vectors(short)
    assert max(range(4), key=lambda i: cosine(query, documents[i])) == 1
    _, raw = await embed(client, input=[[4438, 656, 358, 7738, 856, 3636, 30], [1271, 7738, 701, 3636], [5451, 5274]])
    query, near, far = vectors(raw)
    assert cosine(query, near) > cosine(query, far)


async def test_dimensions_per_model_and_shortening(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    for model, length in [
        ("text-embedding-3-small", 1536),
        ("text-embedding-3-large", 3072),
        ("text-embedding-ada-002", 1536),
        ("my-model", 1536),
    ]:
        _, raw = await embed(client, model=model, input="hi", encoding_format="base64")
        assert len(vectors(raw)[0]) == length, model
    _, full = await embed(client, model="text-embedding-3-large", input=QUERY, encoding_format="base64")
    _, short = await embed(client, model="text-embedding-3-large", input=QUERY, dimensions=256)
    (full_vector,), (short_vector,) = vectors(full), vectors(short)
    assert len(short_vector) == 256
    # shortened as the real API shortens: the start of the full vector, scaled to unit length again
    norm = math.sqrt(sum(x * x for x in full_vector[:256]))
    assert all(
        math.isclose(x / norm, y, rel_tol=1e-5, abs_tol=1e-7)
        for x, y in zip(full_vector[:256], short_vector, strict=True)
    )
    _, raw = await embed(client, model="my-model", input="hi", dimensions=4096, encoding_format="base64")
    assert len(vectors(raw)[0]) == 4096


@pytest.mark.parametrize(
    ("body", "message", "extra"),
    [
        ({"input": "hi", "model": None}, "you must provide a model parameter", {}),
        ({}, "Missing required parameter: 'input'.", {"param": "input", "code": "missing_required_parameter"}),
        (
            {"input": ""},
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            {},
        ),
        (
            {"input": ["a", ""]},
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            {},
        ),
        (
            {"input": []},
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            {},
        ),
        (
            {"input": [[1, 2], []]},
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            {},
        ),
        (
            {"input": 5},
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            {},
        ),
        ({"input": ["a"] * 2049}, "Invalid 'input': array length must be 2048 or less.", {}),
        ({"input": ["a", "b " * 8193]}, "Invalid 'input[1]': maximum input length is 8192 tokens.", {}),
        ({"input": "b " * 8193}, "Invalid 'input': maximum input length is 8192 tokens.", {}),
        ({"input": list(range(8193))}, "Invalid 'input': maximum input length is 8192 tokens.", {}),
        (
            {"input": ["b " * 8000] * 38},
            "Requested 304038 tokens, max 300000 tokens per request",
            {"type": "max_tokens_per_request", "code": "max_tokens_per_request"},
        ),
        (
            {"input": "hi", "model": "text-embedding-ada-002", "dimensions": 256},
            "This model does not support specifying dimensions.",
            {},
        ),
        (
            {"input": "hi", "model": "text-embedding-ada-002", "dimensions": None},
            "This model does not support specifying dimensions.",
            {},
        ),
        ({"input": "hi", "dimensions": 0}, "0 is less than the minimum of 1 - 'dimensions'", {}),
        ({"input": "hi", "dimensions": -1}, "-1 is less than the minimum of 1 - 'dimensions'", {}),
        ({"input": "hi", "dimensions": "8"}, "'8' is not of type 'integer' - 'dimensions'", {}),
        (
            {"input": "hi", "dimensions": 1537},
            "Invalid value for 'dimensions' = 1537. Must be less than or equal to 1536.",
            {},
        ),
        (
            {"input": "hi", "model": "text-embedding-3-large", "dimensions": 3073},
            "Invalid value for 'dimensions' = 3073. Must be less than or equal to 3072.",
            {},
        ),
        (
            {"input": "hi", "model": "my-model", "dimensions": 4097},
            "Invalid value for 'dimensions' = 4097. Must be less than or equal to 4096.",
            {},
        ),
        (
            {"input": "hi", "encoding_format": "md5"},
            "Invalid value for 'encoding_format' = md5. Supported values: ['float', 'base64'].",
            {},
        ),
        (
            {"input": "hi", "user": 5},
            "Invalid type for 'user': expected a string, but got an integer instead.",
            {"param": "user", "code": "invalid_type"},
        ),
    ],
)
async def test_requests_the_real_api_refuses(
    client_for: Any, body: dict[str, Any], message: str, extra: dict[str, Any]
) -> None:
    client = await client_for(SCENARIOS, speed=0)
    response = await client.post("/v1/embeddings", json={"model": "text-embedding-3-small", **body})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error == {"message": message, "type": "invalid_request_error", "param": None, "code": None, **extra}
    assert response.headers["x-ratelimit-limit-requests"] == "10000"


async def test_whitespace_is_a_text_like_any_other(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    _, raw = await embed(client, input=["  \n  \t  ", "?!"], encoding_format="base64")
    blank, marks = vectors(raw)
    assert math.isclose(sum(x * x for x in blank), 1.0, abs_tol=1e-6) and blank != marks


async def test_scripted_vectors_selection_and_usage(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    _, raw = await embed(client, model="per-input", input=["a", "b", "c"])
    assert vectors(raw) == [[1, 0], [0, 1], [1, 0]]  # input i gets vector i; they repeat
    assert b'"model": "text-embedding-3-small"' in raw and b'"prompt_tokens": 42' in raw
    _, raw = await embed(client, input=["what do cats like?", "cat food reviews"])  # match reads every input
    assert vectors(raw) == [[0.6, 0.8]] * 2
    _, raw = await embed(client, input="cat", headers={"X-Mock-Scenario": "fixed"})
    assert len(vectors(raw)[0]) == 4


async def test_errors_sequences_and_chaos(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    response, raw = await embed(client, 429, model="limited", input="x")
    assert response.headers["retry-after-ms"] == "250"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert b"Rate limit reached for limited" in raw
    await embed(client, 503, model="flaky", input="x")
    await embed(client, 200, model="flaky", input="x")
    chaotic = await client_for(SCENARIOS, speed=0, chaos=parse_chaos("rate_limit=1,retry_after=0.5"))
    response, _ = await embed(chaotic, 429, input="x")
    assert response.headers["retry-after-ms"] == "500"
    entry = chaotic.app[STATE].journal.entries[-1]
    assert (entry.path, entry.status, entry.chaos, entry.scenario) == ("/v1/embeddings", 429, "rate_limit", "default")


async def test_timing_and_faults_play_without_the_text(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    started = time.monotonic()
    _, raw = await embed(client, model="slow", input="x")
    assert time.monotonic() - started >= 0.25  # latency_ms, then ttft_ms; the text's chunks take no time
    assert b"not sent" not in raw
    _, raw = await embed(client, 500, model="fails", input="x")
    assert b"Upstream broke" in raw
    with pytest.raises(aiohttp.ClientError):  # the connection is cut without an answer
        await client.post("/v1/embeddings", json={"model": "breaks", "input": "x"})
    entries = client.app[STATE].journal.entries
    assert entries[-1].fault == "disconnect"


def test_scripted_vectors_are_checked_at_load() -> None:
    assert problems("scenarios:\n  - name: s\n    embeddings: [[1, 2], [], [3]]\n") == [
        "s.yaml:3: vector 2 of 'embeddings' in scenario 's' is empty"
    ]
    assert problems("scenarios:\n  - name: s\n    embeddings: [1, x]\n") == [
        "s.yaml:3: 'embeddings' in scenario 's' must hold numbers only, got text 'x'"
    ]
    assert problems("scenarios:\n  - name: s\n    embeddings: [1e-9]\n") == [
        "s.yaml:3: 'embeddings' in scenario 's' must hold numbers only, got text '1e-9' (YAML reads it as text: "
        "write 1.0e-9)"
    ]
    assert problems("scenarios:\n  - name: s\n    embeddings: {a: 1}\n") == [
        "s.yaml:3: 'embeddings' in scenario 's' must be a vector (a list of numbers) or a list of vectors, got a mapping {'a': 1}"
    ]
    assert problems("scenarios:\n  - name: s\n    error: {status: 500}\n    embeddings: [1]\n") == [
        "s.yaml:4: 'embeddings' has no effect on an error answer (scenario 's')"
    ]
    # a scenario's vectors are inherited by its sequence's steps
    assert problems("scenarios:\n  - name: s\n    embeddings: [1]\n    sequence:\n      - text: a\n") == []


async def test_answers_match_the_openapi_document_and_the_sdk_models(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    _, raw = await embed(client, input=[QUERY, "two"], encoding_format="float", dimensions=16)
    validate_openapi("CreateEmbeddingResponse", json.loads(raw))
    validate_sdk(CreateEmbeddingResponse, json.loads(raw))
    validate_openapi("CreateEmbeddingRequest", {"model": "text-embedding-3-small", "input": [[1, 2]], "dimensions": 16})
