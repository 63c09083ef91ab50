"""Chat Completions requests (`POST /v1/chat/completions`), checked as the real API checks them: the same 400s,
messages, `param` and `code`, in the order the live API reports them (the model, the messages, an unknown
parameter, each parameter in turn, the conversation's consistency, a message without content last)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from ..engine.ask import Ask, Call, Message, Role
from ..scenario.tokens import estimate_prompt_tokens, message_text
from . import params, tools_request, validation
from .errors import invalid, missing
from .model_limits import chat_limits

ROLES = ("system", "assistant", "user", "function", "tool", "developer")


def parse_request(body: Mapping[str, Any]) -> Ask:
    """Check a chat request as the real API does, and keep what the pipeline needs. A request that also has an
    unknown parameter carries its 400 (`unknown_parameter`): the real API reports that one first."""
    model = params.model(body)
    if "messages" not in body:
        raise missing("messages")
    return validation.checked(body, validation.CHAT, lambda: _parse(body, model))


def _parse(body: Mapping[str, Any], model: str) -> Ask:
    messages = body["messages"]
    if not isinstance(messages, list):
        raise params.wrong_type("messages", "an array of objects", messages)
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        )
    turns = [_turn(message, f"messages[{index}]") for index, message in enumerate(messages)]
    validation.check_params(body, validation.CHAT, skip=("model", "messages"))
    tools = tools_request.chat_tools(body)
    mode, forced = tools_request.tool_choice(body, tools, "chat")
    if body.get("max_tokens") is not None and body.get("max_completion_tokens") is not None:
        raise invalid(
            "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
            "max_tokens",
            "invalid_parameter_combination",
        )
    output = tools_request.chat_output(body)
    stream, options = params.stream_options(body)
    logprobs = body.get("logprobs") is True
    if body.get("top_logprobs") is not None and not logprobs:
        raise invalid("The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.", "top_logprobs")
    if any(turn.role == "tool" or turn.calls for turn in turns):
        _check_order(messages, turns)
    _check_contents(messages)
    if output.type == "json_object" and (error := tools_request.json_word([t.text for t in turns], "chat")):
        raise error
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    limit: int | None = body.get(key)
    prompt_tokens = estimate_prompt_tokens(messages)
    tool_tokens = tools_request.tool_tokens(body)
    last_user = next((turn.text for turn in reversed(turns) if turn.role == "user"), "")
    return Ask(
        model=model,
        last_user=last_user,
        prompt_tokens=prompt_tokens,
        stream=stream,
        include_usage=params.flag(options, "include_usage", False),
        max_tokens=limit,
        n=body.get("n") or 1,
        logprobs=logprobs,
        top_logprobs=body.get("top_logprobs") or 0,
        obfuscation=params.flag(options, "include_obfuscation", None),
        messages=tuple(turns),
        tools=tools,
        tool_choice=mode,
        forced_tool=forced,
        parallel_tool_calls=tools_request.parallel_tool_calls(body),
        output=output,
        stop=stop_sequences(body),
        metadata=body.get("metadata") or {},
        tool_tokens=tool_tokens,
        model_refusal=chat_limits(model, key if limit is not None else None, limit, prompt_tokens, tool_tokens),
        reasoning_effort=params.optional(body, "reasoning_effort", str, "a string"),
        service_tier=params.optional(body, "service_tier", str, "a string"),
    )


def stop_sequences(body: Mapping[str, Any]) -> tuple[str, ...]:
    """`stop` as a tuple of sequences (its type and length are checked with the other parameters)."""
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,) if stop else ()
    for index, item in enumerate(stop):
        if not isinstance(item, str):
            raise params.wrong_type(f"stop[{index}]", "a string", item)
    return tuple(item for item in stop if item)


def _turn(message: Any, where: str) -> Message:
    """A chat message as a turn of the conversation (a `function` result counts as a tool result)."""
    if not isinstance(message, Mapping):
        raise params.wrong_type(where, "an object", message)
    role = params.role(message, where, ROLES)
    content = message.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise params.wrong_type(f"{where}.content", "one of a string or array of objects", content)
    if role in ("tool", "function"):
        call_id = message.get("tool_call_id")
        return Message("tool", message_text(content), call_id=call_id if isinstance(call_id, str) else None)
    calls = []
    listed = message.get("tool_calls") if role == "assistant" else None
    if isinstance(listed, list) and not listed:
        raise invalid(
            f"Invalid '{where}.tool_calls': empty array. Expected an array with minimum length 1, but got an empty "
            "array instead.",
            f"{where}.tool_calls",
            "empty_array",
        )
    for call in listed if isinstance(listed, list) else ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            calls.append(
                Call(str(call.get("id") or ""), str(function.get("name") or ""), str(function.get("arguments") or ""))
            )
    return Message(cast(Role, role), message_text(content), tuple(calls))


def _check_order(messages: list[Any], turns: list[Message]) -> None:
    """Tool results answer the calls of the assistant message just before them, every one of those calls."""
    for index in range(len(turns)):
        if messages[index].get("role") != "tool":
            continue
        before = next((turns[i] for i in range(index - 1, -1, -1) if messages[i].get("role") != "tool"), None)
        if before is None or before.role != "assistant" or not before.calls:
            raise invalid(
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                "'tool_calls'.",
                f"messages.[{index}].role",
            )
    for index, turn in enumerate(turns):
        if turn.role != "assistant" or not turn.calls:
            continue
        after = index + 1
        answered = set()
        while after < len(turns) and messages[after].get("role") == "tool":
            answered.add(turns[after].call_id)
            after += 1
        unanswered = [call.id for call in turn.calls if call.id not in answered]
        if unanswered and after < len(turns):
            raise invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                "'tool_call_id'. The following tool_call_ids did not have response messages: " + ", ".join(unanswered),
                f"messages.[{after}].role",
            )


def _check_contents(messages: list[Any]) -> None:
    """Every message has content, but an assistant message that calls tools (or refuses, or speaks)."""
    for index, message in enumerate(messages):
        if message.get("content") is not None:
            continue
        role = message.get("role")
        if role == "assistant" and any(message.get(key) for key in ("tool_calls", "function_call", "refusal", "audio")):
            continue
        if role == "developer":
            raise missing(f"messages[{index}].content")
        raise invalid("Invalid value for 'content': expected a string, got null.", f"messages.[{index}].content")
