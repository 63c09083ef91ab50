"""Agent frameworks, run as their users run them: pydantic-ai and the OpenAI Agents SDK drive a two-tool loop whose
every step is picked by `match` alone (the bundled agents.yaml), and get structured output from the bundled
`default` with no scenario written; openai-python's helpers get what the request requires."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from mockserver.scenario.load import BUNDLED
from mockserver.testing import MockServer, OpenAIMock

pytestmark = pytest.mark.slow  # real clients, subprocesses or a browser

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")  # the Agents SDK exports traces to api.openai.com

ANSWER = "It is sunny in Paris right now, and the local time there is noon."


class WeatherReport(BaseModel):
    city: str
    temperature_c: float
    sunny: bool


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer([BUNDLED], speed=0) as running:
        yield running


@pytest.fixture(scope="module")
def plain_server() -> Iterator[MockServer]:
    """Only the everyday scenarios: `default` answers every request."""
    with MockServer([BUNDLED / "basics.yaml"], speed=0) as running:
        yield running


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny, 21C in {city}"


def get_time(city: str, utc: bool = False) -> str:
    """Local time in a city."""
    return "12:00"


# --- pydantic-ai ------------------------------------------------------------------------------------------------

pydantic_ai = pytest.importorskip("pydantic_ai")
from pydantic_ai import Agent, NativeOutput  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402


def pai_model(mock: OpenAIMock, api: str) -> Any:
    provider = OpenAIProvider(base_url=mock.base_url, api_key="sk-test")
    return (
        OpenAIChatModel("gpt-4o", provider=provider)
        if api == "chat"
        else OpenAIResponsesModel("gpt-4o", provider=provider)
    )


def pai_agent(model: Any, **settings: Any) -> Any:
    agent = Agent(model, instructions="You are a helpful assistant.", **settings)
    agent.tool_plain(get_weather)
    agent.tool_plain(get_time)
    return agent


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_stream"])
async def test_pydantic_ai_two_tool_loop_picked_by_match(server: MockServer, api: str, streamed: bool) -> None:
    mock = server.session(f"pai-{api}-{streamed}")
    agent = pai_agent(pai_model(mock, api))
    if streamed:
        async with agent.run_stream("What's the weather and time in Paris?") as run:
            output = await run.get_output()
    else:
        output = (await agent.run("What's the weather and time in Paris?")).output
    assert output == ANSWER
    assert [entry.scenario for entry in mock.requests] == ["agent-call-tools", "agent-answer"]
    calls = mock.tool_calls()
    assert [call.name for call in calls] == ["get_weather", "get_time"]
    assert set(calls[0].parsed()) == {"city"}  # arguments made from the tool's schema
    assert mock.requests[1].tool_results == [
        {"name": "get_weather", "call_id": calls[0].id},
        {"name": "get_time", "call_id": calls[1].id},
    ]


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("output", ["tool", "native"])
async def test_pydantic_ai_output_type_with_no_scenario(plain_server: MockServer, api: str, output: str) -> None:
    mock = plain_server.session(f"pai-output-{api}-{output}")
    agent = pai_agent(
        pai_model(mock, api), output_type=WeatherReport if output == "tool" else NativeOutput(WeatherReport)
    )
    report = (await agent.run("Weather in Paris?")).output
    assert isinstance(report, WeatherReport)
    names = [call.name for call in mock.tool_calls()]
    # Tool output: `tool_choice: required` gets the agent's tools, each once, then its final_result tool.
    assert names == (["get_weather", "get_time", "final_result"] if output == "tool" else [])
    assert {entry.scenario for entry in mock.requests} == {"default"}


# --- the OpenAI Agents SDK ----------------------------------------------------------------------------------------

agents = pytest.importorskip("agents")
agents.set_tracing_disabled(True)


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_agents_sdk_run_streamed_with_a_function_tool_and_an_output_type(server: MockServer, api: str) -> None:
    mock = server.session(f"agents-{api}")
    client = openai.AsyncOpenAI(base_url=mock.base_url, api_key="sk-test")
    if api == "responses":
        model: Any = agents.OpenAIResponsesModel(model="gpt-4o", openai_client=client)
    else:
        model = agents.OpenAIChatCompletionsModel(model="gpt-4o", openai_client=client)
    agent = agents.Agent(
        name="weather",
        instructions="Report the weather.",
        tools=[agents.function_tool(get_weather), agents.function_tool(get_time)],
        output_type=WeatherReport,
        model=model,
    )
    result = agents.Runner.run_streamed(agent, "What's the weather and time in Paris?")
    kinds = {event.type async for event in result.stream_events()}
    await client.close()
    assert isinstance(result.final_output, WeatherReport)
    assert "run_item_stream_event" in kinds and "raw_response_event" in kinds
    assert [entry.scenario for entry in mock.requests] == ["agent-call-tools", "agent-structured-answer"]
    assert [call.name for call in mock.tool_calls()] == ["get_weather", "get_time"]


# --- openai-python --------------------------------------------------------------------------------------------


def test_parse_helpers_get_schema_valid_json_from_the_default(plain_server: MockServer) -> None:
    mock = plain_server.session("parse")
    client = openai.OpenAI(base_url=mock.base_url, api_key="sk-test")
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    parsed = client.chat.completions.parse(model="gpt-4o", messages=messages, response_format=WeatherReport)
    assert isinstance(parsed.choices[0].message.parsed, WeatherReport)
    response = client.responses.parse(model="gpt-4o", input="Weather in Paris?", text_format=WeatherReport)
    assert isinstance(response.output_parsed, WeatherReport)
    with client.chat.completions.stream(model="gpt-4o", messages=messages, response_format=WeatherReport) as stream:
        partial = [event.parsed for event in stream if event.type == "content.delta" and event.parsed]
        final = stream.get_final_completion()
    assert len(partial) > 3 and final.choices[0].message.parsed == parsed.choices[0].message.parsed


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


def test_tool_choice_parallel_tool_calls_and_stop_are_obeyed(server: MockServer) -> None:
    mock = server.session("obeyed")
    client = openai.OpenAI(base_url=mock.base_url, api_key="sk-test")
    messages: Any = [{"role": "user", "content": "hi"}]
    two = [WEATHER_TOOL, {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]

    def create(**kwargs: Any) -> Any:
        return client.chat.completions.create(messages=messages, **kwargs).choices[0]

    assert create(model="tool-call", tools=two, tool_choice="none").message.tool_calls is None
    (call,) = create(model="finish-stop", tools=two, tool_choice="required").message.tool_calls
    assert call.function.name == "get_weather" and set(json.loads(call.function.arguments)) == {"city"}
    named = {"type": "function", "function": {"name": "get_time"}}
    assert [
        c.function.name for c in create(model="parallel-tool-calls", tools=two, tool_choice=named).message.tool_calls
    ] == ["get_time"]
    assert len(create(model="parallel-tool-calls", tools=two, parallel_tool_calls=False).message.tool_calls) == 1
    choice = create(model="finish-stop", stop=["France"])
    assert (choice.message.content, choice.finish_reason) == ("The capital of ", "stop")
    notes = [entry.notes for entry in mock.requests]
    assert notes[0] == ["tool_choice none: the tool calls (get_weather) were left out"]
    assert notes[4] == ["stop: the content ends before 'France'"]
