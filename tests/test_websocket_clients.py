"""Proof with real clients of the Responses API's WebSocket mode: openai-python's `responses.connect()` (sync and
async) runs a tool loop on one connection, reconnects after a close with 1011 and resumes the work, gives up on
1008, backs off through refused upgrades; the OpenAI Agents SDK runs an agent over its websocket transport."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.websocket_reconnection import ReconnectingEvent

from mockserver.scenario.load import BUNDLED
from mockserver.testing import MockServer, OpenAIMock

pytestmark = pytest.mark.slow
websockets = pytest.importorskip("websockets", reason="the WebSocket proofs need openai[realtime]")

LOOP = """
scenarios:
  - name: loop-answer
    match: {tool_result: {name: get_time}}
    text: "It is sunny in Paris, and noon."
  - name: loop-time
    match: {tool_result: {name: get_weather, contains: sunny}}
    tool_calls: [{name: get_time, arguments: {city: Paris}}]
  - name: loop-weather
    match: {model: loop-*, last_role: user}
    tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: flaky
    sequence:
      - chunks: ["The answer", " starts", {close: 1011, reason: "internal error"}]
        interval_ms: 20
      - text: "The whole answer, this time."
"""
TOOLS = [
    {"type": "function", "name": name, "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    for name in ("get_weather", "get_time")
]
RESULTS = {"get_weather": "sunny, 21 C", "get_time": "12:00"}
TERMINAL = ("response.completed", "response.failed", "response.incomplete", "error")


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer([BUNDLED]) as running:
        yield running


def session(server: MockServer, name: str) -> OpenAIMock:
    mock = server.session(name)
    mock.add(LOOP)
    return mock


def events_of_a_turn(connection: Any) -> list[Any]:
    events = []
    for event in connection:
        events.append(event)
        if event.type in TERMINAL:
            return events
    raise AssertionError("the connection ended before the turn did")


def outputs(response: Any) -> list[dict[str, Any]]:
    """What the client sends back after running the tools a response calls."""
    calls = [item for item in response.output if item.type == "function_call"]
    return [{"type": "function_call_output", "call_id": call.call_id, "output": RESULTS[call.name]} for call in calls]


def test_a_three_turn_tool_loop_on_one_connection_with_store_false(server: MockServer) -> None:
    mock = session(server, "ws-loop")
    client = openai.OpenAI(base_url=mock.base_url, api_key="sk-test")
    with client.responses.connect() as connection:
        connection.response.create(model="loop-agent", input="Weather and time in Paris?", tools=TOOLS, store=False)
        response = events_of_a_turn(connection)[-1].response
        names = []
        while response.output[-1].type == "function_call":
            names.append(response.output[-1].name)
            connection.response.create(
                model="loop-agent", previous_response_id=response.id, input=outputs(response), tools=TOOLS, store=False
            )
            events = events_of_a_turn(connection)
            assert events[-1].type == "response.completed", events[-1]
            response = events[-1].response
    assert names == ["get_weather", "get_time"]
    assert response.output_text == "It is sunny in Paris, and noon."
    turns = [entry for entry in mock.requests if entry.method == "WS"]
    assert [entry.scenario for entry in turns] == ["loop-weather", "loop-time", "loop-answer"]
    assert len({entry.websocket for entry in mock.requests}) == 1  # one connection
    assert [call.name for call in mock.tool_calls()] == ["get_weather", "get_time"]
    mock.assert_client_resilient()


async def test_the_async_client_runs_the_same_loop(server: MockServer) -> None:
    mock = session(server, "ws-loop-async")
    client = openai.AsyncOpenAI(base_url=mock.base_url, api_key="sk-test")
    async with client.responses.connect() as connection:
        await connection.response.create(model="loop-agent", input="Weather and time?", tools=TOOLS, store=False)
        for _ in range(3):
            async for event in connection:
                if event.type in TERMINAL:
                    break
            assert event.type == "response.completed", event
            response = event.response
            if response.output[-1].type != "function_call":
                break
            await connection.response.create(
                model="loop-agent", previous_response_id=response.id, input=outputs(response), tools=TOOLS, store=False
            )
    await client.close()
    assert response.output_text == "It is sunny in Paris, and noon."
    assert [entry.scenario for entry in mock.requests if entry.method == "WS"] == [
        "loop-weather",
        "loop-time",
        "loop-answer",
    ]


def test_a_close_with_1011_mid_answer_reconnects_and_the_work_resumes(server: MockServer) -> None:
    mock = session(server, "ws-1011")
    client = openai.OpenAI(base_url=mock.base_url, api_key="sk-test")
    reconnections: list[ReconnectingEvent] = []
    request = {"model": "flaky", "input": "Tell me everything.", "store": False}

    def on_reconnecting(event: ReconnectingEvent) -> None:
        reconnections.append(event)
        connection.response.create(**request)  # the turn on the wire is lost: send it again, queued until reconnected

    with client.responses.connect(on_reconnecting=on_reconnecting) as connection:
        connection.response.create(**request)
        deltas = [event.delta for event in events_of_a_turn(connection) if event.type == "response.output_text.delta"]
    assert [(event.attempt, event.close_code) for event in reconnections] == [(1, 1011)]
    assert 0.375 <= reconnections[0].delay <= 0.5
    assert deltas[:2] == ["The answer", " starts"]  # what the first connection sent before it closed
    assert "".join(deltas[2:]) == "The whole answer, this time."
    connections = [entry for entry in mock.requests if entry.method == "GET"]
    assert [(entry.status, entry.close_code, entry.ended) for entry in connections] == [
        (101, 1011, "fault"),
        (101, 1000, "completed"),
    ]
    mock.assert_client_resilient()  # it came back, once, after the SDK's back-off


def test_a_close_with_1008_is_not_reconnected(server: MockServer) -> None:
    mock = session(server, "ws-1008")
    client = openai.OpenAI(base_url=mock.base_url, api_key="sk-test")
    reconnections: list[ReconnectingEvent] = []
    with client.responses.connect(on_reconnecting=reconnections.append) as connection:
        connection.response.create(model="fault-ws-close-1008", input="hi")
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
            events_of_a_turn(connection)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "policy violation"
    assert reconnections == []
    assert [entry.method for entry in mock.requests] == ["GET", "WS"]
    mock.assert_client_resilient()


def test_refused_upgrades_after_a_restart_are_backed_off_until_one_gets_in(server: MockServer) -> None:
    mock = session(server, "ws-restart")
    client = openai.OpenAI(base_url=mock.base_url, api_key="sk-test")
    reconnections: list[ReconnectingEvent] = []
    started = time.monotonic()

    def on_reconnecting(event: ReconnectingEvent) -> None:
        reconnections.append(event)
        if event.attempt == 1:
            connection.response.create(model="loop-agent", input="Weather?", tools=TOOLS)

    with client.responses.connect(on_reconnecting=on_reconnecting) as connection:
        connection.response.create(model="fault-ws-restart", input="hi")
        events_of_a_turn(connection)  # the restart's chunks, then (after two refusals) the resent turn
    assert [event.attempt for event in reconnections] == [1, 2, 3]
    assert time.monotonic() - started >= 0.375 + 0.75 + 1.5  # the SDK's back-off, doubling
    statuses = [entry.status for entry in mock.requests if entry.method == "GET"]
    assert statuses == [101, 503, 503, 101]
    mock.assert_client_resilient()


def test_bad_messages_get_the_error_event_and_the_connection_serves_the_next_turn(server: MockServer) -> None:
    mock = session(server, "ws-bad")
    client = openai.OpenAI(base_url=mock.base_url, api_key="sk-test")
    with client.responses.connect() as connection:
        connection.send_raw("{not json")
        connection.send({"type": "response.cancel"})  # type: ignore[arg-type,typeddict-item]
        connection.response.create(model="loop-agent", input="hi", temperature=3)
        errors = [connection.recv() for _ in range(3)]
        connection.response.create(model="loop-agent", input="Weather?", tools=TOOLS)
        after = events_of_a_turn(connection)[-1]
    assert [(error.type, error.status, error.error.code, error.error.param) for error in errors] == [
        ("error", 400, None, None),
        ("error", 400, "invalid_value", "type"),
        ("error", 400, "decimal_above_max_value", "temperature"),
    ]
    assert errors[0].error.message.startswith("We could not parse the JSON body of your request.")
    assert errors[2].error.message == (
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead."
    )
    assert after.type == "response.completed" and after.response.output[0].name == "get_weather"
    assert [entry.status for entry in mock.requests] == [101, 400, 400, 400, 200]


def test_the_upgrade_is_refused_with_the_real_401_without_the_api_key() -> None:
    with MockServer([BUNDLED], api_key="sk-right") as keyed:
        client = openai.OpenAI(base_url=keyed.session("keyed").base_url, api_key="sk-wrong")
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused, client.responses.connect():
            pass
    assert refused.value.response.status_code == 401
    body = json.loads(refused.value.response.body)
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["message"].startswith("Incorrect API key provided: ")


# --- the OpenAI Agents SDK ----------------------------------------------------------------------------------------


async def test_the_agents_sdk_runs_an_agent_with_a_function_tool_over_its_websocket_transport(
    server: MockServer,
) -> None:
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)
    mock = server.session("ws-agents")
    client = openai.AsyncOpenAI(base_url=mock.base_url, api_key="sk-test")

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    @agents.function_tool
    def get_time(city: str) -> str:
        """The local time in a city."""
        return f"noon in {city}"

    agents.set_default_openai_responses_transport("websocket")
    try:
        provider = agents.OpenAIProvider(openai_client=client)
        agent = agents.Agent(name="weather", instructions="Report the weather.", tools=[get_weather, get_time])
        result = await agents.Runner.run(
            agent, "What's the weather in Paris?", run_config=agents.RunConfig(model_provider=provider)
        )
    finally:
        agents.set_default_openai_responses_transport("http")
    await client.close()
    assert result.final_output == "It is sunny in Paris right now, and the local time there is noon."
    assert [(entry.method, entry.scenario) for entry in mock.requests if entry.method == "WS"] == [
        ("WS", "agent-call-tools"),
        ("WS", "agent-answer"),
    ]
    assert [call.name for call in mock.tool_calls()] == ["get_weather", "get_time"]
    first = next(entry for entry in mock.requests if entry.method == "WS")
    assert first.body["type"] == "response.create" and first.body["stream"] is True  # as the Agents SDK sends it
