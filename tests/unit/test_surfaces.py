"""More than text in chat streams: tool calls, refusals, reasoning, logprobs, several choices."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import chat, problems, sse_chunks, validate_openapi, validate_sdk
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from mockserver.scenario.load import BUNDLED, load_text

EXTRA = """
scenarios:
  - name: long-args
    tool_calls: [{name: f, arguments: {text: "one two three four five six"}}]
"""


async def stream(client: Any, model: str, **extra: Any) -> list[dict[str, Any]]:
    response = await client.post("/v1/chat/completions", json=chat(model, **extra))
    assert response.status == 200
    return sse_chunks(await response.read())


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    from mockserver.testing import make_app

    return await aiohttp_client(make_app(BUNDLED, EXTRA, speed=0))


async def test_a_tool_call_streams_like_the_real_api(client: Any) -> None:
    chunks = await stream(client, "tool-call")
    first, *arguments, finish = deltas(chunks)
    call_id = first["tool_calls"][0]["id"]
    assert first == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"index": 0, "id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        ],
        "refusal": None,
    }
    assert call_id.startswith("call_") and len(call_id) == 29
    for delta in arguments:  # id, type and name are never repeated
        (call,) = delta["tool_calls"]
        assert call.keys() == {"index", "function"} and call["function"].keys() == {"arguments"}
    assert len(arguments) > 3  # the JSON arrives in fragments
    text = "".join(d["tool_calls"][0]["function"]["arguments"] for d in arguments)
    assert json.loads(text) == {"city": "Paris", "unit": "celsius"}
    assert finish == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    for chunk in chunks:
        validate_sdk(ChatCompletionChunk, chunk)
        validate_openapi("CreateChatCompletionStreamResponse", chunk)


async def test_parallel_calls_one_after_the_other(client: Any) -> None:
    calls: dict[int, dict[str, Any]] = {}
    order = []
    for delta in deltas(await stream(client, "parallel-tool-calls")):
        for call in delta.get("tool_calls", []):
            order.append(call["index"])
            entry = calls.setdefault(call["index"], {"arguments": ""})
            if "id" in call:
                assert "id" not in entry, "a call's header comes once"
                entry.update(id=call["id"], name=call["function"]["name"])
            entry["arguments"] += call["function"]["arguments"]
    assert order == sorted(order) and order[0] == 0 and set(order) == {0, 1}
    assert calls[1]["id"] == "call_tokyo"
    assert calls[0]["id"] != calls[1]["id"]
    assert [json.loads(c["arguments"]) for c in calls.values()] == [{"city": "Paris"}, {"city": "Tokyo"}]


async def test_content_comes_before_tool_calls(client: Any) -> None:
    role, *rest = deltas(await stream(client, "text-then-tool-call"))
    assert role == {"role": "assistant", "content": "", "refusal": None}
    text = "".join(d.get("content") or "" for d in rest)
    assert text == "Let me look that up."
    header = next(d for d in rest if "tool_calls" in d)
    assert "role" not in header
    assert header["tool_calls"][0]["function"]["name"] == "search"


async def test_tool_call_ids_differ_per_response_unless_scripted(client: Any) -> None:
    first = deltas(await stream(client, "tool-call"))[0]["tool_calls"][0]["id"]
    second = deltas(await stream(client, "tool-call"))[0]["tool_calls"][0]["id"]
    assert first != second


async def test_non_streaming_tool_calls(client: Any) -> None:
    response = await client.post("/v1/chat/completions", json=chat("parallel-tool-calls", stream=False))
    data = await response.json()
    message = data["choices"][0]["message"]
    assert message["content"] is None
    assert [call["function"]["name"] for call in message["tool_calls"]] == ["get_weather", "get_weather"]
    assert message["tool_calls"][1]["id"] == "call_tokyo"
    assert data["choices"][0]["finish_reason"] == "tool_calls"
    validate_sdk(ChatCompletion, data)
    validate_openapi("CreateChatCompletionResponse", data)


async def test_max_tokens_cuts_inside_the_arguments(client: Any) -> None:
    chunks = await stream(client, "long-args", max_tokens=4)
    text = "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas(chunks) if "tool_calls" in d)
    assert text == '{"text"'  # four tokens: {, ", text, "
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


async def test_refusal(client: Any) -> None:
    chunks = await stream(client, "refusal")
    role, *rest, _ = deltas(chunks)
    assert role == {"role": "assistant", "content": None, "refusal": ""}
    assert "".join(d["refusal"] for d in rest) == "I'm sorry, but I can't help with that request."
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    for chunk in chunks:
        validate_sdk(ChatCompletionChunk, chunk)
    data = await (await client.post("/v1/chat/completions", json=chat("refusal", stream=False))).json()
    assert data["choices"][0]["message"]["content"] is None
    assert data["choices"][0]["message"]["refusal"] == "I'm sorry, but I can't help with that request."


REASONING = "The question asks for the product of six and seven. Six sevens are forty-two."


async def test_reasoning_is_counted_not_streamed(client: Any) -> None:
    """As OpenAI's models do: the reasoning's time passes and its tokens are reported, its text is never sent."""
    chunks = await stream(client, "reasoning", stream_options={"include_usage": True})
    role, *parts, _ = deltas(chunks)
    assert role == {"role": "assistant", "content": "", "refusal": None}
    assert all(list(d) == ["content"] for d in parts) and "".join(d["content"] for d in parts) == "6 × 7 = 42."
    usage = chunks[-1]["usage"]
    reasoning_tokens = usage["completion_tokens_details"]["reasoning_tokens"]
    assert reasoning_tokens == 18 and usage["completion_tokens"] == reasoning_tokens + len(parts)
    data = await (await client.post("/v1/chat/completions", json=chat("reasoning", stream=False))).json()
    assert "reasoning_content" not in data["choices"][0]["message"]
    assert data["choices"][0]["message"]["content"] == "6 × 7 = 42."
    assert data["usage"]["completion_tokens_details"]["reasoning_tokens"] == 18


async def test_raw_reasoning_comes_first_as_reasoning_content(client: Any) -> None:
    """The open-weight servers' convention, scripted with `raw_reasoning: true`."""
    chunks = await stream(client, "reasoning-raw", stream_options={"include_usage": True})
    parts = deltas(chunks)[1:-1]
    kinds = ["reasoning" if "reasoning_content" in d else "content" for d in parts]
    assert kinds == sorted(kinds, key=lambda kind: kind == "content")  # all reasoning, then all content
    assert "".join(d.get("reasoning_content", "") for d in parts) == REASONING
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == sum(k == "reasoning" for k in kinds)
    assert usage["completion_tokens"] == len(parts)
    data = await (await client.post("/v1/chat/completions", json=chat("reasoning-raw", stream=False))).json()
    assert data["choices"][0]["message"]["reasoning_content"] == REASONING
    assert data["choices"][0]["message"]["content"] == "6 × 7 = 42."


