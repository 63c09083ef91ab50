"""What a recording needs of the scenario format, in the format itself: every kind of delta as a `chunks` item with
its own delay, a scripted `system_fingerprint`, reasoning and cached token counts in `usage`, and `continues`
items that add steps to a sequence from further down a file."""

from __future__ import annotations

import json
import time
from typing import Any

from helpers import chat, problems, response_request, sse_chunks
from openai.types.chat import ChatCompletionChunk

from mockserver import load_text

STREAMED = """
scenarios:
  - name: streamed
    model: gpt-4o-2024-08-06
    system_fingerprint: fp_0123456789
    chunks:
      - {content: "Let me", delay_ms: 40}
      - " check."
      - {refusal: "No.", delay_ms: 5}
      - {tool_call: {name: get_weather, id: call_abc}, delay_ms: 30}
      - {arguments: '{"city"'}
      - {arguments: ': "Paris"}', delay_ms: 20}
      - {tool_call: {name: get_time}}
      - {arguments: "{}"}
    usage: {prompt_tokens: 12, completion_tokens: 9, reasoning_tokens: 3, cached_tokens: 8}
  - name: thinking
    raw_reasoning: true
    chunks:
      - {reasoning: "Six", delay_ms: 10}
      - {reasoning: " sevens."}
      - "42"
  - name: retried
    error: {status: 429, retry_after_ms: 5}
  - name: other
    text: unrelated
  - continues: retried
    text: "Thanks for waiting."
"""


async def test_delta_items_stream_in_order_with_their_delays(client_for: Any) -> None:
    client = await client_for(STREAMED)
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=chat("streamed", stream_options={"include_usage": True}))
    body = await response.read()
    elapsed = time.monotonic() - started
    assert elapsed >= 0.095  # 40 + 5 + 30 + 20 ms of scripted delays, on absolute deadlines
    chunks = sse_chunks(body)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert {chunk["model"] for chunk in chunks} == {"gpt-4o-2024-08-06"}
    assert {chunk["system_fingerprint"] for chunk in chunks} == {"fp_0123456789"}
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    assert deltas[1:4] == [{"content": "Let me"}, {"content": " check."}, {"refusal": "No."}]
    calls = [call for delta in deltas for call in delta.get("tool_calls", [])]
    assert calls == [
        {"index": 0, "id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"city"'}},
        {"index": 0, "function": {"arguments": ': "Paris"}'}},
        {"index": 1, "id": calls[3]["id"], "type": "function", "function": {"name": "get_time", "arguments": ""}},
        {"index": 1, "function": {"arguments": "{}"}},
    ]
    finish = [chunk["choices"][0]["finish_reason"] for chunk in chunks if chunk["choices"]]
    assert finish[-1] == "tool_calls"
    usage = chunks[-1]["usage"]
    assert usage["prompt_tokens"] == 12 and usage["completion_tokens"] == 9
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 3
    assert usage["prompt_tokens_details"]["cached_tokens"] == 8


async def test_the_same_items_on_the_responses_api(client_for: Any) -> None:
    client = await client_for(STREAMED)
    response = await client.post("/v1/responses", json=response_request("streamed", stream=False))
    body = await response.json()
    kinds = [item["type"] for item in body["output"]]
    assert kinds == ["message", "function_call", "function_call"]
    assert body["output"][0]["content"][0]["text"] == "Let me check."
    assert body["output"][0]["content"][1] == {"type": "refusal", "refusal": "No."}
    first = body["output"][1]
    assert (first["name"], first["call_id"], first["arguments"]) == ("get_weather", "call_abc", '{"city": "Paris"}')
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] == 3
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 8


async def test_reasoning_items_stream_as_raw_reasoning(client_for: Any) -> None:
    client = await client_for(STREAMED)
    response = await client.post("/v1/chat/completions", json=chat("thinking"))
    deltas = [chunk["choices"][0]["delta"] for chunk in sse_chunks(await response.read())]
    assert [delta.get("reasoning_content") for delta in deltas if "reasoning_content" in delta] == ["Six", " sevens."]
    assert {"content": "42"} in deltas


async def test_a_continues_item_is_the_next_step(client_for: Any) -> None:
    client = await client_for(STREAMED)
    first = await client.post("/v1/chat/completions", json=chat("retried", stream=False))
    assert first.status == 429
    second = await client.post("/v1/chat/completions", json=chat("retried", stream=False))
    assert (await second.json())["choices"][0]["message"]["content"] == "Thanks for waiting."


def test_continuation_problems_name_their_lines() -> None:
    text = """scenarios:
  - {continues: a, text: x}
  - name: a
    text: y
  - continues: a
    name: b
    txt: z
  - continues: a
    chunks: [{arguments: "{}"}]
"""
    assert problems(text) == [
        "s.yaml:2: 'continues' names 'a', which is not a scenario above it in this list: a step that continues a "
        "sequence comes after the scenario it continues",
        "s.yaml:6: a 'continues' item is step 2 of scenario 'a': it has no 'name' of its own (a new scenario has no "
        "'continues')",
        "s.yaml:7: unknown key 'txt' in step 2 of scenario 'a'; did you mean 'text'?",
        "s.yaml:9: step 2 of scenario 'a': an 'arguments' item comes before any 'tool_call'",
    ]


def test_a_continued_scenario_is_one_sequence() -> None:
    result = load_text(STREAMED)
    assert result.problems == []
    retried = next(s for s in result.scenarios if s.name == "retried")
    assert retried.is_sequence and len(retried.steps) == 2
    assert [s.name for s in result.scenarios] == ["streamed", "thinking", "retried", "other"]


def test_tool_call_items_and_tool_calls_exclude_each_other() -> None:
    assert problems("scenarios:\n  - name: s\n    chunks: [{tool_call: {name: f}}]\n    tool_calls: [{name: g}]\n") == [
        "s.yaml:4: scenario 's' has 'tool_calls' and 'tool_call' items in 'chunks'; give one"
    ]
    assert problems("scenarios:\n  - name: s\n    chunks: [{tool_call: {id: x}}]\n") == [
        "s.yaml:3: 'tool_call' in chunk 1 of scenario 's' needs a 'name': the function called"
    ]
    assert json.loads(json.dumps(problems("scenarios:\n  - name: s\n    system_fingerprint: 5\n    text: a\n"))) == [
        "s.yaml:3: 'system_fingerprint' in scenario 's' must be text, got a number"
    ]


async def test_a_request_that_offers_tools_keeps_the_scripted_fragments(client_for: Any) -> None:
    """The answer obeys the request (tool_choice, parallel calls, ...), and when nothing changes, the calls stay
    as scripted: their fragments and delays, not token-sized pieces at once."""
    client = await client_for(STREAMED)
    tools = [{"type": "function", "function": {"name": name}} for name in ("get_weather", "get_time")]
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=chat("streamed", tools=tools))
    chunks = sse_chunks(await response.read())
    assert time.monotonic() - started >= 0.095
    fragments = [
        call["function"]["arguments"]
        for chunk in chunks
        for call in chunk["choices"][0]["delta"].get("tool_calls", [])
        if "id" not in call
    ]
    assert fragments == ['{"city"', ': "Paris"}', "{}"]
