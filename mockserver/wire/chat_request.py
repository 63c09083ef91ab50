"""Chat Completions requests (`POST /v1/chat/completions`), checked as the real API checks them: the same
400s, messages, `param` and `code`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from ..engine.ask import Ask, Call, Message, Role
from ..scenario.tokens import estimate_prompt_tokens, message_text
from . import params
from .errors import invalid, missing

ROLES = ("system", "assistant", "user", "function", "tool", "developer")


def parse_request(body: Mapping[str, Any]) -> Ask:
    """Check a chat request as the real API does, and keep what the pipeline needs."""
    model = params.model(body)
    if "messages" not in body:
        raise missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise params.wrong_type("messages", "an array", messages)
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        )
    last_user = ""
    turns: list[Message] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            raise params.wrong_type(where, "an object", message)
        role = params.role(message, where, ROLES)
        content = message.get("content")
        if content is None and role in ("system", "user", "developer", "tool"):
            raise missing(f"{where}.content")
        if content is not None and not isinstance(content, (str, list)):
            raise params.wrong_type(f"{where}.content", "one of a string or array of objects", content)
        if role == "user":
            last_user = message_text(content)
        turns.append(_turn(role, message, content))
    stream, options = params.stream_options(body)
    limit = params.integer(body, "max_completion_tokens", 0)
    if limit is None:
        limit = params.integer(body, "max_tokens", 0)
    logprobs = params.optional(body, "logprobs", bool, "a boolean") or False
    top_logprobs = params.integer(body, "top_logprobs", 0, 20)
    if top_logprobs is not None and not logprobs:
        raise invalid(
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true to use 'top_logprobs'.",
            "top_logprobs",
            "invalid_value",
        )
    return Ask(
        model=model,
        last_user=last_user,
        prompt_tokens=estimate_prompt_tokens(messages),
        stream=stream,
        include_usage=params.flag(options, "include_usage", False),
        max_tokens=limit,
        n=params.integer(body, "n", 1, 128) or 1,
        logprobs=logprobs,
        top_logprobs=top_logprobs or 0,
        obfuscation=params.flag(options, "include_obfuscation", None),
        messages=tuple(turns),
        reasoning_effort=params.optional(body, "reasoning_effort", str, "a string"),
        service_tier=params.optional(body, "service_tier", str, "a string"),
    )


def _turn(role: str, message: Mapping[str, Any], content: Any) -> Message:
    """A chat message as a turn of the conversation (a `function` result counts as a tool result)."""
    if role in ("tool", "function"):
        call_id = message.get("tool_call_id")
        return Message("tool", message_text(content), call_id=call_id if isinstance(call_id, str) else None)
    calls = []
    listed = message.get("tool_calls") if role == "assistant" else None
    for call in listed if isinstance(listed, list) else ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            calls.append(
                Call(str(call.get("id") or ""), str(function.get("name") or ""), str(function.get("arguments") or ""))
            )
    return Message(cast(Role, role), message_text(content), tuple(calls))