async def test_raw_reasoning_for_the_whole_server(client_for: Any) -> None:
    client = await client_for("scenarios:\n  - {name: r, reasoning: Hmm., text: Yes.}\n", speed=0, raw_reasoning=True)
    chunks = await stream(client, "r")
    assert [d.get("reasoning_content") for d in deltas(chunks)[1:3]] == ["Hmm", "."]
    client = await client_for(
        "scenarios:\n  - {name: r, reasoning: Hmm., text: Yes., raw_reasoning: false}\n", speed=0, raw_reasoning=True
    )
    assert "reasoning_content" not in json.dumps(await stream(client, "r"))  # the scenario's setting wins


async def test_a_reasoning_effort_reports_reasoning_tokens(client: Any) -> None:
    """A reasoning model reasons when asked to, though the script says nothing of it."""
    usage = (await stream(client, "finish-stop", reasoning_effort="high", stream_options={"include_usage": True}))[-1][
        "usage"
    ]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 576
    plain = (await stream(client, "finish-stop", reasoning_effort="minimal", stream_options={"include_usage": True}))[
        -1
    ]["usage"]
    assert plain["completion_tokens_details"]["reasoning_tokens"] == 0
    assert usage["completion_tokens"] == plain["completion_tokens"] + 576


async def test_logprobs(client: Any) -> None:
    chunks = await stream(client, "logprobs", logprobs=True, top_logprobs=3)
    assert chunks[0]["choices"][0]["logprobs"] == {"content": [], "refusal": None}
    entries = [e for c in chunks[1:-1] for e in c["choices"][0]["logprobs"]["content"]]
    assert [e["token"] for e in entries] == ["The", " sky", " is", " blue", "."]
    assert [e["logprob"] for e in entries][2:4] == [-0.0001, -0.42]  # scripted
    for entry in entries:
        assert entry["bytes"] == list(entry["token"].encode())
        assert len(entry["top_logprobs"]) == 3 and entry["top_logprobs"][0]["token"] == entry["token"]
        assert all(t["logprob"] <= entry["logprob"] for t in entry["top_logprobs"])
    assert chunks[-1]["choices"][0]["logprobs"] is None
    again = await stream(client, "logprobs", logprobs=True, top_logprobs=3)
    assert [c["choices"][0]["logprobs"] for c in again] == [c["choices"][0]["logprobs"] for c in chunks]
    for chunk in chunks:
        validate_sdk(ChatCompletionChunk, chunk)
    data = await (await client.post("/v1/chat/completions", json=chat("logprobs", stream=False, logprobs=True))).json()
    assert len(data["choices"][0]["logprobs"]["content"]) == 5
    validate_sdk(ChatCompletion, data)
    response = await client.post("/v1/chat/completions", json=chat("logprobs", top_logprobs=2))
    assert response.status == 400
    assert (await response.json())["error"]["param"] == "top_logprobs"


