"""`match` rules on the conversation choose each step of an agent loop by what the request is: the same rules
read chat messages, Responses input items (a function_call_output is a tool result, `instructions` a system
message) and a legacy prompt. A miss names the closest scenarios and the rule each failed; /_mock/explain shows
the same for any body without answering it."""

from __future__ import annotations

import json
from typing import Any

from helpers import USER

from mockserver.engine.ask import Ask, Message
from mockserver.engine.matching import Facts, miss
from mockserver.scenario.load import load_text

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]
LOOP = """
scenarios:
  - name: follow-up
    match: {tools: [get_weather, get_time], last_role: user, turn: {min: 1}}
    text: follow-up
  - name: call
    match: {tools: get_*, last_role: user}
    tool_calls: [{name: get_weather, arguments: auto}, {name: get_time, arguments: auto}]
  - name: structured
    match: {last_role: tool, tool_result: {name: get_weather}, response_format: {type: json_schema, name: Weather*}}
    json: auto
  - name: answer
    match: {last_role: tool, tool_result: {name: get_weather, contains: SUNNY}}
    text: answer
"""


def assistant_calls(*pairs: tuple[str, str]) -> dict[str, Any]:
    listed = [{"id": i, "type": "function", "function": {"name": n, "arguments": "{}"}} for i, n in pairs]
    return {"role": "assistant", "content": None, "tool_calls": listed}


async def chosen(client: Any, path: str, body: dict[str, Any], **headers: str) -> str | None:
    response = await client.post(path, json=body, headers=headers)
    assert response.status in (200, 404), await response.text()
    journal = (await (await client.get("/_mock/requests?limit=1")).json())["requests"]
    return journal[-1]["scenario"]


