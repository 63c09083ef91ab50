"""Tools, `tool_choice` and structured output in a request, checked as the real API checks them, for Chat
Completions and Responses (the same rules; the shapes and `param` paths differ): function names, strict schemas,
a choice that names a function not offered, a `response_format` / `text.format` the API would refuse."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

from ..engine.ask import TEXT, FormatType, OutputFormat, Tool, ToolMode
from ..scenario import tokens
from .errors import ApiError, invalid, missing
from .params import not_supported, wrong_type

Shape = Literal["chat", "responses"]
_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_NAME_LENGTH = 64
_MODES = ("none", "auto", "required")
# The members of a Responses function tool the API knows (the document's FunctionTool).
_FUNCTION_TOOL_KEYS = (
    "type",
    "name",
    "description",
    "parameters",
    "output_schema",
    "strict",
    "defer_loading",
    "allowed_callers",
)
_CHAT_TOOL_TYPES = ("function", "custom")
# As the live API lists them for `response_format.type` (measured).
_FORMAT_TYPES = ("json_object", "json_schema", "text")
_TEXT_FORMAT_TYPES = ("text", "json_schema", "json_object")


def check_name(name: Any, param: str) -> str:
    """A function's (or a schema's) name: required, non-empty, at most 64 of `a-zA-Z0-9_-`."""
    if name is None:
        raise missing(param)
    if not isinstance(name, str):
        raise wrong_type(param, "a string", name)
    if not name:
        raise invalid(
            f"Invalid '{param}': empty string. Expected a string with minimum length 1, but got an empty string "
            "instead.",
            param,
            "empty_string",
        )
    if len(name) > _NAME_LENGTH:
        raise invalid(
            f"Invalid '{param}': string too long. Expected a string with maximum length {_NAME_LENGTH}, but got a "
            f"string with length {len(name)} instead.",
            param,
            "string_above_max_length",
        )
    if not _NAME.fullmatch(name):
        raise invalid(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the pattern "
            "'^[a-zA-Z0-9_-]+$'.",
            param,
            "invalid_value",
        )
    return name


# --- strict schemas ----------------------------------------------------------------------------------------------


def strict_problem(schema: Any) -> str | None:
    """Why a schema cannot be used with `strict: true` ("In context=(...), ..."), or None. Strict mode needs
    every object closed (`additionalProperties: false`) and every property required."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(schema, ())]
    seen = 0
    while stack and seen < 10_000:  # a bounded walk, whatever the request holds
        node, context = stack.pop()
        seen += 1
        if not isinstance(node, Mapping):
            continue
        properties = node.get("properties")
        if node.get("type") == "object" or isinstance(properties, Mapping):
            if node.get("additionalProperties") is not False:
                return f"In context={context!r}, 'additionalProperties' is required to be supplied and to be false."
            if isinstance(properties, Mapping):
                required = node.get("required")
                listed = required if isinstance(required, list) else []
                absent = [key for key in properties if key not in listed]
                if absent:
                    return (
                        f"In context={context!r}, 'required' is required to be supplied and to be an array including "
                        f"every key in properties. Missing '{absent[0]}'."
                    )
        children: list[tuple[Any, tuple[str, ...]]] = []
        for key in ("properties", "$defs", "definitions"):
            members = node.get(key)
            if isinstance(members, Mapping):
                children += [(value, (*context, key, str(name))) for name, value in members.items()]
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            options = node.get(key)
            if isinstance(options, list):
                children += [(value, (*context, key, str(index))) for index, value in enumerate(options)]
        if isinstance(node.get("items"), Mapping):
            children.append((node["items"], (*context, "items")))
        stack += reversed(children)  # depth first, in document order
    return None


