"""Responses API requests (`POST /v1/responses`), checked as the real API checks them, and the settings every
response object echoes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from ..engine.ask import Ask, Call, Message, Role
from ..scenario.tokens import estimate_prompt_tokens, message_text
from . import input_items, params, tools_request, validation
from .errors import invalid, missing
from .model_limits import responses_limits

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


@dataclass(slots=True)
class ResponsesAsk(Ask):
    settings: ResponseSettings | None = None
    refuses_in_stream: ClassVar[bool] = True  # a context overflow comes as an `error` event in a 200 stream
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
    response object echoes back. A request that also has an unknown parameter carries its 400
    (`unknown_parameter`): the real API reports that one first."""
    model = _model(body)
    return validation.checked(body, validation.RESPONSES, lambda: _parse(body, model))


def _model(body: Mapping[str, Any]) -> str:
    """`model`: required, a string (null is refused as the live API words it), not empty."""
    if "model" not in body:
        raise missing("model")
    value = body["model"]
    if value is None:
        message = "Invalid type for 'model': expected a string, but got an object instead."  # sic, as measured
        raise invalid(message, "model", "invalid_type")
    if not isinstance(value, str):
        raise params.wrong_type("model", "a string", value)
    if not value:
        raise invalid("The requested model '' does not exist.", "model", "model_not_found")
    return value