async def test_each_step_of_a_chat_loop_is_chosen_by_what_the_request_is(client_for: Any) -> None:
    client = await client_for(LOOP)
    first = [{"role": "system", "content": "You report the weather."}, {"role": "user", "content": "Paris?"}]
    results = [
        assistant_calls(("call_1", "get_weather"), ("call_2", "get_time")),
        {"role": "tool", "tool_call_id": "call_2", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
    ]
    body = {"model": "gpt-4o", "tools": TOOLS}
    assert await chosen(client, "/v1/chat/completions", {**body, "messages": first}) == "call"
    # a retry of the same request gets the same step: nothing is counted
    assert await chosen(client, "/v1/chat/completions", {**body, "messages": first}) == "call"
    assert await chosen(client, "/v1/chat/completions", {**body, "messages": first + results}) == "answer"
    schema = {"name": "WeatherReport", "schema": {"type": "object", "properties": {}}}
    structured = {
        **body,
        "messages": first + results,
        "response_format": {"type": "json_schema", "json_schema": schema},
    }
    assert await chosen(client, "/v1/chat/completions", structured) == "structured"
    later = first + results + [{"role": "assistant", "content": "Sunny."}, {"role": "user", "content": "And now?"}]
    assert await chosen(client, "/v1/chat/completions", {**body, "messages": later}) == "follow-up"


async def test_the_same_rules_read_responses_input_items(client_for: Any) -> None:
    client = await client_for(LOOP)
    tools = [
        {"type": "function", "name": t["function"]["name"], "parameters": t["function"]["parameters"]} for t in TOOLS
    ]
    items = [
        {"role": "user", "content": "Paris?"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
    ]
    body = {"model": "gpt-4o", "tools": tools, "instructions": "Report the weather."}
    assert await chosen(client, "/v1/responses", {**body, "input": items[:1]}) == "call"
    assert await chosen(client, "/v1/responses", {**body, "input": items}) == "answer"
    text = {"format": {"type": "json_schema", "name": "WeatherReport", "schema": {"type": "object", "properties": {}}}}
    assert await chosen(client, "/v1/responses", {**body, "input": items, "text": text}) == "structured"


def facts(*messages: Message, prior: tuple[Message, ...] = (), **ask: Any) -> Facts:
    user = next((m.text for m in reversed(messages) if m.role == "user"), "")
    return Facts(
        Ask(model="gpt-4o", last_user=user, prompt_tokens=1, stream=False, messages=messages, prior=prior, **ask)
    )


def match_of(rules: str) -> Any:
    result = load_text(f"scenarios:\n  - name: s\n    match: {rules}\n    text: x\n")
    assert result.problems == []
    return result.scenarios[0].match


def test_rules_read_prior_turns_too() -> None:
    """A request that continues a stored conversation carries only its newest items; the rules see them all."""
    from mockserver.engine.ask import Call

    prior = (
        Message("developer", "Be brief."),
        Message("user", "Paris?"),
        Message("assistant", calls=(Call("c1", "get_weather", "{}"),)),
    )
    request = facts(Message("tool", "sunny", call_id="c1"), prior=prior)
    assert (
        miss(
            match_of("{last_role: tool, turn: 1, tool_result: {name: get_weather}, system: brief, contains: paris}"),
            request,
        )
        is None
    )
    assert str(miss(match_of("{turn: 0}"), request)) == "turn: wanted 0, got 1"


def test_each_rule_says_what_it_wanted_and_what_the_request_had() -> None:
    request = facts(Message("system", "You are terse."), Message("user", "Hello there"))
    cases = {
        "{model: 'o3*'}": "model: wanted 'o3*', got 'gpt-4o'",
        "{tools: get_weather}": "tools: wanted 'get_weather' offered, got no tools",
        "{tool_choice: required}": "tool_choice: wanted 'required', got 'none'",
        "{response_format: json_object}": "response_format: wanted 'json_object', got 'text'",
        "{response_format: {name: 'Weather*'}}": "response_format: wanted 'json_schema' named 'Weather*', got 'text'",
        "{headers: {x-agent: 'planner*'}}": "headers.x-agent: wanted 'planner*', got no such header",
        "{metadata: {user: alice}}": "metadata.user: wanted 'alice', got no such key",
        "{contains: poem}": "contains: wanted 'poem', got 'Hello there'",
        "{regex: '^Bye'}": "regex: wanted '^Bye', got 'Hello there'",
        "{last_role: tool}": "last_role: wanted 'tool', got 'user'",
        "{turn: {min: 2, max: 3}}": "turn: wanted 2 to 3, got 0",
        "{tool_result: {name: get_time}}": "tool_result: wanted name 'get_time', got none",
        "{system: {contains: verbose}}": "system.contains: wanted 'verbose', got 'You are terse.'",
    }
    for rules, expected in cases.items():
        assert str(miss(match_of(rules), request)) == expected, rules
    # the request's own rules come before the conversation's: the first failing one is named
    assert str(miss(match_of("{last_role: tool, tools: get_weather}"), request)).startswith("tools:")


def test_headers_and_metadata_are_globs() -> None:
    request = Facts(
        Ask(model="m", last_user="", prompt_tokens=1, stream=False, metadata={"user": "alice-7"}),
        {"X-Agent": "planner-2"},
    )
    assert miss(match_of("{headers: {x-agent: 'planner*'}, metadata: {user: 'alice-*'}}"), request) is None


async def test_a_legacy_prompt_is_a_user_message_at_turn_0(client_for: Any) -> None:
    client = await client_for(
        "scenarios:\n  - {name: first, match: {last_role: user, turn: 0, contains: hello}, text: hi}\n"
    )
    response = await client.post("/v1/completions", json={"model": "m", "prompt": "hello"})
    assert (await response.json())["choices"][0]["text"] == "hi"


async def test_a_miss_names_the_closest_scenarios_and_why(client_for: Any) -> None:
    client = await client_for(LOOP)
    body = {
        "model": "gpt-4o",
        "messages": [
            *USER,
            assistant_calls(("c1", "get_time")),
            {"role": "tool", "tool_call_id": "c1", "content": "12:00"},
        ],
    }
    response = await client.post("/v1/chat/completions", json={**body, "tools": TOOLS})
    assert response.status == 404
    error = (await response.json())["error"]
    assert error["code"] == "scenario_not_found"
    assert error["message"].startswith(
        "No scenario matches this request (model 'gpt-4o') and there is no 'default'. Closest: "
        "'answer' (tool_result: wanted name 'get_weather', contains 'SUNNY', got get_time '12:00'); "  # got furthest
        "'follow-up' (last_role: wanted 'user', got 'tool'); "  # one rule fails, three hold
        "'call' (last_role: wanted 'user', got 'tool'). "
        "Available scenarios: follow-up, call, structured, answer."
    )
    (entry,) = (await (await client.get("/_mock/requests")).json())["requests"]
    assert entry["miss"][0] == {
        "scenario": "answer",
        "rule": "tool_result",
        "wanted": "name 'get_weather', contains 'SUNNY'",
        "got": "get_time '12:00'",
    }
    assert entry["tool_results"] == [{"name": "get_time", "call_id": "c1"}]


async def test_explain_traces_a_request_without_answering_it(client_for: Any) -> None:
    client = await client_for(LOOP + "  - name: steps\n    sequence: [{text: a}, {text: b}]\n")
    body = {"model": "gpt-4o", "tools": TOOLS, "messages": USER}
    response = await client.post("/_mock/explain", data=json.dumps(body))
    trace = await response.json()
    assert trace["endpoint"] == "chat" and trace["error"] is None
    assert trace["chosen"] == {"scenario": "call", "chosen_by": "match", "step": 1, "source": "<inline>:6"}
    assert trace["request"]["last_role"] == "user" and trace["request"]["tools"] == ["get_weather", "get_time"]
    verdicts = {entry["name"]: (entry["holds"], entry["miss"]) for entry in trace["scenarios"]}
    assert verdicts["follow-up"] == (False, {"rule": "turn", "wanted": "1 or more", "got": "0"})
    assert verdicts["call"] == (True, None) and verdicts["steps"] == (None, None)
    # nothing was answered, journaled or counted
    assert (await (await client.get("/_mock/requests")).json())["requests"] == []
    for _ in range(2):
        trace = await (await client.post("/_mock/explain", data=json.dumps({**body, "model": "steps"}))).json()
        assert trace["chosen"]["step"] == 1
    # an invalid body: the error the request would get
    trace = await (await client.post("/_mock/explain?endpoint=responses", data=json.dumps({"input": "hi"}))).json()
    assert trace["error"]["code"] == "missing_required_parameter" and trace["chosen"] is None
    # the endpoint is told by the body's keys, or named
    assert (await (await client.post("/_mock/explain", data='{"model": "m", "prompt": "x"}')).json())[
        "endpoint"
    ] == "completions"
    bad = await client.post("/_mock/explain?endpoint=embeddings", data="{}")
    assert bad.status == 400


def test_the_explain_command(tmp_path: Any, capsys: Any) -> None:
    from mockserver.cli import main

    scenarios = tmp_path / "agent.yaml"
    scenarios.write_text(LOOP)
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"model": "gpt-4o", "tools": TOOLS, "messages": USER}))
    assert main(["explain", str(scenarios), "--request", str(body)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "request (chat): model 'gpt-4o', last message from user, turn 0, tools get_weather, get_time (tool_choice auto)"
    )
    assert lines[1] == f"  follow-up   no: turn: wanted 1 or more, got 0  ({scenarios}:3)"
    assert lines[2] == f"  call        match holds  ({scenarios}:6)"
    assert lines[-1] == "chosen: call (by match)"
    # a header names the scenario; JSON for a program
    assert (
        main(["explain", str(scenarios), "--request", str(body), "--header", "X-Mock-Scenario: answer", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["chosen"]["chosen_by"] == "header"
    # no scenario: exit 1, with the 404 the request would get
    body.write_text(json.dumps({"model": "gpt-4o", "messages": USER}))
    assert main(["explain", str(scenarios), "--request", str(body)]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("answer: 404 scenario_not_found: No scenario matches")
    # a body that is not JSON, a bad header: exit 2 with a message
    body.write_text("{nope")
    assert main(["explain", str(scenarios), "--request", str(body)]) == 2
    assert "cannot read the request body" in capsys.readouterr().err