def _strict(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise wrong_type(where, "a boolean", value)
    return value


def _parameters(value: Any, where: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise wrong_type(where, "an object", value)
    return value


def _closed(tool: Tool, where: str) -> Tool:
    """A strict tool's schema must suit strict mode."""
    if tool.strict and tool.parameters is not None:
        problem = strict_problem(tool.parameters)
        if problem:
            raise invalid(f"Invalid schema for function '{tool.name}': {problem}", where, "invalid_function_parameters")
    return tool


# --- tools ---------------------------------------------------------------------------------------------------


def chat_tools(body: Mapping[str, Any]) -> tuple[Tool, ...]:
    """The function tools of a chat request (`tools[].function`), each checked."""
    tools = []
    for index, entry in enumerate(body.get("tools") or ()):
        where = f"tools[{index}]"
        if _kind(entry, where, _CHAT_TOOL_TYPES) != "function":
            continue
        function = entry.get("function")
        if function is None:
            raise missing(f"{where}.function")
        if not isinstance(function, Mapping):
            raise wrong_type(f"{where}.function", "an object", function)
        name = check_name(function.get("name"), f"{where}.function.name")
        parameters = _parameters(function.get("parameters"), f"{where}.function.parameters")
        strict = _strict(function.get("strict"), f"{where}.function.strict")
        tools.append(_closed(Tool(name, parameters, strict), f"{where}.function.parameters"))
    return tuple(tools)


def responses_tools(body: Mapping[str, Any]) -> tuple[Tool, ...]:
    """The function tools of a Responses request; other tools (hosted ones) pass as they are."""
    tools = []
    for index, entry in enumerate(body.get("tools") or ()):
        where = f"tools[{index}]"
        if not isinstance(entry, Mapping):
            raise wrong_type(where, "an object", entry)
        kind = entry.get("type")
        if not isinstance(kind, str):
            raise missing(f"{where}.type")
        if kind != "function":
            continue
        for key in entry:
            if key not in _FUNCTION_TOOL_KEYS:
                raise invalid(f"Unknown parameter: '{where}.{key}'.", f"{where}.{key}", "unknown_parameter")
        name = check_name(entry.get("name"), f"{where}.name")
        parameters = _parameters(entry.get("parameters"), f"{where}.parameters")
        strict = _strict(entry.get("strict"), f"{where}.strict")
        tools.append(_closed(Tool(name, parameters, strict), f"{where}.parameters"))
    return tuple(tools)


def tool_tokens(body: Mapping[str, Any]) -> int:
    """Tokens the tool definitions take in the prompt (they count towards the context window), for chat's tools
    (`{"type": "function", "function": {...}}`) and the Responses API's (the function's fields beside `type`)."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return 0
    flat = [
        {"type": "function", **tool["function"]}
        if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping)
        else tool
        for tool in tools
    ]
    return tokens.tool_tokens(flat)


# --- tool_choice and parallel_tool_calls -------------------------------------------------------------------


def tool_choice(body: Mapping[str, Any], tools: Sequence[Tool], shape: Shape) -> tuple[ToolMode, str | None]:
    """How the request lets the model use its tools, and the function it forces, if any. Without a choice, the
    model may call a tool when some are offered (`auto`), none otherwise."""
    offered = bool(body.get("tools"))
    if shape == "chat":
        for key in ("tool_choice", "parallel_tool_calls"):
            if body.get(key) is not None and not offered:
                raise invalid(f"Invalid value for '{key}': '{key}' is only allowed when 'tools' are specified.", key)
    choice = body.get("tool_choice")
    if choice is None:
        return ("auto" if offered else "none"), None
    if isinstance(choice, str):
        return _mode(choice), None
    kind = choice.get("type")
    if kind == "allowed_tools":
        inner = choice.get("allowed_tools") if shape == "chat" else choice
        mode = inner.get("mode") if isinstance(inner, Mapping) else None
        return (_mode(mode) if isinstance(mode, str) and mode in _MODES else "auto"), None
    if kind != "function":
        return "auto", None  # a hosted tool, a custom tool: nothing the mock answers with
    if shape == "chat":
        function = choice.get("function")
        if not isinstance(function, Mapping):
            raise missing("tool_choice.function")
        name = function.get("name")
        if not isinstance(name, str):
            raise missing("tool_choice.function.name")
        if not any(tool.name == name for tool in tools):
            # The live API still words this as the legacy `function_call` parameter (measured).
            raise invalid(
                f"Invalid value for 'function_call': no function named '{name}' was specified in the 'functions' "
                "parameter.",
                "function_call",
            )
        return "function", name
    name = choice.get("name")
    if not isinstance(name, str):
        raise missing("tool_choice.name")
    if not any(tool.name == name for tool in tools):
        raise invalid(f"Tool choice '{name}' not found in 'tools' parameter.", "tool_choice")
    return "function", name


def _mode(value: str) -> ToolMode:
    return "none" if value == "none" else "required" if value == "required" else "auto"


def parallel_tool_calls(body: Mapping[str, Any]) -> bool:
    return body.get("parallel_tool_calls") is not False


# --- structured output ----------------------------------------------------------------------------------------


def chat_output(body: Mapping[str, Any]) -> OutputFormat:
    """`response_format`, checked: its type, and for `json_schema` a named schema, strict-compatible when strict."""
    value = body.get("response_format")
    if value is None:
        return TEXT
    kind = cast(FormatType, _kind(value, "response_format", _FORMAT_TYPES))
    if kind != "json_schema":
        return OutputFormat(kind)
    spec = value.get("json_schema")
    if spec is None:
        raise missing("response_format.json_schema")
    if not isinstance(spec, Mapping):
        raise wrong_type("response_format.json_schema", "an object", spec)
    name = check_name(spec.get("name"), "response_format.json_schema.name")
    schema = _parameters(spec.get("schema"), "response_format.json_schema.schema")
    strict = _strict(spec.get("strict"), "response_format.json_schema.strict")
    _closed_format(name, schema, strict, "response_format", None)
    return OutputFormat("json_schema", name, schema, strict)


def responses_output(body: Mapping[str, Any]) -> OutputFormat:
    """`text.format`, checked as `response_format` is, at its own paths."""
    text = body.get("text")
    value = text.get("format") if isinstance(text, Mapping) else None
    if value is None:
        return TEXT
    kind = cast(FormatType, _kind(value, "text.format", _TEXT_FORMAT_TYPES))
    if kind != "json_schema":
        return OutputFormat(kind)
    name = check_name(value.get("name"), "text.format.name")
    schema = _parameters(value.get("schema"), "text.format.schema")
    if schema is None:
        raise missing("text.format.schema")
    strict = _strict(value.get("strict"), "text.format.strict")
    _closed_format(name, schema, strict, "text.format.schema", "invalid_json_schema")
    return OutputFormat("json_schema", name, schema, strict)


def _kind(value: Any, where: str, kinds: Sequence[str]) -> str:
    """The `type` of a typed object (a tool, a format), checked as the API checks it: an object, with a type it
    knows."""
    if not isinstance(value, Mapping):
        raise wrong_type(where, "an object", value)
    kind = value.get("type")
    if kind is None:
        raise missing(f"{where}.type")
    if kind not in kinds:
        raise not_supported(kind, f"{where}.type", kinds)
    return str(kind)


def _closed_format(name: str, schema: Mapping[str, Any] | None, strict: bool, param: str, code: str | None) -> None:
    if strict and schema is not None and (problem := strict_problem(schema)):
        raise invalid(f"Invalid schema for response_format '{name}': {problem}", param, code)


def json_word(texts: Sequence[str], shape: Shape) -> ApiError | None:
    """JSON mode needs the word "json", in any case, somewhere in the messages (the real API's rule)."""
    if any("json" in text.casefold() for text in texts):
        return None
    if shape == "chat":
        return invalid(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            "messages",
        )
    return invalid(
        "Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.",
        "text.format",
    )
