"""Responses API requests (`POST /v1/responses`), checked as the real API checks them, and the settings every
response object echoes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from ..engine.ask import Ask, Call, Message, Role
from ..scenario.tokens import estimate_prompt_tokens, message_text, tool_tokens
from . import params
from .errors import missing

ROLES = ("assistant", "system", "developer", "user")
MIN_OUTPUT_TOKENS = 16
LOGPROBS = "message.output_text.logprobs"  # the `include` entry that asks for logprobs


@dataclass(frozen=True)
class ResponseSettings:
    """The request's settings, as every response object reports them."""

    background: bool
    instructions: str | None
    max_output_tokens: int | None
    max_tool_calls: int | None
    parallel_tool_calls: bool
    previous_response_id: str | None
    prompt_cache_key: str | None
    reasoning: Mapping[str, Any]  # {"effort", "summary"}
    safety_identifier: str | None
    service_tier: str
    store: bool
    temperature: float
    text: Mapping[str, Any]
    tool_choice: str | Mapping[str, Any]
    tools: list[Any]
    top_logprobs: int
    top_p: float
    truncation: str
    user: str | None
    metadata: Mapping[str, Any]


@dataclass
class ResponsesAsk(Ask):
    settings: ResponseSettings | None = None
    input: Any = None  # the input as sent: stored, listed, carried into the next turn of a chain
    include: tuple[str, ...] = ()
    conversation_id: str | None = None  # the conversation the response belongs to (`conversation`)

    @property
    def echoed(self) -> ResponseSettings:
        """The settings (always set by `parse_request`)."""
        assert self.settings is not None
        return self.settings


