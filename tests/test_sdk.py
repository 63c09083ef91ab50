"""End to end: the real openai package against `mockserver serve`, started as a user starts it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import RunningServer, cli_server_running
from helpers import assert_known_fields
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from mockserver.scenario.load import BUNDLED

EXTRA = """
scenarios:
  - name: slow-start
    chunks: ["first", " second"]
    ttft_ms: 300
  - name: long
    text: "one two three four five six seven eight"
"""
USER = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    extra = tmp_path_factory.mktemp("scenarios") / "extra.yaml"
    extra.write_text(EXTRA)
    with cli_server_running("--scenarios", str(BUNDLED), str(extra)) as running:
        yield running


def client(server: RunningServer, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", **options)


def session() -> dict[str, str]:
    """A fresh X-Mock-Session, so sequence counts start at step 1 for this test alone."""
    return {"X-Mock-Session": uuid.uuid4().hex}


def stream_text(stream: Any) -> tuple[str, str | None, Any]:
    text, finish, usage = [], None, None
    for chunk in stream:
        assert isinstance(chunk, ChatCompletionChunk)
        assert_known_fields(chunk)
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    return "".join(text), finish, usage


def test_streamed_text_equals_the_script(server: RunningServer) -> None:
    text, finish, usage = stream_text(client(server).chat.completions.create(model="haiku", messages=USER, stream=True))
    assert text == "Autumn moonlight —\na worm digs silently\ninto the chestnut."
    assert finish == "stop"
    assert usage is None


@pytest.mark.parametrize(
    ("model", "reason"),
    [("finish-stop", "stop"), ("finish-length", "length"), ("finish-content-filter", "content_filter")],
)
def test_each_finish_reason_arrives(server: RunningServer, model: str, reason: str) -> None:
    _, finish, _ = stream_text(client(server).chat.completions.create(model=model, messages=USER, stream=True))
    assert finish == reason
    completion = client(server).chat.completions.create(model=model, messages=USER)
    assert isinstance(completion, ChatCompletion)
    assert_known_fields(completion)
    assert completion.choices[0].finish_reason == reason


def test_include_usage_gives_the_usage_chunk(server: RunningServer) -> None:
    stream = client(server).chat.completions.create(
        model="long", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    text, _, usage = stream_text(stream)
    assert text == "one two three four five six seven eight"
    assert usage.completion_tokens == 8
    assert usage.total_tokens == usage.prompt_tokens + 8


def test_max_tokens_truncates_with_length(server: RunningServer) -> None:
    text, finish, _ = stream_text(
        client(server).chat.completions.create(model="long", messages=USER, stream=True, max_completion_tokens=3)
    )
    assert (text, finish) == ("one two three", "length")


def test_rate_limit_clears_after_exactly_three_attempts(server: RunningServer) -> None:
    raw = client(server).chat.completions.with_raw_response.create(
        model="rate-limit-recovers", messages=USER, stream=True, extra_headers=session()
    )
    assert raw.retries_taken == 2  # three attempts in all
    text, finish, _ = stream_text(raw.parse())
    assert (text, finish) == ("Thanks for waiting - here is your answer.", "stop")


def test_permanent_rate_limit_raises(server: RunningServer) -> None:
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as caught:
        client(server).chat.completions.create(model="rate-limit", messages=USER, stream=True)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.request_id.startswith("req_")
    assert time.monotonic() - started >= 0.4 - 0.01  # two retries, each waiting retry-after-ms: 200


def test_ttft_is_honoured(server: RunningServer) -> None:
    started = time.monotonic()
    stream = client(server).chat.completions.create(model="slow-start", messages=USER, stream=True)
    first_content = None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first_content = time.monotonic() - started
            break
    stream.close()
    assert first_content is not None
    assert first_content >= 0.3
    assert first_content < 3.0


def test_stream_helper_accumulates_the_message(server: RunningServer) -> None:
    with client(server).chat.completions.stream(model="finish-stop", messages=USER) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == "The capital of France is Paris."
    assert final.choices[0].message.content == "The capital of France is Paris."
    assert final.choices[0].message.role == "assistant"


async def test_async_client(server: RunningServer) -> None:
    async_client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
    stream = await async_client.chat.completions.create(
        model="chinese", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    pieces, finish, usage = [], None, None
    async for chunk in stream:
        assert_known_fields(chunk)
        usage = chunk.usage or usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    text = "".join(pieces)
    assert text.startswith("春眠不觉晓，处处闻啼鸟。")
    assert finish == "stop"
    assert usage.completion_tokens == len(text)  # one character per token here
    raw = await async_client.chat.completions.with_raw_response.create(
        model="rate-limit-recovers", messages=USER, extra_headers=session()
    )
    assert raw.retries_taken == 2
    with pytest.raises(openai.RateLimitError):
        await async_client.chat.completions.create(model="rate-limit", messages=USER)
    await async_client.close()


def test_api_key_flag(tmp_path: Path) -> None:
    with cli_server_running("--api-key", "sk-right") as running:
        with pytest.raises(openai.AuthenticationError) as caught:
            openai.OpenAI(base_url=running.base_url, api_key="sk-wrong").chat.completions.create(
                model="default", messages=USER
            )
        assert caught.value.code == "invalid_api_key"
        answer = openai.OpenAI(base_url=running.base_url, api_key="sk-right").chat.completions.create(
            model="default", messages=USER
        )
        assert answer.choices[0].message.content.startswith("Hello!")


def test_environment_variables_are_enough(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "anything")
    answer = openai.OpenAI().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "a poem?"}])
    assert answer.choices[0].message.content.startswith("Autumn moonlight")


def test_stream_helper_accumulates_every_kind_of_delta(server: RunningServer) -> None:
    """The `.stream()` helper concatenates string deltas: a repeated id, type or name would show here."""
    sdk = client(server)
    with sdk.chat.completions.stream(model="parallel-tool-calls", messages=USER) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert [(c.type, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("function", "get_weather", {"city": "Paris"}),
        ("function", "get_weather", {"city": "Tokyo"}),
    ]
    assert calls[1].id == "call_tokyo" and calls[0].id.startswith("call_") and calls[0].id != calls[1].id
    assert final.choices[0].finish_reason == "tool_calls"
    with sdk.chat.completions.stream(model="text-then-tool-call", messages=USER) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Let me look that up."
    assert final.choices[0].message.tool_calls[0].function.name == "search"
    with sdk.chat.completions.stream(model="refusal", messages=USER) as stream:
        refusals = [event.delta for event in stream if event.type == "refusal.delta"]
        final = stream.get_final_completion()
    assert "".join(refusals) == final.choices[0].message.refusal == "I'm sorry, but I can't help with that request."
    assert final.choices[0].message.content is None
    with sdk.chat.completions.stream(model="three-choices", messages=USER, n=3) as stream:
        final = stream.get_final_completion()
    assert [c.message.content for c in final.choices] == [
        "Paris.",
        "The capital of France is Paris.",
        "Paris, on the Seine.",
    ]
    assert final.choices[0].message.role == "assistant"


def test_reasoning_and_logprobs_reach_the_client(server: RunningServer) -> None:
    stream = client(server).chat.completions.create(model="reasoning-raw", messages=USER, stream=True)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content", "") for c in stream if c.choices
    )
    assert reasoning.startswith("The question asks for the product")
    stream = client(server).chat.completions.create(
        model="logprobs", messages=USER, stream=True, logprobs=True, top_logprobs=2
    )
    entries = [e for c in stream if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content or []]
    assert [e.token for e in entries] == ["The", " sky", " is", " blue", "."]
    assert entries[3].logprob == -0.42 and len(entries[3].top_logprobs) == 2


async def test_async_stream_helper_with_tool_calls(server: RunningServer) -> None:
    async_client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
    async with async_client.chat.completions.stream(model="tool-call", messages=USER) as stream:
        final = await stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris", "unit": "celsius"},
    )
    await async_client.close()