async def test_several_choices_with_their_own_answers(client: Any) -> None:
    chunks = await stream(client, "three-choices", n=4, stream_options={"include_usage": True})
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for chunk in chunks[:-1]:
        (choice,) = chunk["choices"]
        texts[choice["index"]] = texts.get(choice["index"], "") + (choice["delta"].get("content") or "")
        if choice["finish_reason"]:
            finishes[choice["index"]] = choice["finish_reason"]
    assert texts == {0: "Paris.", 1: "The capital of France is Paris.", 2: "Paris, on the Seine.", 3: "Paris."}
    assert finishes == dict.fromkeys(range(4), "stop")
    assert chunks[-1]["usage"]["completion_tokens"] == 2 + 7 + 6 + 2
    data = await (await client.post("/v1/chat/completions", json=chat("three-choices", stream=False, n=2))).json()
    assert [c["message"]["content"] for c in data["choices"]] == ["Paris.", "The capital of France is Paris."]


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("{name: s, text: hi, refusal: no}", "a refusal is the whole answer: scenario 's' has 'refusal' and 'text'"),
        ("{name: s, tool_calls: [{arguments: {}}]}", "tool call 1 of scenario 's' needs a 'name': the function called"),
        (
            "{name: s, tool_calls: [{name: f, arguments: 3}]}",
            "'arguments' in tool call 1 of scenario 's' must be auto, a mapping",
        ),
        (
            "{name: s, tool_calls: [{name: f, args: {}}]}",
            "unknown key 'args' in tool call 1 of scenario 's'; did you mean 'arguments'?",
        ),
        ("{name: s, text: hi, choices: [{text: a}]}", "has both 'choices' and 'text'; put 'text' inside each choice"),
        ("{name: s, choices: [{text: a, ttft_ms: 5}]}", "unknown key 'ttft_ms' in choice 1 of scenario 's'"),
        (
            "{name: s, chunks: [{content: a, standalone: true}]}",
            "'standalone' in chunk 1 of scenario 's' goes with 'error'",
        ),
        (
            "{name: s, chunks: [{disconnect: true, logprob: -1}]}",
            "'logprob' in chunk 1 of scenario 's' goes with 'content' only",
        ),
        (
            "{name: s, chunks: [a, {end: true}], tool_calls: [{name: f}]}",
            "the tool calls come after 'end', which ends the stream",
        ),
    ],
)
def test_new_keys_are_validated(scenario: str, message: str) -> None:
    found = problems(f"scenarios:\n  - {scenario}\n")
    assert len(found) == 1 and message in found[0], found


def test_tool_calls_default_their_finish_reason() -> None:
    (scenario,) = load_text("scenarios:\n  - {name: s, tool_calls: [{name: f}], finish_reason: stop}\n").scenarios
    assert scenario.steps[0].finish_reason == "stop"  # scripted wins
    (scenario,) = load_text("scenarios:\n  - {name: s, tool_calls: [{name: f}]}\n").scenarios
    assert scenario.steps[0].finish_reason == "tool_calls"
    assert scenario.steps[0].tool_calls[0].arguments == "{}"
