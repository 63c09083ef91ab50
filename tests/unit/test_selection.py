"""Which scenario answers a request, and sequences counted per session."""

from __future__ import annotations

import json
from typing import Any

from helpers import USER

SCENARIOS = """
scenarios:
  - name: by-name-only
    text: "by name"
  - name: poems
    match: {contains: POEM}
    text: "a poem"
  - name: minis
    match: {model: "gpt-4o-mini*"}
    text: "a mini"
  - name: both
    match: {model: "gpt-4o-mini*", contains: poem}
    text: "never reached: 'poems' comes first"
  - name: regex
    match: {regex: "^translate\\\\b"}
    text: "translated"
  - name: default
    text: "the default"
  - name: flaky
    sequence:
      - error: {status: 429, retry_after: 0.05}
      - error: {status: 503}
      - text: "finally"
"""


async def answer(client: Any, model: str, message: str = "hi", **headers: str) -> tuple[int, Any]:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": message}]},
        headers=headers,
    )
    data = await response.json()
    if response.status == 200:
        return 200, data["choices"][0]["message"]["content"]
    return response.status, data["error"]


async def test_selection_order(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    # 1. the header names it, whatever the model and message say
    assert await answer(client, "poems", "a poem", **{"X-Mock-Scenario": "by-name-only"}) == (200, "by name")
    # 2. the model is a scenario's name
    assert await answer(client, "by-name-only", "write a poem") == (200, "by name")
    # 3. the first scenario, in load order, whose rules all hold
    assert await answer(client, "gpt-4o-mini", "Write a Poem") == (200, "a poem")
    assert await answer(client, "gpt-4o-mini-2024-07-18", "hello") == (200, "a mini")
    assert await answer(client, "gpt-4o", "translate this") == (200, "translated")
    assert await answer(client, "gpt-4o", "please translate this") == (200, "the default")
    # 4. default
    assert await answer(client, "gpt-4o", "hello") == (200, "the default")


async def test_the_last_user_message_is_matched(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You write poems."},
                {"role": "user", "content": "a poem please"},
                {"role": "assistant", "content": "Sure."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "now"}, {"type": "text", "text": "translate it"}],
                },
            ],
        },
    )
    # "poem" appears only in earlier messages; text parts are joined with newlines, so ^ does not match "translate"
    assert (await response.json())["choices"][0]["message"]["content"] == "the default"


async def test_no_scenario_is_a_404_listing_the_names(client_for: Any) -> None:
    client = await client_for(
        "scenarios:\n  - {name: only, match: {contains: x}, text: x}\n  - {name: other, text: y}\n"
    )
    status, error = await answer(client, "gpt-4o", "hello")
    assert status == 404
    assert error["code"] == "scenario_not_found"
    assert error["type"] == "invalid_request_error"
    assert "only, other" in error["message"]
    status, error = await answer(client, "gpt-4o", "x", **{"X-Mock-Scenario": "missing"})
    assert status == 404
    assert error["code"] == "scenario_not_found"
    assert "'missing'" in error["message"] and "only, other" in error["message"]


async def test_sequence_steps_then_the_last_repeats(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    first = await answer(client, "flaky")
    assert first[0] == 429 and first[1]["code"] == "rate_limit_exceeded"
    assert (await answer(client, "flaky"))[0] == 503
    assert await answer(client, "flaky") == (200, "finally")
    assert await answer(client, "flaky") == (200, "finally")


async def test_sequences_count_per_session(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    a = {"X-Mock-Session": "a"}
    b = {"X-Mock-Session": "b"}
    assert (await answer(client, "flaky", **a))[0] == 429
    assert (await answer(client, "flaky", **a))[0] == 503
    assert (await answer(client, "flaky", **b))[0] == 429  # b has its own count
    assert (await answer(client, "flaky"))[0] == 429  # so do requests without a session
    assert await answer(client, "flaky", **a) == (200, "finally")


async def test_scripted_error_defaults_and_headers(client_for: Any) -> None:
    client = await client_for(
        """
scenarios:
  - {name: e401, error: {status: 401}}
  - {name: e404, error: {status: 404}}
  - {name: e429, error: {status: 429, retry_after: 1.5}}
  - {name: quota, error: {status: 429, code: insufficient_quota}}
  - {name: e500, error: {status: 500}}
  - {name: e503, error: {status: 503, headers: {x-should-retry: "false"}}}
  - {name: custom, error: {status: 400, message: "Bad thing", type: my_type, code: null, param: messages}}
"""
    )
    body = {"messages": [{"role": "user", "content": "hi"}]}

    async def error(model: str) -> tuple[Any, dict[str, Any]]:
        response = await client.post("/v1/chat/completions", json={**body, "model": model})
        return response, json.loads(await response.read())

    response, data = await error("e401")
    assert response.status == 401
    assert data["error"]["code"] == "invalid_api_key"
    assert list(data["error"]) == ["message", "type", "param", "code"]

    response, data = await error("e404")
    assert data["error"]["code"] == "model_not_found"
    assert data["error"]["message"] == "The model `e404` does not exist or you do not have access to it."
    assert "x-ratelimit-limit-requests" not in response.headers

    response, data = await error("e429")
    assert response.status == 429
    assert data["error"] == {
        "message": "Rate limit reached for e429 in organization org-mockserver on requests per min (RPM): Limit 10000, "
        "Used 10000, Requested 1. Please try again in 1.5s. Visit https://platform.openai.com/account/rate-limits "
        "to learn more.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert response.headers["retry-after-ms"] == "1500"
    assert response.headers["retry-after"] == "2"  # whole seconds, rounded up
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-remaining-tokens"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "1.5s"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")

    response, data = await error("quota")
    assert (data["error"]["type"], data["error"]["code"]) == ("insufficient_quota", "insufficient_quota")
    assert "retry-after" not in response.headers

    response, data = await error("e500")
    assert data["error"] == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    response, data = await error("e503")
    assert response.status == 503 and data["error"]["type"] == "server_error"
    assert response.headers["x-should-retry"] == "false"

    response, data = await error("custom")
    assert data["error"] == {"message": "Bad thing", "type": "my_type", "param": "messages", "code": None}


async def test_streaming_requests_get_the_error_before_any_stream(client_for: Any) -> None:
    client = await client_for("scenarios:\n  - {name: e, error: {status: 429}}\n")
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "e", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status == 429
    assert response.headers["Content-Type"] == "application/json"
    assert (await response.json())["error"]["code"] == "rate_limit_exceeded"


async def test_retry_after_is_rounded_up_to_whole_seconds(client_for: Any) -> None:
    # A client that waits `retry-after` seconds must not come back before the wait `retry-after-ms` asks for.
    client = await client_for("scenarios:\n  - {name: e429, error: {status: 429, retry_after: 1.2}}\n")
    response = await client.post("/v1/chat/completions", json={"model": "e429", "messages": USER})
    assert (response.headers["retry-after"], response.headers["retry-after-ms"]) == ("2", "1200")