def _parse(body: Mapping[str, Any], model: str) -> ResponsesAsk:
    instructions = params.optional(body, "instructions", str, "a string")
    messages, last_user, turns = _input(body.get("input"))
    validation.check_params(body, validation.RESPONSES, skip=("model", "input"))
    tools = tools_request.responses_tools(body)
    mode, forced = tools_request.tool_choice(body, tools, "responses")
    output = tools_request.responses_output(body)
    stream, options = params.stream_options(body)
    if body.get("previous_response_id") is None and body.get("conversation") is None:
        _check_items(body.get("input"))
    if output.type == "json_object" and (error := tools_request.json_word([t.text for t in turns], "responses")):
        raise error
    if instructions:
        messages.insert(0, {"role": "developer", "content": instructions})
        turns.insert(0, Message("developer", instructions))
    limit = body.get("max_output_tokens")
    include = body.get("include") or []
    top_logprobs = body.get("top_logprobs") or 0
    reasoning = body.get("reasoning") or {}
    temperature = body.get("temperature")
    top_p = body.get("top_p")
    settings = ResponseSettings(
        background=_flag(body, "background", False),
        instructions=instructions,
        max_output_tokens=limit,
        max_tool_calls=body.get("max_tool_calls"),
        parallel_tool_calls=_flag(body, "parallel_tool_calls", True),
        previous_response_id=body.get("previous_response_id"),
        prompt_cache_key=body.get("prompt_cache_key"),
        reasoning={"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        safety_identifier=body.get("safety_identifier"),
        service_tier=body.get("service_tier") or "auto",
        store=_flag(body, "store", True),
        temperature=1.0 if temperature is None else float(temperature),
        text={"format": {"type": "text"}, "verbosity": "medium", **(body.get("text") or {})},
        tool_choice=body.get("tool_choice") or "auto",
        tools=_tools(body),
        top_logprobs=top_logprobs,
        top_p=1.0 if top_p is None else float(top_p),
        truncation=body.get("truncation") or "disabled",
        user=body.get("user"),
        metadata=body.get("metadata") or {},
    )
    tool_tokens = tools_request.tool_tokens(body)
    prompt_tokens = estimate_prompt_tokens(messages) + tool_tokens  # the model reads every tool definition
    return ResponsesAsk(
        model=model,
        last_user=last_user,
        prompt_tokens=prompt_tokens,
        stream=stream,
        max_tokens=limit,
        logprobs=LOGPROBS in include,
        top_logprobs=top_logprobs,
        obfuscation=params.flag(options, "include_obfuscation", None),
        reasoning_effort=settings.reasoning["effort"],
        service_tier=settings.service_tier,
        settings=settings,
        messages=tuple(turns),
        tools=tools,
        tool_choice=mode,
        forced_tool=forced,
        parallel_tool_calls=settings.parallel_tool_calls,
        output=output,
        metadata=settings.metadata,
        tool_tokens=tool_tokens,
        model_refusal=responses_limits(model, prompt_tokens),
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


def turns_of(items: list[Any], checked: bool) -> tuple[list[Mapping[str, Any]], str, list[Message]]:
    """Items (a response's input and output, a conversation's items) read as a request's input is: the chat-like
    messages of the token estimate, the last user message's text, the turns. `checked`: as the API checks new
    items (stored ones passed those checks on their way in)."""
    return _input(items, checked)


def _flag(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = params.optional(body, key, bool, "a boolean")
    return default if value is None else value


def _input(value: Any, checked: bool = True) -> tuple[list[Mapping[str, Any]], str, list[Message]]:
    """The input as chat-like messages, for the prompt estimate; the text of its last user message; its turns. It
    may be absent (a request that continues a `previous_response_id`), a string, or a list of items."""
    if value is None:
        return [], "", []
    if isinstance(value, str):
        return [{"role": "user", "content": value}], value, [Message("user", value)]
    if not isinstance(value, list):
        raise params.wrong_type("input", "one of a string or array of input items", value)
    messages: list[Mapping[str, Any]] = []
    turns: list[Message] = []
    last_user = ""
    for index, item in enumerate(value):
        where = f"input[{index}]"
        if not isinstance(item, Mapping):
            raise params.wrong_type(where, "an object", item)
        kind = input_items.item_type(item, where) if checked else input_items.kind_of(item)
        if kind == "message":
            role = params.role(item, where, ROLES, param=where)  # the live API names the item, not its role
            if "content" not in item:
                raise missing(f"{where}.content")
            content = item["content"]
            if not isinstance(content, (str, list)):
                raise params.wrong_type(f"{where}.content", "one of an array of objects or string", content)
            if checked and isinstance(content, list):
                input_items.parts(content, f"{where}.content", input_items.CONTENT_PARTS)
            messages.append({"role": role, "content": content})
            turns.append(Message(cast(Role, role), message_text(content)))
            if role == "user":
                last_user = message_text(content)
        elif kind == "function_call":
            messages.append({"role": "assistant", "content": item.get("arguments"), "name": item.get("name")})
            call = Call(str(item.get("call_id") or ""), str(item.get("name") or ""), str(item.get("arguments") or ""))
            if turns and turns[-1].role == "assistant":  # the text and the (parallel) calls of one turn
                turns[-1] = Message("assistant", turns[-1].text, (*turns[-1].calls, call))
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


def _check_items(value: Any) -> None:
    """Without a stored response to continue, every function call output answers a call made earlier in the input,
    and a reasoning item comes with the item it led to."""
    if not isinstance(value, list) or any(input_items.kind_of(item) == "item_reference" for item in value):
        return  # a referenced item may be the call: it is stored, not here
    calls: set[Any] = set()
    for index, item in enumerate(value):
        kind = input_items.kind_of(item)  # its members were checked already (`input_items.item_type`)
        if kind == "function_call":
            calls.add(item.get("call_id"))
        elif kind == "function_call_output" and item.get("call_id") not in calls:
            raise invalid(f"No tool call found for function call output with call_id {item.get('call_id')}.", "input")
        elif kind == "reasoning":
            following = value[index + 1] if index + 1 < len(value) else None
            if following is None or _is_input(following):
                raise invalid(
                    f"Item '{item.get('id')}' of type 'reasoning' was provided without its required following item.",
                    "input",
                )


def _is_input(item: Mapping[str, Any]) -> bool:
    """An item that is not the model's own output: a message from the user, system or developer, a tool result."""
    kind = input_items.kind_of(item)
    return kind == "function_call_output" or (kind == "message" and item.get("role") != "assistant")


def _tools(body: Mapping[str, Any]) -> list[Any]:
    """The tools as a response echoes them: function tools with all their fields (`strict` is true unless
    turned off), other tools as sent."""
    echoed = []
    for tool in body.get("tools") or []:  # checked by `tools_request.responses_tools`
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
