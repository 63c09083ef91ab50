"""The requests the real API refuses are refused here too, each with the real status, `type`, `code`, `param` and
message: unknown parameters, ranges, tools and tool choices, structured output, the conversation's consistency,
JSON mode, the model's limits. Valid requests of the same shapes still pass."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import USER, error_of

SCENARIOS = "scenarios:\n  - {name: default, text: ok}\n  - {name: gpt-4o, text: a scenario named like a model}\n"

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CLOSED = {**WEATHER, "additionalProperties": False}


def tool(name: str = "get_weather", parameters: Any = CLOSED, **more: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters, **more}}


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": USER, **extra}


def calls(*ids: str) -> dict[str, Any]:
    listed = [{"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}} for i in ids]
    return {"role": "assistant", "content": None, "tool_calls": listed}


# body, param, code, message
CHAT_CASES: list[tuple[dict[str, Any], str | None, str | None, str]] = [
    # unknown parameters, with the live API's spelling help
    (chat(zzz_unknown=1), "zzz_unknown", "unknown_parameter", "Unknown parameter: 'zzz_unknown'."),
    (chat(temperatur=1), "temperatur", "unknown_parameter", "Unknown parameter: 'temperatur'. Did you mean 'temperature'?"),
    (chat(stor=True), "stor", "unknown_parameter", "Unknown parameter: 'stor'. Did you mean 'stop' or 'store'?"),
    (chat(messagess=[]), "messagess", "unknown_parameter", "Unknown parameter: 'messagess'."),  # 'messages' is there
    (chat(reasoning={"effort": "low"}), "reasoning", "unknown_parameter", "Unknown parameter: 'reasoning'."),
    (chat(stream=True, stream_options={"bogus": 1}), "stream_options.bogus", "unknown_parameter", "Unknown parameter: 'stream_options.bogus'."),
    # an unknown parameter is reported before any other problem
    (chat(top_k=5, temperature=9), "top_k", "unknown_parameter", "Unknown parameter: 'top_k'. Did you mean 'top_p'?"),
    # ranges and types
    (chat(temperature=3), "temperature", "decimal_above_max_value", "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead."),
    (chat(temperature=-1), "temperature", "decimal_below_min_value", "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -1 instead."),
    (chat(temperature=2.5), "temperature", "decimal_above_max_value", "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead."),
    (chat(temperature="hot"), "temperature", "invalid_type", "Invalid type for 'temperature': expected a decimal, but got a string instead."),
    (chat(top_p=2), "top_p", "decimal_above_max_value", "Invalid 'top_p': decimal above maximum value. Expected a value <= 1, but got 2 instead."),
    (chat(presence_penalty=5), "presence_penalty", "decimal_above_max_value", "Invalid 'presence_penalty': decimal above maximum value. Expected a value <= 2, but got 5 instead."),
    (chat(presence_penalty=-3), "presence_penalty", "decimal_below_min_value", "Invalid 'presence_penalty': decimal below minimum value. Expected a value >= -2, but got -3 instead."),
    (chat(frequency_penalty=3), "frequency_penalty", "decimal_above_max_value", "Invalid 'frequency_penalty': decimal above maximum value. Expected a value <= 2, but got 3 instead."),
    (chat(logprobs=True, top_logprobs=21), "top_logprobs", "integer_above_max_value", "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 instead."),
    (chat(top_logprobs=2), "top_logprobs", None, "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled."),
    (chat(n=129), "n", "integer_above_max_value", "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead."),
    (chat(max_completion_tokens=0), "max_completion_tokens", "integer_below_min_value", "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead."),
    (chat(seed=1.5), "seed", "invalid_type", "Invalid type for 'seed': expected an integer, but got a decimal number instead."),
    (chat(max_tokens=10, max_completion_tokens=10), "max_tokens", "invalid_parameter_combination", "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported."),
    (chat(stop=["a", "b", "c", "d", "e"]), "stop", "array_above_max_length", "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length 5 instead."),
    (chat(service_tier="scale"), "service_tier", "invalid_value", "Invalid value: 'scale'. Supported values are: 'auto', 'default', 'fast', 'flex', and 'priority'."),
    (chat(safety_identifier="x" * 70), "safety_identifier", "string_above_max_length", "Invalid 'safety_identifier': string too long. Expected a string with maximum length 64, but got a string with length 70 instead."),
    (chat(metadata={f"k{i}": "v" for i in range(17)}), "metadata", "object_above_max_properties", "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead."),
    (chat(metadata={"k": "v" * 600}), "metadata.k", "string_above_max_length", "Invalid 'metadata.k': string too long. Expected a string with maximum length 512, but got a string with length 600 instead."),
    (chat(metadata={"k": 5}), "metadata.k", "invalid_type", "Invalid type for 'metadata.k': expected a string, but got an integer instead."),
    (chat(metadata={"k" * 70: "v"}), "metadata." + "k" * 70, "property_name_above_max_length", "Invalid property name in 'metadata': 'kkk...kkk' is too long. Expected a string with maximum length 64, but got a string with length 70 instead."),
    (chat(tools="get_weather"), "tools", "invalid_type", "Invalid type for 'tools': expected an array of objects, but got a string instead."),
    # tools
    (chat(tools=[{"type": "function"}]), "tools[0].function", "missing_required_parameter", "Missing required parameter: 'tools[0].function'."),
    (chat(tools=[{"type": "function", "function": {}}]), "tools[0].function.name", "missing_required_parameter", "Missing required parameter: 'tools[0].function.name'."),
    (chat(tools=[tool("")]), "tools[0].function.name", "empty_string", "Invalid 'tools[0].function.name': empty string. Expected a string with minimum length 1, but got an empty string instead."),
    (chat(tools=[tool("get weather!")]), "tools[0].function.name", "invalid_value", "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
    (chat(tools=[tool("f" * 65)]), "tools[0].function.name", "string_above_max_length", "Invalid 'tools[0].function.name': string too long. Expected a string with maximum length 64, but got a string with length 65 instead."),
    (chat(tools=[tool(parameters=WEATHER, strict=True)]), "tools[0].function.parameters", "invalid_function_parameters", "Invalid schema for function 'get_weather': In context=(), 'additionalProperties' is required to be supplied and to be false."),
    (
        chat(tools=[tool(parameters={**CLOSED, "properties": {"city": {"type": "string"}, "at": {"type": "object", "properties": {}}}, "required": ["city", "at"]}, strict=True)]),
        "tools[0].function.parameters",
        "invalid_function_parameters",
        "Invalid schema for function 'get_weather': In context=('properties', 'at'), 'additionalProperties' is required to be supplied and to be false.",
    ),
    (
        chat(tools=[tool(parameters={**CLOSED, "properties": {"city": {"type": "string"}, "utc": {"type": "boolean"}}}, strict=True)]),
        "tools[0].function.parameters",
        "invalid_function_parameters",
        "Invalid schema for function 'get_weather': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'utc'.",
    ),
    (chat(tool_choice="auto"), "tool_choice", None, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."),
    (chat(parallel_tool_calls=False), "parallel_tool_calls", None, "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified."),
    (chat(tools=[tool()], tool_choice="bogus"), "tool_choice", "invalid_value", "Invalid value: 'bogus'. Supported values are: 'none', 'auto', and 'required'."),
    (chat(tools=[tool()], tool_choice={"type": "function"}), "tool_choice.function", "missing_required_parameter", "Missing required parameter: 'tool_choice.function'."),
    (chat(tools=[tool()], tool_choice={"type": "function", "function": {}}), "tool_choice.function.name", "missing_required_parameter", "Missing required parameter: 'tool_choice.function.name'."),
    (chat(tools=[tool()], tool_choice={"type": "function", "function": {"name": "never_declared"}}), "function_call", None, "Invalid value for 'function_call': no function named 'never_declared' was specified in the 'functions' parameter."),
    # structured output
    (chat(response_format={"type": "xml"}), "response_format.type", "invalid_value", "Invalid value: 'xml'. Supported values are: 'json_object', 'json_schema', and 'text'."),
    (chat(response_format={}), "response_format.type", "missing_required_parameter", "Missing required parameter: 'response_format.type'."),
    (chat(response_format={"type": "json_schema"}), "response_format.json_schema", "missing_required_parameter", "Missing required parameter: 'response_format.json_schema'."),
    (chat(response_format={"type": "json_schema", "json_schema": {"schema": CLOSED}}), "response_format.json_schema.name", "missing_required_parameter", "Missing required parameter: 'response_format.json_schema.name'."),
    (chat(response_format={"type": "json_schema", "json_schema": {"name": "default", "schema": WEATHER, "strict": True}}), "response_format", None, "Invalid schema for response_format 'default': In context=(), 'additionalProperties' is required to be supplied and to be false."),
    (chat(response_format={"type": "json_object"}), "messages", None, "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."),
    # the conversation
    (chat(messages=[{"role": "robot", "content": "hi"}]), "messages[0].role", "invalid_value", "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."),
    (chat(messages=[*USER, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]), "messages.[1].role", None, "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."),
    (
        chat(messages=[*USER, calls("call_a", "call_b"), {"role": "tool", "tool_call_id": "call_a", "content": "x"}, {"role": "user", "content": "and?"}]),
        "messages.[3].role",
        None,
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_b",
    ),
    (chat(messages=[*USER, {"role": "assistant", "tool_calls": []}]), "messages[1].tool_calls", "empty_array", "Invalid 'messages[1].tool_calls': empty array. Expected an array with minimum length 1, but got an empty array instead."),
    (chat(messages=[{"role": "user", "content": None}]), "messages.[0].content", None, "Invalid value for 'content': expected a string, got null."),
    (chat(messages=[{"role": "developer"}, *USER]), "messages[0].content", "missing_required_parameter", "Missing required parameter: 'messages[0].content'."),
    # the model's limits (known models only)
    ({**chat(max_tokens=20480), "model": "gpt-4o-mini"}, "max_tokens", "invalid_value", "max_tokens is too large: 20480. This model supports at most 16384 completion tokens, whereas you provided 20480."),
    ({**chat(max_completion_tokens=40000), "model": "gpt-4.1-mini"}, "max_completion_tokens", "invalid_value", "max_completion_tokens is too large: 40000. This model supports at most 32768 completion tokens, whereas you provided 40000."),
    ({**chat(max_tokens=100), "model": "o3"}, "max_tokens", "unsupported_parameter", "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."),
]  # fmt: skip


@pytest.mark.parametrize(("body", "param", "code", "message"), CHAT_CASES, ids=[case[3][:60] for case in CHAT_CASES])
async def test_chat_refusals(client_for: Any, body: dict[str, Any], param: Any, code: Any, message: str) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 400
    assert await error_of(response) == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }


CONTEXT = "word " * 17_000  # about 17,000 tokens: over gpt-3.5-turbo's 16,385


async def test_a_prompt_over_the_context_window(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    messages = [{"role": "user", "content": CONTEXT}]
    response = await client.post("/v1/chat/completions", json={"model": "gpt-3.5-turbo", "messages": messages})
    error = await error_of(response)
    assert (response.status, error["param"], error["code"]) == (400, "messages", "context_length_exceeded")
    assert error["message"] == (
        "This model's maximum context length is 16385 tokens. However, your messages resulted in 17008 tokens. "
        "Please reduce the length of the messages."
    )
    with_tools = {"model": "gpt-3.5-turbo", "messages": messages, "tools": [tool()]}
    error = await error_of(await client.post("/v1/chat/completions", json=with_tools))
    assert error["message"].startswith("This model's maximum context length is 16385 tokens. However, your messages ")
    assert (
        "(17008 in the messages, " in error["message"]
        and "in the functions). Please reduce the length of the messages or functions." in error["message"]
    )
    # Unknown models, and scenario names used as the model, have no limits.
    for model in ("my-local-model", "gpt-4o"):
        ok = await client.post("/v1/chat/completions", json={"model": model, "messages": messages, "max_tokens": 10**6})
        assert ok.status == 200, await ok.text()


async def test_valid_requests_of_the_same_shapes_pass(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    loop = [
        {"role": "system", "content": "Answer in JSON."},
        *USER,
        calls("call_a", "call_b"),
        {"role": "tool", "tool_call_id": "call_b", "content": "x"},
        {"role": "tool", "tool_call_id": "call_a", "content": "y", "name": "get_weather"},  # instructor adds a name
    ]
    bodies = [
        chat(temperature=2, top_p=0, presence_penalty=-2, frequency_penalty=2, n=128, seed=-5, stop="END"),
        chat(temperature=None, stop=None, tools=None, metadata={"k" * 64: "v" * 512}),
        chat(logprobs=True, top_logprobs=20, service_tier="flex", verbosity="low", reasoning_effort="none"),
        chat(messages=loop, tools=[tool(strict=True)], tool_choice="required", parallel_tool_calls=False),
        chat(messages=loop, response_format={"type": "json_object"}),
        chat(tools=[tool(parameters=WEATHER)], tool_choice={"type": "function", "function": {"name": "get_weather"}}),
        chat(response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": CLOSED, "strict": True}}),
        chat(messages=[*USER, {"role": "assistant", "content": None, "refusal": "no"}, *USER]),
        {**chat(max_tokens=16384), "model": "gpt-4o-2024-08-06"},
    ]
    for body in bodies:
        response = await client.post("/v1/chat/completions", json=body)
        assert response.status == 200, (body, await response.text())


async def test_unknown_parameters_can_be_let_through(client_for: Any) -> None:
    vendor = chat(top_k=5, repetition_penalty=1.1)
    client = await client_for(SCENARIOS, accept_unknown_params=True)
    assert (await client.post("/v1/chat/completions", json=vendor)).status == 200
    # the other problems of a request are still found
    error = await error_of(await client.post("/v1/chat/completions", json={**vendor, "temperature": 9}))
    assert error["param"] == "temperature"
    # per scenario: only the requests it answers
    client = await client_for(
        "scenarios:\n  - {name: vllm, accept_unknown_params: true, text: ok}\n  - {name: default, text: ok}\n"
    )
    assert (await client.post("/v1/chat/completions", json={**vendor, "model": "vllm"})).status == 200
    error = await error_of(await client.post("/v1/chat/completions", json=vendor))
    assert error["message"] == "Unknown parameter: 'top_k'. Did you mean 'top_p'?"


def responses(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "input": "hi", **extra}


FUNCTION = {"type": "function", "name": "get_weather", "parameters": CLOSED}
CALL = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}

RESPONSES_CASES: list[tuple[dict[str, Any], str | None, str | None, str]] = [
    ({"input": "hi"}, "model", "missing_required_parameter", "Missing required parameter: 'model'."),
    (responses(model=""), "model", "model_not_found", "The requested model '' does not exist."),
    (responses(model=None), "model", "invalid_type", "Invalid type for 'model': expected a string, but got an object instead."),
    (responses(n=2), "n", "unknown_parameter", "Unknown parameter: 'n'."),
    (responses(stop=["x"]), "stop", "unknown_parameter", "Unknown parameter: 'stop'. Did you mean 'store'?"),
    (responses(strem=True), "strem", "unknown_parameter", "Unknown parameter: 'strem'. Did you mean 'stream' or 'store'?"),
    (responses(stream=True, stream_options={"include_usage": True}), "stream_options.include_usage", "unknown_parameter", "Unknown parameter: 'stream_options.include_usage'."),
    (responses(reasoning={"bogus": 1}), "reasoning.bogus", "unknown_parameter", "Unknown parameter: 'reasoning.bogus'."),
    (responses(tools=[{**FUNCTION, "bogus_field_xyz": 1}]), "tools[0].bogus_field_xyz", "unknown_parameter", "Unknown parameter: 'tools[0].bogus_field_xyz'."),
    (
        responses(messages=USER),
        None,
        "unsupported_parameter",
        "Unsupported parameter: 'messages'. In the Responses API, this parameter has moved to 'input'. Try again with the new parameter. See the API documentation for more information: https://platform.openai.com/docs/api-reference/responses/create.",
    ),
    (
        responses(response_format={"type": "json_object"}),
        None,
        "unsupported_parameter",
        "Unsupported parameter: 'response_format'. In the Responses API, this parameter has moved to 'text.format'. Try again with the new parameter. See the API documentation for more information: https://platform.openai.com/docs/api-reference/responses/create.",
    ),
    (responses(input=[{"role": "robot", "content": "hi"}]), "input[0]", "invalid_value", "Invalid value: 'robot'. Supported values are: 'assistant', 'system', 'developer', and 'user'."),
    (responses(input=[{"role": "user", "content": None}]), "input[0].content", "invalid_type", "Invalid type for 'input[0].content': expected one of an array of objects or string, but got null instead."),
    # each item as the published schema has it: its type, the members it requires, their types, a message's parts
    (responses(input=[{"type": "bogus"}]), "input[0]", "invalid_value", "Invalid value: 'bogus'. Supported values are: 'additional_tools', 'apply_patch_call', 'apply_patch_call_output', 'code_interpreter_call', 'compaction', 'compaction_trigger', 'computer_call', 'computer_call_output', 'configuration_update', 'custom_tool_call', 'custom_tool_call_output', 'file_search_call', 'function_call', 'function_call_output', 'image_generation_call', 'item_reference', 'local_shell_call', 'local_shell_call_output', 'mcp_approval_request', 'mcp_approval_response', 'mcp_call', 'mcp_list_tools', 'message', 'program', 'program_output', 'reasoning', 'shell_call', 'shell_call_output', 'tool_search_call', 'tool_search_output', and 'web_search_call'."),
    (responses(input=[{"type": "function_call", "call_id": "call_1", "arguments": "{}"}]), "input[0].name", "missing_required_parameter", "Missing required parameter: 'input[0].name'."),
    (responses(input=[{**CALL, "arguments": {"city": "Paris"}}]), "input[0].arguments", "invalid_type", "Invalid type for 'input[0].arguments': expected a string, but got an object instead."),
    (responses(input=[{**CALL, "status": "done"}]), "input[0].status", "invalid_value", "Invalid value: 'done'. Supported values are: 'in_progress', 'completed', and 'incomplete'."),
    (responses(input=[CALL, {"type": "function_call_output", "call_id": "call_1", "output": 42}]), "input[1].output", "invalid_type", "Invalid type for 'input[1].output': expected one of a string or array, but got an integer instead."),
    (responses(input=[CALL, {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "output_text", "text": "sunny"}]}]), "input[1].output[0]", "invalid_value", "Invalid value: 'output_text'. Supported values are: 'input_text', 'input_image', and 'input_file'."),
    (responses(input=[{"type": "reasoning", "id": "rs_1"}]), "input[0].summary", "missing_required_parameter", "Missing required parameter: 'input[0].summary'."),
    (responses(input=[CALL, {"type": "function_call_output", "call_id": None, "output": "x"}]), "input[1].call_id", "invalid_type", "Invalid type for 'input[1].call_id': expected a string, but got null instead."),
    (responses(input=[CALL, {"type": "function_call_output", "output": "x"}]), "input[1].call_id", "missing_required_parameter", "Missing required parameter: 'input[1].call_id'."),
    (responses(input=[{**CALL, "name": None}]), "input[0].name", "invalid_type", "Invalid type for 'input[0].name': expected a string, but got null instead."),
    (responses(input=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]), "input[0].content[0]", "invalid_value", "Invalid value: 'text'. Supported values are: 'input_text', 'input_image', 'input_audio', 'output_text', 'refusal', 'input_file', 'computer_screenshot', 'summary_text', and 'encrypted_content'."),
    (responses(input=[{"role": "user", "content": [{"type": "input_text", "text": 5}]}]), "input[0].content[0].text", "invalid_type", "Invalid type for 'input[0].content[0].text': expected a string, but got an integer instead."),
    (responses(input=[{"role": "user", "content": [{"text": "hi"}]}]), "input[0].content[0].type", "missing_required_parameter", "Missing required parameter: 'input[0].content[0].type'."),
    (responses(input=[{"role": "user", "content": "hi", "status": 5}]), "input[0].status", "invalid_type", "Invalid type for 'input[0].status': expected a string, but got an integer instead."),
    (responses(input={"role": "user"}), "input", "invalid_type", "Invalid type for 'input': expected one of a string or array of input items, but got an object instead."),
    (responses(temperature=-1), "temperature", "decimal_below_min_value", "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -1 instead."),
    (responses(max_tool_calls=0), "max_tool_calls", "integer_below_min_value", "Invalid 'max_tool_calls': integer below minimum value. Expected a value >= 1, but got 0 instead."),
    (responses(tools="x"), "tools", "invalid_type", "Invalid type for 'tools': expected an array of tools, but got a string instead."),
    (responses(tools=[{**FUNCTION, "name": "get weather!"}]), "tools[0].name", "invalid_value", "Invalid 'tools[0].name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
    (responses(tools=[{**FUNCTION, "parameters": WEATHER, "strict": True}]), "tools[0].parameters", "invalid_function_parameters", "Invalid schema for function 'get_weather': In context=(), 'additionalProperties' is required to be supplied and to be false."),
    (responses(tools=[FUNCTION], tool_choice={"type": "function"}), "tool_choice.name", "missing_required_parameter", "Missing required parameter: 'tool_choice.name'."),
    (responses(tools=[FUNCTION], tool_choice={"type": "function", "name": "nope"}), "tool_choice", None, "Tool choice 'nope' not found in 'tools' parameter."),
    (responses(text={"format": {"type": "json_schema", "schema": CLOSED}}), "text.format.name", "missing_required_parameter", "Missing required parameter: 'text.format.name'."),
    (responses(text={"format": {"type": "json_schema", "json_schema": {"name": "w", "schema": CLOSED}}}), "text.format.name", "missing_required_parameter", "Missing required parameter: 'text.format.name'."),
    (responses(text={"format": {"type": "xml"}}), "text.format.type", "invalid_value", "Invalid value: 'xml'. Supported values are: 'text', 'json_schema', and 'json_object'."),
    (responses(text={"format": {"type": "json_schema", "name": "w", "schema": WEATHER, "strict": True}}), "text.format.schema", "invalid_json_schema", "Invalid schema for response_format 'w': In context=(), 'additionalProperties' is required to be supplied and to be false."),
    (responses(instructions="Answer in JSON.", text={"format": {"type": "json_object"}}), "text.format", None, "Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'."),
    (responses(input=[{"type": "function_call_output", "call_id": "call_x", "output": "sunny"}]), "input", None, "No tool call found for function call output with call_id call_x."),
    (responses(input=[{"role": "user", "content": "hi"}, {"type": "reasoning", "id": "rs_1", "summary": []}]), "input", None, "Item 'rs_1' of type 'reasoning' was provided without its required following item."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "param", "code", "message"), RESPONSES_CASES, ids=[c[3][:60] for c in RESPONSES_CASES]
)
async def test_responses_refusals(client_for: Any, body: dict[str, Any], param: Any, code: Any, message: str) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/v1/responses", json=body)
    assert response.status == 400
    assert await error_of(response) == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }


async def test_responses_of_the_same_shapes_pass(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    stored = [CALL, {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]
    earlier = await (await client.post("/v1/responses", json=responses(input=stored[:1]))).json()
    bodies = [
        responses(input=[{"role": "user", "content": "hi"}, {**CALL, "id": "fc_1", "status": "completed"}, stored[1]]),
        responses(input=stored[1:], previous_response_id=earlier["id"]),  # the call is in the stored response
        responses(tools=[], include=[], temperature=None, presence_penalty=1, frequency_penalty=-1),
        responses(tools=[FUNCTION, {"type": "web_search"}], tool_choice={"type": "function", "name": "get_weather"}),
        responses(input="Answer in json", text={"format": {"type": "json_object"}, "verbosity": "low"}),
        responses(input=[{"role": "user", "content": "hi"}, {"type": "reasoning", "id": "rs_1", "summary": []}, CALL]),
        responses(input=[{"type": "item_reference", "id": "fc_1"}, stored[1]]),  # the call is the stored item
        responses(input=[{"id": "fc_1"}, stored[1]]),  # a reference's type may be left out
        # What clients send beyond the published document (or against its slips): the Agents SDK's MCP approval
        # and local shell output, LangChain's and pydantic-ai's configuration update, a replayed web search.
        responses(input=[{"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": True}]),
        responses(input=[{"type": "local_shell_call_output", "call_id": "call_l", "output": "{}"}]),
        responses(input=[{"type": "configuration_update", "reasoning": {"effort": "high"}, "id": None}]),
        responses(
            input=[{"id": "ws_1", "type": "web_search_call", "status": "incomplete", "action": {"type": "search"}}]
        ),
    ]
    for body in bodies:
        response = await client.post("/v1/responses", json=body)
        assert response.status == 200, (body, await response.text())


async def test_a_responses_prompt_over_the_context_window(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    body = {"model": "gpt-3.5-turbo", "input": CONTEXT}
    response = await client.post("/v1/responses", json=body)
    assert response.status == 400
    assert await error_of(response) == {
        "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
        "type": "invalid_request_error",
        "param": "input",
        "code": "context_length_exceeded",
    }
    # Streamed, the refusal comes inside a 200 stream, after response.created and response.in_progress (even when
    # the request would force a tool call).
    tools = {"tools": [FUNCTION], "tool_choice": "required"}
    response = await client.post("/v1/responses", json={**body, **tools, "stream": True})
    assert response.status == 200
    text = (await response.read()).decode()
    assert [line[7:] for line in text.splitlines() if line.startswith("event: ")] == [
        "response.created",
        "response.in_progress",
        "error",
    ]
    assert '"sequence_number":2' in text and '"code":"context_length_exceeded"' in text
    trace = await (await client.post("/_mock/explain", json={**body, "stream": True})).json()
    assert (trace["chosen"]["scenario"], trace["error"]["code"], trace["error"]["in_stream"]) == (
        "default",
        "context_length_exceeded",
        True,
    )


COMPLETIONS_CASES = [
    ({"model": "m", "prompt": "x", "suffixx": "y"}, "suffixx", "unknown_parameter", "Unknown parameter: 'suffixx'. Did you mean 'suffix'?"),
    ({"model": "m", "prompt": "x", "logprobs": 6}, "logprobs", "integer_above_max_value", "Invalid 'logprobs': integer above maximum value. Expected a value <= 5, but got 6 instead."),
    ({"model": "m", "prompt": "x", "best_of": 21}, "best_of", "integer_above_max_value", "Invalid 'best_of': integer above maximum value. Expected a value <= 20, but got 21 instead."),
    ({"model": "m", "prompt": "x", "temperature": 2.1}, "temperature", "decimal_above_max_value", "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.1 instead."),
]  # fmt: skip


@pytest.mark.parametrize(("body", "param", "code", "message"), COMPLETIONS_CASES)
async def test_completions_refusals(client_for: Any, body: dict[str, Any], param: Any, code: Any, message: str) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/v1/completions", json=body)
    assert response.status == 400
    assert await error_of(response) == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }
