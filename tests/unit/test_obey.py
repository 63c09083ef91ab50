"""Answers obey the request: what the real API guarantees whatever the model "wants" wins over the script, with a
note in the journal; what the request shapes (schema JSON, forced calls, schema-valid arguments) is made from it;
a scenario without a body answers whatever the request requires."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import USER, sse_chunks

from mockserver.engine.schema_check import problem

PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city", "days"],
    "additionalProperties": False,
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": PARAMS, "strict": True}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]
REPORT = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature_c": {"type": "number", "minimum": -50, "maximum": 60},
        "sunny": {"type": "boolean"},
        "kind": {"enum": ["report", "forecast"]},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}, "minItems": 2},
    },
    "required": ["city", "temperature_c", "sunny", "kind", "tags"],
    "additionalProperties": False,
    "$defs": {
        "Tag": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
            "additionalProperties": False,
        }
    },
}
STRICT = {"type": "json_schema", "json_schema": {"name": "WeatherReport", "schema": REPORT, "strict": True}}
SCENARIOS = """
scenarios:
  - {name: default, ttft_ms: 0}
  - name: two-calls
    text: "Let me check."
    tool_calls: [{name: get_weather, arguments: {city: Paris, days: 1}}, {name: get_time, arguments: {}}]
  - {name: words, text: "It is sunny. END of the answer."}
  - {name: auto-json, reasoning: "Thinking.", json: auto}
  - {name: doc, json: {city: Paris, temperature_c: 21.5}}
  - {name: auto-call, tool_calls: auto}
  - {name: auto-args, tool_calls: [{name: get_weather, arguments: auto, id: call_fixed}]}
  - {name: bad-json, text: "{not json"}
