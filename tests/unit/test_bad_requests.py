"""Bad input gets the real API's error envelope and status; the server keeps serving and logs no crash."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import USER, error_of, validate_openapi

SCENARIOS = "scenarios:\n  - {name: default, text: ok}\n"


@pytest.mark.parametrize(
    ("body", "message", "param", "code"),
    [
        (b"{not json", "We could not parse the JSON body of your request.", None, None),
        (b"", "We could not parse the JSON body of your request.", None, None),
        (b"\xff\xfe", "We could not parse the JSON body of your request.", None, None),
        (b"[1, 2]", "Invalid body: expected a JSON object, but got an array instead.", None, "invalid_type"),
        (b'{"messages": []}', "you must provide a model parameter", None, None),
        (b'{"model": "m"}', "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"),
        (
            b'{"model": "m", "messages": []}',
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        ),
        (
            b'{"model": 5, "messages": []}',
            "Invalid type for 'model': expected a string, but got an integer instead.",
            "model",
            "invalid_type",
        ),
        (
            b'{"model": "m", "messages": "hi"}',
            "Invalid type for 'messages': expected an array of objects, but got a string instead.",
            "messages",
            "invalid_type",
        ),
        (
            b'{"model": "m", "messages": ["hi"]}',
            "Invalid type for 'messages[0]': expected an object, but got a string instead.",
            "messages[0]",
            "invalid_type",
        ),
        (
            b'{"model": "m", "messages": [{"content": "hi"}]}',
            "Missing required parameter: 'messages[0].role'.",
            "messages[0].role",
            "missing_required_parameter",
        ),
        (
            b'{"model": "m", "messages": [{"role": "robot", "content": "hi"}]}',
            "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
            "messages[0].role",
            "invalid_value",
        ),
        (
            b'{"model": "m", "messages": [{"role": "user"}]}',
            "Invalid value for 'content': expected a string, got null.",
            "messages.[0].content",
            None,
        ),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": 7}]}',
            "Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer instead.",
            "messages[0].content",
            "invalid_type",
        ),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}',
            "Invalid type for 'stream': expected a boolean, but got a string instead.",
            "stream",
            "invalid_type",
        ),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": "5"}',
            "Invalid type for 'max_tokens': expected an integer, but got a string instead.",
            "max_tokens",
            "invalid_type",
        ),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1}',
            "Invalid 'max_tokens': integer below minimum value. Expected a value >= 0, but got -1 instead.",
            "max_tokens",
            "integer_below_min_value",
        ),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 1.5}',
            "Invalid type for 'max_completion_tokens': expected an integer, but got a decimal number instead.",
            "max_completion_tokens",
            "invalid_type",
        ),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": true}}',
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            None,
        ),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 0}',
            "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.",
            "n",
            "integer_below_min_value",
        ),
    ],
)
async def test_invalid_requests_are_400(
    client_for: Any, caplog: Any, body: bytes, message: str, param: Any, code: Any
) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    error = await error_of(response)
    assert error["message"].startswith(message)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert response.headers["x-request-id"].startswith("req_")
    # the server goes on serving; nothing is logged as a crash
    ok = await client.post("/v1/chat/completions", json={"model": "m", "messages": USER})
    assert ok.status == 200
    assert not [r for r in caplog.records if r.levelno >= 40]


async def test_error_envelope_matches_the_openapi_document(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/v1/chat/completions", json={"model": "m"})
    validate_openapi("ErrorResponse", await response.json())


async def test_unknown_path_and_wrong_method(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/v1/chat/complete", json={})
    assert response.status == 404
    assert (await error_of(response))["message"] == "Invalid URL (POST /v1/chat/complete)"
    response = await client.get("/v1/chat/completions")
    assert response.status == 405
    assert (await error_of(response))["message"].startswith("Not allowed to GET on /v1/chat/completions.")


async def test_body_over_10_mib_is_413(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * (10 * 1024 * 1024) + b'"}]}'
    response = await client.post("/v1/chat/completions", data=big)
    assert response.status == 413
    assert "too large" in (await error_of(response))["message"]
    ok = await client.post("/v1/chat/completions", json={"model": "m", "messages": USER})
    assert ok.status == 200


async def test_api_key_is_checked_before_anything_else(client_for: Any) -> None:
    client = await client_for(SCENARIOS, api_key="sk-secret-key-123")
    for headers in ({}, {"Authorization": "Bearer sk-wrong-key-9999"}, {"Authorization": "Basic abc"}):
        # even a malformed body on an unknown path gets the 401 first
        for path in ("/v1/chat/completions", "/v1/nowhere"):
            response = await client.post(path, data=b"{", headers=headers)
            assert response.status == 401
            error = await error_of(response)
            assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
    response = await client.post(
        "/v1/chat/completions", json={"model": "m"}, headers={"Authorization": "Bearer sk-wrong-key-9999"}
    )
    assert (await error_of(response))["message"].startswith("Incorrect API key provided: sk-**********9999.")
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": USER},
        headers={"Authorization": "Bearer sk-secret-key-123"},
    )
    assert response.status == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}',
        b'{"model": "\\ud800", "messages": [{"role": "user", "content": "hi"}]}',  # half a surrogate pair
        b'{"model": "m", "messages": [{"role": "user", "content": "\\udc00 alone"}]}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["nan", "infinity", "lone-surrogate-model", "lone-surrogate-content", "deep-nesting"],
)
async def test_bodies_that_are_not_json_text_are_400(client_for: Any, caplog: Any, body: bytes) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/v1/chat/completions", data=body)
    assert response.status == 400
    assert (await error_of(response))["message"].startswith("We could not parse the JSON body")
    journal = await client.get("/_mock/requests")  # the journal can still be read
    assert journal.status == 200 and len((await journal.json())["requests"]) == 1
    assert not [r for r in caplog.records if r.levelno >= 40]


async def test_a_whole_surrogate_pair_is_fine(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}'
    response = await client.post("/v1/chat/completions", data=body)
    assert response.status == 200


async def test_a_retry_count_that_is_not_a_number_is_ignored(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    headers = {"x-stainless-retry-count": "³"}
    response = await client.post("/v1/chat/completions", json={"model": "m", "messages": USER}, headers=headers)
    assert response.status == 200
    (entry,) = (await (await client.get("/_mock/requests")).json())["requests"]
    assert entry["retry_count"] is None
