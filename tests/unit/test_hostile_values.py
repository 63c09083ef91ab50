"""Values written to hurt, found by fuzzing the running server: each is the API's 4xx or a valid answer, never a
500 with a traceback, a broken answer head, invalid JSON or a quota that breaks every later request."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from typing import Any

import pytest
from helpers import USER, error_of

# `shaped` has no body: it answers whatever the request requires (JSON for its schema, a call of a forced tool).
SCENARIOS = "scenarios:\n  - {name: shaped, match: {model: shaped}}\n  - {name: default, text: ok}\n"


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]


@pytest.mark.parametrize("kind", ["function_call", "function_call_output"])
@pytest.mark.parametrize("call_id", [[], {}, 7])
async def test_a_call_id_that_is_not_text_is_the_apis_400(
    client_for: Any, caplog: Any, kind: str, call_id: Any
) -> None:
    client = await client_for(SCENARIOS)
    item = {"type": kind, "call_id": call_id, "name": "f", "arguments": "{}", "output": "x"}
    response = await client.post("/v1/responses", json={"model": "m", "input": [item]})
    error = await error_of(response, 400)
    assert error["message"].startswith("Invalid type for 'input[0].call_id': expected a string, but got ")
    assert error["param"] == "input[0].call_id" and error["code"] == "invalid_type"
    no_tracebacks(caplog)


ODD_SCHEMAS = {
    "allOf that refers to its own root": {"type": "object", "allOf": [{"$ref": "#"}]},
    "a step too fine to count in": {"type": "number", "minimum": 0, "maximum": 1e10, "multipleOf": 5e-324},
    "a bound beyond floats": {"type": "integer", "minimum": 10**400},
    "required a number": {"type": "object", "required": 5},
    "required a number inside allOf": {"type": "object", "allOf": [{"required": 5}]},
    "properties a list inside allOf": {"type": "object", "allOf": [{"properties": [1, 2]}]},
    "required names that are lists": {"type": "object", "properties": {}, "required": [[1]]},
    "a type that is a list of lists": {"type": [["x"]]},
    "an alternative that refers to itself": {
        "type": "object",
        "properties": {"a": {"anyOf": [{"$ref": "#/properties/a"}]}},
    },
}


@pytest.mark.parametrize("schema", ODD_SCHEMAS.values(), ids=ODD_SCHEMAS.keys())
async def test_odd_schemas_are_answered(client_for: Any, caplog: Any, schema: dict[str, Any]) -> None:
    client = await client_for(SCENARIOS)
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    body = {"model": "shaped", "messages": USER, "response_format": response_format}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 200, await response.text()
    json.loads((await response.json())["choices"][0]["message"]["content"])
    tool = {"type": "function", "name": "f", "parameters": schema}
    body = {"model": "shaped", "input": "hi", "tools": [tool], "tool_choice": "required"}
    response = await client.post("/v1/responses", json=body)
    assert response.status == 200, await response.text()
    no_tracebacks(caplog)


async def test_a_strict_scripted_answer_is_checked_against_odd_schemas(client_for: Any, caplog: Any) -> None:
    client = await client_for("scenarios:\n  - {name: scripted, text: '{\"a\": 1}'}\n")
    for schema in ODD_SCHEMAS.values():
        response_format = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": schema}}
        body = {"model": "scripted", "messages": USER, "response_format": response_format}
        response = await client.post("/v1/chat/completions", json=body)
        assert response.status in (200, 400), await response.text()
    no_tracebacks(caplog)


async def test_json_mode_with_a_prompt_nested_past_the_parser(client_for: Any, caplog: Any) -> None:
    client = await client_for(SCENARIOS)
    system = {"role": "system", "content": 'json {"properties": ' + "[" * 3000}
    body = {"model": "shaped", "messages": [system, *USER], "response_format": {"type": "json_object"}}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 200
    json.loads((await response.json())["choices"][0]["message"]["content"])
    no_tracebacks(caplog)


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "m", "input": "hi", "tools": [{"type": "web_search", "x": 1e309}]}',
        b'{"model": "m", "input": "hi", "temperature": -1e400}',
        b'{"model": "m", "input": "hi", "stream": true, "tools": [{"type": "web_search", "x": '
        + b"[" * 974
        + b"]" * 974
        + b"}]}",
        b'{"model": "m", "input": "hi", "metadata": {"a": "b"}, "x": ' + b"[" * 128 + b"]" * 128 + b"}",
    ],
    ids=["a number past floats", "a negative one", "nested as deep as the parser goes", "nested past 128"],
)
async def test_json_that_could_not_be_written_back_is_the_apis_400(client_for: Any, caplog: Any, body: bytes) -> None:
    client = await client_for(SCENARIOS)
    error = await error_of(await client.post("/v1/responses", data=body), 400)
    assert error["message"].startswith("We could not parse the JSON body of your request.")
    no_tracebacks(caplog)


async def test_json_nested_as_deep_as_real_requests_go_is_read(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    deep: Any = 1
    for _ in range(100):
        deep = {"a": deep}
    tool = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}, "x": deep}}
    response = await client.post("/v1/responses", json={"model": "m", "input": "hi", "tools": [tool]})
    assert response.status == 200


@pytest.mark.parametrize("quota", [None, "tokens=1000/min"])
@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/chat/completions", {"model": "m", "messages": USER, "max_tokens": int("9" * 4300), "n": 128}),
        ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi", "max_tokens": 10**400}),
        ("/v1/responses", {"model": "m", "input": "hi", "max_output_tokens": 10**400}),
    ],
    ids=["chat", "completions", "responses"],
)
async def test_a_token_budget_past_floats_is_counted_as_past_every_quota(
    client_for: Any, caplog: Any, quota: str | None, path: str, body: dict[str, Any]
) -> None:
    from mockserver.scenario.quota import parse

    client = await client_for(SCENARIOS, rate_limit=parse(quota) if quota else None)
    response = await client.post(path, data=json.dumps(body))
    if quota is None:
        assert response.status == 200
    else:
        error = await error_of(response, 429)
        assert "Limit 1000, Requested 1000000000000000." in error["message"]
    no_tracebacks(caplog)


@pytest.mark.parametrize("model", ["a\nb", "a\x00b", "m" * 70_000])
async def test_an_embeddings_model_name_that_cannot_be_a_header_is_not_echoed_in_one(
    client_for: Any, caplog: Any, model: str
) -> None:
    client = await client_for("scenarios:\n  - {name: default, embeddings: [[0.5, 0.5]]}\n")
    response = await client.post("/v1/embeddings", json={"model": model, "input": "hi"})
    assert response.status == 200 and "openai-model" not in response.headers
    assert (await response.json())["model"] == model
    response = await client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "hi"})
    assert response.headers["openai-model"] == "text-embedding-3-small"
    no_tracebacks(caplog)


def forged_reasoning(tokens: str) -> str:
    """An `encrypted_content` made outside the server, with the signing key it uses (no secret: it is a mock's)."""
    key = hashlib.sha256(b"mockserver reasoning items").digest()
    payload = ('{"id":"rs_x","tokens":' + tokens + "}").encode()
    pad = 16 - len(payload) % 16
    body = b"\x80" + bytes(8) + bytes(16) + payload + bytes([pad]) * pad
    return base64.urlsafe_b64encode(body + hmac.new(key, body, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("tokens", ["9" * 400, "-1000000", "true"])
async def test_a_forged_reasoning_count_counts_nothing(client_for: Any, caplog: Any, tokens: str) -> None:
    client = await client_for(SCENARIOS)
    reasoning = {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": forged_reasoning(tokens)}
    answer = {"type": "message", "role": "assistant", "content": "ok"}
    body = {"model": "m", "input": [reasoning, answer, {"role": "user", "content": "hi"}]}
    plain = await (await client.post("/v1/responses", json={"model": "m", "input": "hi"})).json()
    response = await client.post("/v1/responses", json=body)
    assert response.status == 200
    usage = (await response.json())["usage"]
    assert plain["usage"]["input_tokens"] <= usage["input_tokens"] < plain["usage"]["input_tokens"] + 50
    no_tracebacks(caplog)


async def test_a_client_that_leaves_while_its_body_arrives_is_no_error(client_for: Any, caplog: Any) -> None:
    client = await client_for(SCENARIOS)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    _, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(head + b'{"model"')
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    for _ in range(100):  # the server notes the request once it sees the connection gone
        entries = (await (await client.get("/_mock/requests")).json())["requests"]
        if entries and entries[0]["ended"] != "in progress":
            break
        await asyncio.sleep(0.02)
    assert entries[0]["status"] is None and entries[0]["ended"] == "client disconnected"
    no_tracebacks(caplog)


@pytest.mark.parametrize("path", ["/_mock/requests", "/_mock/feed", "/v1/responses/resp_1"])
async def test_a_head_of_what_streams_is_the_apis_405(client_for: Any, caplog: Any, path: str) -> None:
    """aiohttp answers HEAD for every GET route, but writes a streamed body after such a head all the same."""
    client = await client_for(SCENARIOS)
    await client.post("/v1/chat/completions", json={"model": "m", "messages": USER})
    response = await client.request("HEAD", path)
    assert response.status == 405 and await response.read() == b""  # a head alone, as HTTP has it
    assert (await client.get("/_mock/health")).status == 200
    no_tracebacks(caplog)


async def test_large_answers_are_made_and_sent_a_few_at_a_time(
    client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10 KB request can ask for 90 MB of vectors: many at once must not all be in memory together."""
    import threading
    import time

    from mockserver.server.state import MAX_LARGE_ANSWERS_AT_ONCE
    from mockserver.wire import embeddings

    making, most, lock = 0, 0, threading.Lock()
    render = embeddings.completion_body

    def counted(*args: Any) -> bytes:
        nonlocal making, most
        with lock:
            making += 1
            most = max(most, making)
        time.sleep(0.1)
        with lock:
            making -= 1
        return render(*args) if args[1].inputs[0] == "small" else b'{"object": "list", "data": []}'

    monkeypatch.setattr(embeddings, "completion_body", counted)
    client = await client_for("scenarios:\n  - {name: default, text: ok}\n")  # vectors of the asked dimensions
    large = {"model": "my-embed", "input": ["x"] * 2048, "dimensions": 4096}  # about 100 MB as text
    answers = await asyncio.gather(*(client.post("/v1/embeddings", json=large) for _ in range(6)))
    assert [answer.status for answer in answers] == [200] * 6
    assert most == MAX_LARGE_ANSWERS_AT_ONCE
    most = 0
    small = await asyncio.gather(
        *(client.post("/v1/embeddings", json={"model": "m", "input": "small"}) for _ in range(6))
    )
    assert [answer.status for answer in small] == [200] * 6 and most > MAX_LARGE_ANSWERS_AT_ONCE