"""


async def post(client: Any, path: str = "/v1/chat/completions", **body: Any) -> dict[str, Any]:
    response = await client.post(path, json={"model": "gpt-4o", "messages": USER, **body})
    assert response.status == 200, await response.text()
    return await response.json()


async def last_entry(client: Any) -> dict[str, Any]:
    return (await (await client.get("/_mock/requests?limit=1")).json())["requests"][0]


async def test_tool_choice_none_never_gets_a_call(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    message = (await post(client, model="two-calls", tools=TOOLS, tool_choice="none"))["choices"][0]
    assert (message["message"]["content"], message["message"].get("tool_calls"), message["finish_reason"]) == (
        "Let me check.",
        None,
        "stop",
    )
    assert (await last_entry(client))["notes"] == [
        "tool_choice none: the tool calls (get_weather, get_time) were left out"
    ]


async def test_tool_choice_required_always_gets_a_call(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    choice = (await post(client, model="words", tools=TOOLS, tool_choice="required"))["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather" and choice["finish_reason"] == "tool_calls"
    assert problem(json.loads(call["function"]["arguments"]), PARAMS) is None
    assert (await last_entry(client))["notes"] == ["tool_choice required: a call of get_weather was added"]


async def test_a_named_function_gets_exactly_that_function(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    named = {"type": "function", "function": {"name": "get_time"}}
    choice = (await post(client, model="two-calls", tools=TOOLS, tool_choice=named))["choices"][0]
    assert [c["function"] for c in choice["message"]["tool_calls"]] == [{"name": "get_time", "arguments": "{}"}]
    # a function the script does not call is called with arguments made from its schema
    named = {"type": "function", "function": {"name": "get_weather"}}
    choice = (await post(client, model="words", tools=TOOLS, tool_choice=named))["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert (
        call["function"]["name"] == "get_weather" and problem(json.loads(call["function"]["arguments"]), PARAMS) is None
    )


async def test_parallel_tool_calls_false_gets_one_call(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    choice = (await post(client, model="two-calls", tools=TOOLS, parallel_tool_calls=False))["choices"][0]
    assert [c["function"]["name"] for c in choice["message"]["tool_calls"]] == ["get_weather"]
    assert (await last_entry(client))["notes"] == [
        "parallel_tool_calls false: only the first call (get_weather) was kept"
    ]


async def test_stop_ends_the_content_before_the_sequence(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    data = await post(client, model="words", stop=["END", "never"])
    assert data["choices"][0]["message"]["content"] == "It is sunny. "
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["completion_tokens"] == 5  # "It", " is", " sunny", ".", " ": what was sent
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": "words",
            "messages": USER,
            "stream": True,
            "stop": "sunny",
            "stream_options": {"include_usage": True},
        },
    )
    chunks = sse_chunks(await response.read())
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "It is "
    assert chunks[-1]["usage"]["completion_tokens"] == 3  # "It", " is", " "
    # legacy completions too
    response = await client.post("/v1/completions", json={"model": "words", "prompt": "x", "stop": "."})
    assert (await response.json())["choices"][0]["text"] == "It is sunny"


async def test_json_auto_is_valid_for_the_schema_and_streams_in_pieces(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    content = (await post(client, model="auto-json", response_format=STRICT))["choices"][0]["message"]["content"]
    document = json.loads(content)
    assert problem(document, REPORT) is None and list(document) == list(REPORT["properties"])  # the schema's order
    again = (await post(client, model="auto-json", response_format=STRICT))["choices"][0]["message"]["content"]
    assert again == content  # the same schema and seed: the same document
    response = await client.post(
        "/v1/chat/completions", json={"model": "auto-json", "messages": USER, "stream": True, "response_format": STRICT}
    )
    pieces = [
        c["choices"][0]["delta"].get("content")
        for c in sse_chunks(await response.read())
        if c["choices"][0]["delta"].get("content")
    ]
    assert "".join(pieces) == content and len(pieces) > 10  # token-sized: fields fill in one by one
    # Responses: text.format
    body = {
        "model": "auto-json",
        "input": "hi",
        "text": {"format": {"type": "json_schema", "name": "r", "schema": REPORT, "strict": True}},
    }
    output = (await (await client.post("/v1/responses", json=body)).json())["output"]
    assert [item["type"] for item in output] == ["reasoning", "message"]
    assert problem(json.loads(output[1]["content"][0]["text"]), REPORT) is None


async def test_the_seed_changes_the_document(client_for: Any) -> None:
    documents = []
    for seed in (1, 2):
        client = await client_for(SCENARIOS, seed=seed)
        documents.append(
            (await post(client, model="auto-json", response_format=STRICT))["choices"][0]["message"]["content"]
        )
    assert documents[0] != documents[1]


async def test_scripted_json_and_generated_calls(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    content = (await post(client, model="doc"))["choices"][0]["message"]["content"]
    assert content == '{"city":"Paris","temperature_c":21.5}'
    call = (await post(client, model="auto-args", tools=TOOLS))["choices"][0]["message"]["tool_calls"][0]
    assert call["id"] == "call_fixed" and problem(json.loads(call["function"]["arguments"]), PARAMS) is None
    # tool_calls: auto calls the forced tool, or else the first offered one not called yet in this turn
    call = (await post(client, model="auto-call", tools=TOOLS))["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    done = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    call = (await post(client, model="auto-call", tools=TOOLS, messages=done))["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_time"
    # arguments: auto for a function the request does not offer: {}, and a note
    call = (await post(client, model="auto-args"))["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["arguments"] == "{}"
    assert (await last_entry(client))["notes"] == [
        "arguments: auto for get_weather, which the request does not offer: {}"
    ]


async def test_a_scenario_without_a_body_answers_what_the_request_requires(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    # nothing required: the greeting
    text = (await post(client))["choices"][0]["message"]["content"]
    assert text == "Hello! I'm a scripted assistant served by mockserver. How can I help you today?"
    # structured output: JSON for the schema
    assert (
        problem(json.loads((await post(client, response_format=STRICT))["choices"][0]["message"]["content"]), REPORT)
        is None
    )
    # JSON mode with the schema in the system prompt (pydantic-ai's PromptedOutput, instructor's JSON mode)
    prompted = [
        {"role": "system", "content": f"Reply in JSON that matches this schema:\n{json.dumps(REPORT)}\nThanks."},
        *USER,
    ]
    content = (await post(client, messages=prompted, response_format={"type": "json_object"}))["choices"][0]["message"][
        "content"
    ]
    assert problem(json.loads(content), REPORT) is None
    plain = await post(
        client, messages=[{"role": "user", "content": "json please"}], response_format={"type": "json_object"}
    )
    assert json.loads(plain["choices"][0]["message"]["content"]) == {"answer": text}
    # a forced tool: a call with schema-valid arguments
    choice = (await post(client, tools=TOOLS, tool_choice="required"))["choices"][0]
    assert (
        choice["finish_reason"] == "tool_calls"
        and choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    )
    # tools offered but not forced: text
    assert (await post(client, tools=TOOLS))["choices"][0]["message"]["content"] == text


async def test_a_scripted_answer_that_misses_a_strict_schema_is_sent_with_a_note(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    assert (await post(client, model="bad-json", response_format=STRICT))["choices"][0]["message"][
        "content"
    ] == "{not json"
    assert (await last_entry(client))["notes"] == [
        "the content, for the strict schema 'WeatherReport': not valid JSON; sent as scripted"
    ]
    await post(client, model="doc", response_format=STRICT)
    assert (await last_entry(client))["notes"] == [
        "the content, for the strict schema 'WeatherReport': $: 'sunny' is required; sent as scripted"
    ]
    await post(client, model="two-calls", tools=TOOLS)  # get_weather's scripted arguments fit its strict schema
    assert (await last_entry(client))["notes"] is None


async def test_the_journal_records_calls_and_results(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    data = await post(client, model="two-calls", tools=TOOLS)
    entry = await last_entry(client)
    ids = [call["id"] for call in data["choices"][0]["message"]["tool_calls"]]
    assert entry["tool_calls"] == [
        {"name": "get_weather", "id": ids[0], "arguments": '{"city": "Paris", "days": 1}'},
        {"name": "get_time", "id": ids[1], "arguments": "{}"},
    ]
    results = [
        *USER,
        data["choices"][0]["message"],
        *({"role": "tool", "tool_call_id": i, "content": "x"} for i in ids),
    ]
    await post(client, model="words", messages=results, tools=TOOLS)
    entry = await last_entry(client)
    assert entry["tool_results"] == [
        {"name": "get_weather", "call_id": ids[0]},
        {"name": "get_time", "call_id": ids[1]},
    ]
    assert entry["tool_calls"] is None


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_calls_are_journaled_with_their_call_ids(client_for: Any, stream: bool) -> None:
    client = await client_for(SCENARIOS)
    body = {
        "model": "auto-call",
        "input": "hi",
        "stream": stream,
        "tools": [{"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}],
    }
    response = await client.post("/v1/responses", json=body)
    text = (await response.read()).decode()
    entry = await last_entry(client)
    (call,) = entry["tool_calls"]
    assert call["name"] == "get_time" and call["id"].startswith("call_") and call["id"] in text