def parse_request(body: Mapping[str, Any]) -> ResponsesAsk:
    """Check a Responses request as the real API does; keep what the pipeline needs and the settings every
    response object echoes back."""
    model = params.model(body)
    instructions = params.optional(body, "instructions", str, "a string")
    messages, last_user, turns = _input(body.get("input"))
    if instructions:
        messages.insert(0, {"role": "developer", "content": instructions})
        turns.insert(0, Message("developer", instructions))
    stream, options = params.stream_options(body)
    limit = params.integer(body, "max_output_tokens", MIN_OUTPUT_TOKENS)
    include = params.optional(body, "include", list, "an array") or []
    top_logprobs = params.integer(body, "top_logprobs", 0, 20) or 0
    reasoning = params.optional(body, "reasoning", Mapping, "an object") or {}
    temperature = params.optional(body, "temperature", (int, float), "a number")
    top_p = params.optional(body, "top_p", (int, float), "a number")
    settings = ResponseSettings(
        background=_flag(body, "background", False),
        instructions=instructions,
        max_output_tokens=limit,
        max_tool_calls=params.optional(body, "max_tool_calls", int, "an integer"),
        parallel_tool_calls=_flag(body, "parallel_tool_calls", True),
        previous_response_id=params.optional(body, "previous_response_id", str, "a string"),
        prompt_cache_key=params.optional(body, "prompt_cache_key", str, "a string"),
        reasoning={"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        safety_identifier=params.optional(body, "safety_identifier", str, "a string"),
        service_tier=params.optional(body, "service_tier", str, "a string") or "auto",
        store=_flag(body, "store", True),
        temperature=1.0 if temperature is None else float(temperature),
        text={
            "format": {"type": "text"},
            "verbosity": "medium",
            **(params.optional(body, "text", Mapping, "an object") or {}),
        },
        tool_choice=params.optional(body, "tool_choice", (str, Mapping), "a string or an object") or "auto",
        tools=_tools(body),
        top_logprobs=top_logprobs,
        top_p=1.0 if top_p is None else float(top_p),
        truncation=params.optional(body, "truncation", str, "a string") or "disabled",
        user=params.optional(body, "user", str, "a string"),
        metadata=params.optional(body, "metadata", Mapping, "an object") or {},
    )
    return ResponsesAsk(
        model=model,
        last_user=last_user,
        prompt_tokens=estimate_prompt_tokens(messages) + tool_tokens(settings.tools),
        stream=stream,
        max_tokens=limit,
        logprobs=LOGPROBS in include,
        top_logprobs=top_logprobs,
        obfuscation=params.flag(options, "include_obfuscation", None),
        reasoning_effort=settings.reasoning["effort"],
        service_tier=settings.service_tier,
        settings=settings,
        messages=tuple(turns),
        input=body.get("input"),
        include=tuple(entry for entry in include if isinstance(entry, str)),
        conversation_id=_conversation(body),
    )


def _conversation(body: Mapping[str, Any]) -> str | None:
    """The conversation's id: given as the id, or as `{"id": ...}`."""
    value = params.optional(body, "conversation", (str, Mapping), "one of a string or an object")
    if isinstance(value, Mapping):
        if not isinstance(value.get("id"), str):
            raise missing("conversation.id")
        return str(value["id"])
    return str(value) if value is not None else None


def turns_of(items: list[Any]) -> tuple[list[Mapping[str, Any]], str, list[Message]]:
    """Stored items (a response's input and output, a conversation's items) read as a request's input is: the
    chat-like messages of the token estimate, the last user message's text, the turns."""
    return _input(items)


def _flag(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = params.optional(body, key, bool, "a boolean")
    return default if value is None else value


def _input(value: Any) -> tuple[list[Mapping[str, Any]], str, list[Message]]:
    """The input as chat-like messages, for the prompt estimate; the text of its last user message; its turns. It
    may be absent (a request that continues a `previous_response_id`), a string, or a list of items."""
    if value is None:
        return [], "", []
    if isinstance(value, str):
        return [{"role": "user", "content": value}], value, [Message("user", value)]
    if not isinstance(value, list):
        raise params.wrong_type("input", "one of a string or array of objects", value)
    messages: list[Mapping[str, Any]] = []
    turns: list[Message] = []
    last_user = ""
    for index, item in enumerate(value):
        where = f"input[{index}]"
        if not isinstance(item, Mapping):
            raise params.wrong_type(where, "an object", item)
        kind = item.get("type") or "message"
        if kind == "message":
            role = params.role(item, where, ROLES)
            content = item.get("content")
            if content is None:
                raise missing(f"{where}.content")
            if not isinstance(content, (str, list)):
                raise params.wrong_type(f"{where}.content", "one of a string or array of objects", content)
            messages.append({"role": role, "content": content})
            turns.append(Message(cast(Role, role), message_text(content)))
            if role == "user":
                last_user = message_text(content)
        elif kind == "function_call":
            messages.append({"role": "assistant", "content": item.get("arguments"), "name": item.get("name")})
            call = Call(str(item.get("call_id") or ""), str(item.get("name") or ""), str(item.get("arguments") or ""))
            if turns and turns[-1].role == "assistant" and not turns[-1].text:  # parallel calls: one turn
                turns[-1] = Message("assistant", calls=(*turns[-1].calls, call))
            else:
                turns.append(Message("assistant", calls=(call,)))
        elif kind == "function_call_output":
            messages.append({"role": "tool", "content": item.get("output")})
            output = item.get("output")
            call_id = item.get("call_id")
            turns.append(
                Message("tool", output if isinstance(output, str) else message_text(output), call_id=str(call_id or ""))
            )
        # Other items (reasoning, item references, ...) carry no text the estimate counts.
    return messages, last_user, turns


def _tools(body: Mapping[str, Any]) -> list[Any]:
    """The tools as a response echoes them: function tools with all their fields (`strict` is true unless
    turned off), other tools as sent."""
    echoed = []
    for index, tool in enumerate(params.optional(body, "tools", list, "an array") or []):
        where = f"tools[{index}]"
        if not isinstance(tool, Mapping):
            raise params.wrong_type(where, "an object", tool)
        for key in ("type", "name") if tool.get("type") == "function" else ("type",):
            if not isinstance(tool.get(key), str):
                raise missing(f"{where}.{key}")
        if tool["type"] != "function":
            echoed.append(tool)
            continue
        echoed.append(
            {
                "type": "function",
                "description": tool.get("description"),
                "name": tool["name"],
                "parameters": tool.get("parameters"),
                "strict": True if tool.get("strict") is None else tool["strict"],
            }
        )
    return echoed
