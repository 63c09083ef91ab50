"""Rate limits that count: the x-ratelimit-* headers count down within the window, a request over a quota gets
the real 429 with the wait computed from the window, and quotas come from the server, a session or a scenario.

The server's clock is replaced by one the test moves, so a quota of 5 a minute is checked to the millisecond
without waiting a minute.
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from helpers import chat, problems

from mockserver.scenario.problems import short
from mockserver.scenario.quota import QuotaError, parse
from mockserver.server.settings import _quota
from mockserver.server.state import STATE
from mockserver.server.verdicts import verdict
from mockserver.wire.errors import go_duration

SCENARIOS = """
scenarios:
  - name: default
    text: "Hello there"
  - name: limited
    rate_limit: {requests: 2/min}
    text: "limited"
  - name: steps
    sequence:
      - text: "one"
      - text: "two"
  - name: boom
    error: {status: 500}
"""
LEARN_MORE = "Visit https://platform.openai.com/account/rate-limits to learn more."


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def limited_client(client_for: Any, spec: str | None = "requests=5/min", text: str = SCENARIOS) -> Any:
    client = await client_for(text, speed=0, rate_limit=parse(spec) if spec else None)
    clock = Clock()
    client.app[STATE].limits.clock = clock
    client.clock = clock
    return client


async def post(client: Any, body: dict[str, Any] | None = None, path: str = "/v1/chat/completions", **headers: str):
    response = await client.post(path, json=body or chat("gpt-4o-mini", stream=False), headers=headers)
    return response, await response.json()


def counts(response: Any) -> tuple[str, str, str, str]:
    headers = response.headers
    return (
        headers["x-ratelimit-remaining-requests"],
        headers["x-ratelimit-reset-requests"],
        headers["x-ratelimit-remaining-tokens"],
        headers["x-ratelimit-reset-tokens"],
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0004, "0s"),
        (0.006, "6ms"),
        (0.1125, "112ms"),  # truncated to whole milliseconds
        (0.174, "174ms"),
        (1.5, "1.5s"),
        (8.64, "8.64s"),
        (12, "12s"),
        (18.642, "18.642s"),
        (60, "1m0s"),
        (86.4, "1m26.4s"),
        (360, "6m0s"),
        (3600, "1h0m0s"),
        (86400, "24h0m0s"),
    ],
)
def test_durations_are_written_as_the_api_writes_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_quota_text() -> None:
    quota = parse("requests=60/min, tokens=40000/min")
    assert (quota.requests.count, quota.requests.window) == (60, 60.0)
    assert (quota.tokens.count, quota.tokens.window) == (40000, 60.0)
    assert parse("requests=5/10s").requests.window == 10.0
    assert parse("tokens=1000000/day").tokens.window == 86400.0
    assert parse("requests=3/1.5h").requests.window == 5400.0
    assert parse("").active is False
    for bad, message in [
        ("requests=60", "'requests' must be a count per window like '60/min', got '60'"),
        ("requests=60/mn", "unknown window unit 'mn' in 'requests'; did you mean 'min'?"),
        ("request=60/min", "unknown rate-limit key 'request'; did you mean 'requests'?"),
        ("requests=0/min", f"'requests' {RANGE}, got '0/min'"),
        # past what a count or a window can be: refused, not a traceback nor a bucket that never drains
        ("requests=" + "9" * 5000 + "/min", f"'requests' {RANGE}, got {short('9' * 5000 + '/min')}"),
        ("tokens=5/" + "9" * 400 + "s", f"'tokens' {RANGE}, got {short('5/' + '9' * 400 + 's')}"),
        ("requests=5/400day", f"'requests' {RANGE}, got '5/400day'"),
        ("requests", "expected requests=N/WINDOW or tokens=N/WINDOW, got 'requests'"),
    ]:
        with pytest.raises(QuotaError) as caught:
            parse(bad)
        assert str(caught.value) == message
    with pytest.raises(argparse.ArgumentTypeError):  # --rate-limit and MOCKSERVER_RATE_LIMIT
        _quota("requests=lots")


RANGE = "must allow 1 to 1,000,000,000,000 per window of more than 0 s and at most a year"


def test_a_scenario_quota_is_checked_at_load() -> None:
    text = "scenarios:\n  - name: s\n    text: x\n    rate_limit:\n      requests: 5/mn\n      tokens: lots\n"
    assert problems(text) == [
        "s.yaml:5: unknown window unit 'mn' in 'requests'; did you mean 'min'? ('rate_limit' of scenario 's')",
        "s.yaml:6: 'tokens' must be a count per window like '40000/min', got 'lots' ('rate_limit' of scenario 's')",
    ]
    assert problems("scenarios:\n  - name: s\n    text: x\n    rate_limit: 5/min\n") == [
        "s.yaml:4: 'rate_limit' of scenario 's' must be a mapping (key: value lines), got text"
    ]
    (found,) = problems("scenarios:\n  - name: s\n    sequence:\n      - {text: x, rate_limit: {requests: 1/s}}\n")
    assert found.startswith("s.yaml:4: unknown key 'rate_limit' in step 1 of scenario 's'")


async def test_five_a_minute_counts_down_then_the_real_429(client_for: Any) -> None:
    client = await limited_client(client_for)
    seen = []
    for _ in range(5):
        response, _ = await post(client)
        assert response.status == 200
        assert response.headers["x-ratelimit-limit-requests"] == "5"
        seen.append(counts(response)[:2])
    assert seen == [("4", "12s"), ("3", "24s"), ("2", "36s"), ("1", "48s"), ("0", "1m0s")]

    response, body = await post(client)
    assert response.status == 429
    assert body["error"] == {
        "message": "Rate limit reached for gpt-4o-mini in organization org-mockserver on requests per min (RPM): "
        f"Limit 5, Used 5, Requested 1. Please try again in 12s. {LEARN_MORE}",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert (response.headers["retry-after"], response.headers["retry-after-ms"]) == ("12", "12000")
    assert counts(response)[:2] == ("0", "1m0s")

    client.clock.now += 11.999
    assert (await post(client))[0].status == 429  # a millisecond too soon
    client.clock.now += 0.001
    response, _ = await post(client)  # one request freed, and taken at once
    assert response.status == 200
    assert counts(response)[:2] == ("0", "1m0s")
    client.clock.now += 60
    assert counts((await post(client))[0])[:2] == ("4", "12s")  # a whole window later, all but this one free


async def test_the_wait_is_for_what_is_over_the_limit(client_for: Any) -> None:
    client = await limited_client(client_for, "requests=3/min")
    for _ in range(3):
        await post(client)
    client.clock.now += 5
    response, body = await post(client)
    assert "Limit 3, Used 3, Requested 1. Please try again in 15s." in body["error"]["message"]  # 20 s less 5
    assert response.headers["retry-after-ms"] == "15000"


async def test_tokens_count_the_prompt_and_the_max_tokens_budget(client_for: Any) -> None:
    client = await limited_client(client_for, "tokens=1000/min")
    request = chat("gpt-4o-mini", stream=False, max_tokens=300)
    prompt = 3 + 3 + 1 + 1  # the chat estimate of one user message "hi"
    response, _ = await post(client, request)
    used = prompt + 300
    assert counts(response)[2:] == (str(1000 - used), go_duration(used / 1000 * 60))
    assert response.headers["x-ratelimit-limit-requests"] == "10000"  # requests keep the default limit
    assert response.headers["x-ratelimit-limit-tokens"] == "1000"
    await post(client, request)
    await post(client, request)  # 924 used
    response, body = await post(client, request)
    wait = (3 * used + used - 1000) / 1000 * 60
    assert body["error"]["message"] == (
        "Rate limit reached for gpt-4o-mini in organization org-mockserver on tokens per min (TPM): "
        f"Limit 1000, Used {3 * used}, Requested {used}. Please try again in {go_duration(wait)}. {LEARN_MORE}"
    )
    assert body["error"]["type"] == "tokens"
    assert response.headers["x-ratelimit-remaining-tokens"] == "0"
    assert response.headers["x-ratelimit-remaining-requests"] == "9997"


async def test_a_request_larger_than_the_whole_limit(client_for: Any) -> None:
    client = await limited_client(client_for, "tokens=100/min")
    response, body = await post(client, chat("gpt-4o-mini", stream=False, max_tokens=4096))
    assert response.status == 429
    assert body["error"] == {
        "message": "Request too large for gpt-4o-mini in organization org-mockserver on tokens per min (TPM): "
        "Limit 100, Requested 4104. The input or output tokens must be reduced in order to run successfully. "
        + LEARN_MORE,
        "type": "tokens",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert "retry-after" not in response.headers  # no wait would help


async def test_without_a_quota_the_generous_limits_count_down_and_never_refuse(client_for: Any) -> None:
    client = await limited_client(client_for, None)
    remaining = []
    for _ in range(3):
        response, _ = await post(client, chat("gpt-4o-mini", stream=False, max_tokens=10))
        remaining.append((response.headers["x-ratelimit-remaining-requests"], counts(response)[2]))
    assert remaining == [("9999", "29999982"), ("9998", "29999964"), ("9997", "29999946")]
    assert response.headers["x-ratelimit-limit-requests"] == "10000"
    assert response.headers["x-ratelimit-reset-requests"] == "18ms"
    client.app[STATE].limits.meters[""][""].requests.level = 10000  # a load test's minute
    response, _ = await post(client)
    assert response.status == 200
    assert response.headers["x-ratelimit-remaining-requests"] == "0"


async def test_invalid_requests_and_scripted_errors_carry_the_counts(client_for: Any) -> None:
    client = await limited_client(client_for)
    await post(client)
    response, _ = await post(client, {"model": "gpt-4o-mini", "messages": []})
    assert response.status == 400
    assert counts(response)[:2] == ("4", "12s")  # as they stand: an invalid request uses nothing
    response = await client.post("/v1/chat/completions", data=b"{not json")
    assert response.status == 400 and response.headers["x-ratelimit-remaining-requests"] == "4"
    response, _ = await post(client, chat("boom", stream=False))
    assert response.status == 500
    assert counts(response)[:2] == ("3", "24s")  # a scripted error was answered: it counts
    response = await client.post("/v1/nowhere", json={})
    assert "x-ratelimit-remaining-requests" not in response.headers


async def test_sessions_count_apart(client_for: Any) -> None:
    client = await limited_client(client_for, "requests=1/min")
    assert (await post(client, **{"X-Mock-Session": "a"}))[0].status == 200
    assert (await post(client, **{"X-Mock-Session": "a"}))[0].status == 429
    assert (await post(client, **{"X-Mock-Session": "b"}))[0].status == 200
    assert (await post(client))[0].status == 200
    response = await client.post("/_mock/reset?session=a")
    assert response.status == 200
    assert (await post(client, **{"X-Mock-Session": "a"}))[0].status == 200  # a reset forgets the counts


async def test_a_scenario_quota_wins_and_counts_its_own_requests(client_for: Any) -> None:
    client = await limited_client(client_for)
    for expected in ("1", "0"):
        response, body = await post(client, chat("limited", stream=False))
        assert body["choices"][0]["message"]["content"] == "limited"
        assert response.headers["x-ratelimit-limit-requests"] == "2"
        assert response.headers["x-ratelimit-remaining-requests"] == expected
    response, body = await post(client, chat("limited", stream=False))
    assert response.status == 429
    assert "(RPM): Limit 2, Used 2, Requested 1. Please try again in 30s." in body["error"]["message"]
    response, _ = await post(client)
    assert counts(response)[:2] == ("4", "12s")  # the server's quota counted none of them


async def test_a_refused_request_does_not_use_a_step(client_for: Any) -> None:
    client = await limited_client(client_for, "requests=1/min")
    assert (await post(client, chat("steps", stream=False)))[1]["choices"][0]["message"]["content"] == "one"
    assert (await post(client, chat("steps", stream=False)))[0].status == 429
    client.clock.now += 60
    assert (await post(client, chat("steps", stream=False)))[1]["choices"][0]["message"]["content"] == "two"


async def test_a_session_quota_over_the_control_api(client_for: Any) -> None:
    client = await limited_client(client_for)
    response = await client.post("/_mock/rate-limit?session=t", json={"requests": "1/min", "tokens": None})
    assert await response.json() == {"requests": "1/min", "tokens": None, "quota": "session", "session": "t"}
    assert (await post(client, **{"X-Mock-Session": "t"}))[0].headers["x-ratelimit-limit-requests"] == "1"
    assert (await post(client, **{"X-Mock-Session": "t"}))[0].status == 429
    assert (await post(client))[0].headers["x-ratelimit-limit-requests"] == "5"  # others keep the server's
    response = await client.get("/_mock/rate-limit")
    assert await response.json() == {"requests": "5/min", "tokens": None, "quota": "server", "session": None}
    response = await client.post("/_mock/rate-limit?session=t", data="requests=lots")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_rate_limit"
    response = await client.delete("/_mock/rate-limit?session=t")
    assert (await response.json())["quota"] == "server"
    assert (await post(client, **{"X-Mock-Session": "t"}))[0].headers["x-ratelimit-limit-requests"] == "5"
    await client.post("/_mock/rate-limit", data="")  # the server's quota off
    assert (await post(client))[0].headers["x-ratelimit-limit-requests"] == "10000"


async def test_the_journal_and_the_verdict_on_a_client_that_keeps_sending(client_for: Any) -> None:
    client = await limited_client(client_for, "requests=2/min")
    for _ in range(3):
        await post(client, **{"X-Mock-Session": "polite"})
    client.clock.now += 30
    await post(client, chat("gpt-4o-mini", stream=False, user="b"), **{"X-Mock-Session": "polite"})  # its turn
    state = client.app[STATE]
    assert verdict(state, "polite")["findings"] == []
    entries = state.journal.select(session="polite")
    assert [entry.rate_limit for entry in entries] == [
        {"quota": "server", "remaining_requests": 1, "remaining_tokens": 29999992, "refused": None},
        {"quota": "server", "remaining_requests": 0, "remaining_tokens": 29999984, "refused": None},
        {"quota": "server", "remaining_requests": 0, "remaining_tokens": 29999984, "refused": "requests"},
        {"quota": "server", "remaining_requests": 0, "remaining_tokens": 29999992, "refused": None},
    ]

    for message in ("a", "b", "c", "d"):  # four different requests: not retries, a loop that ignores the limit
        await post(client, chat("gpt-4o-mini", stream=False, user=message), **{"X-Mock-Session": "pushy"})
    (finding,) = verdict(state, "pushy")["findings"]
    assert finding["rule"] == "ignored_rate_limit"
    assert list(finding["requests"]) == [entry.id for entry in state.journal.select(session="pushy")][2:]
    assert finding["message"].startswith(
        f"Requests {finding['requests'][0]} and {finding['requests'][1]} came while the rate limit had no room left "
        "(x-ratelimit-remaining-requests: 0) and were all refused with 429"
    )
