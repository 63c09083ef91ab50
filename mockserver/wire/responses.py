"""The Responses API wire format (`POST /v1/responses`): request checks as the real API makes them, and rendering a
plan as the typed `response.*` event stream or one `response` object.

Every event is an `event: <type>` line and a `data:` line whose JSON starts with the same `type` and a
`sequence_number` counting from 0 over the stream; there is no `[DONE]`. A plan's chunks become output items in
order — a `reasoning` item, a `message` (its text or refusal as a content part), then one `function_call` item
per tool call. An item opens (`output_item.added`, `content_part.added`) with its first chunk and closes (its
`…done` events) when the next one opens or the answer ends; `response.created` and `response.in_progress` go out
with the headers. Delta events are most of a stream, and all of a delta event after its ids — the delta, its
logprobs, the padding — depends only on the scripted chunk, so it is serialized once per answer.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine.plan import Ask, Plan
from ..scenario.model import ARGUMENTS, CONTENT, MID_STREAM_ERROR, REASONING, REFUSAL, TOOL_CALL, Chunk, Fault
from ..scenario.tokens import estimate_prompt_tokens, message_text
from . import params
from .encode import compact, padding
from .errors import invalid
from .ids import base62, hex_token
from .logprobs import logprob_entries

ROLES = ("assistant", "system", "developer", "user")
STREAM_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8"}
MIN_OUTPUT_TOKENS = 16
LOGPROBS = "message.output_text.logprobs"  # the `include` entry that asks for logprobs
SUMMARIES = ("auto", "concise", "detailed")
# Reasoning streams as reasoning text, as open-weight reasoning models send it; as a summary when the request asks
# for one (`reasoning.summary`), as OpenAI's reasoning models send it.
REASONING_TEXT, SUMMARY_TEXT = "reasoning_text", "summary_text"
# finish_reason -> the response's status (its last output item's too) and its incomplete_details reason
STATUSES = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
}


# --- the request ---------------------------------------------------------------------------------------------


def parse_request(body: Mapping[str, Any]) -> Ask:
    """Check a Responses request as the real API does; keep what the pipeline needs and the settings every
    response object echoes back."""
    model = params.model(body)
    instructions = params.optional(body, "instructions", str, "a string")
    messages, last_user = _input(body.get("input"))
    if instructions:
        messages.insert(0, {"role": "developer", "content": instructions})
    stream, options = params.stream_options(body)
    limit = params.integer(body, "max_output_tokens", MIN_OUTPUT_TOKENS)
    include = params.optional(body, "include", list, "an array") or []
    top_logprobs = params.integer(body, "top_logprobs", 0, 20) or 0
    reasoning = params.optional(body, "reasoning", Mapping, "an object") or {}
    temperature = params.optional(body, "temperature", (int, float), "a number")
    top_p = params.optional(body, "top_p", (int, float), "a number")
    settings = {
        "background": _flag(body, "background", False),
        "instructions": instructions,
        "max_output_tokens": limit,
        "max_tool_calls": params.optional(body, "max_tool_calls", int, "an integer"),
        "parallel_tool_calls": _flag(body, "parallel_tool_calls", True),
        "previous_response_id": params.optional(body, "previous_response_id", str, "a string"),
        "prompt_cache_key": params.optional(body, "prompt_cache_key", str, "a string"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": params.optional(body, "safety_identifier", str, "a string"),
        "service_tier": params.optional(body, "service_tier", str, "a string") or "auto",
        "store": _flag(body, "store", True),
        "temperature": 1.0 if temperature is None else float(temperature),
        "text": {"format": {"type": "text"}, **(params.optional(body, "text", Mapping, "an object") or {})},
        "tool_choice": params.optional(body, "tool_choice", (str, Mapping), "a string or an object") or "auto",
        "tools": _tools(body),
        "top_logprobs": top_logprobs,
        "top_p": 1.0 if top_p is None else float(top_p),
        "truncation": params.optional(body, "truncation", str, "a string") or "disabled",
        "user": params.optional(body, "user", str, "a string"),
        "metadata": params.optional(body, "metadata", Mapping, "an object") or {},
    }
    return Ask(
        model=model,
        last_user=last_user,
        prompt_tokens=estimate_prompt_tokens(messages),
        stream=stream,
        max_tokens=limit,
        logprobs=LOGPROBS in include,
        top_logprobs=top_logprobs,
        obfuscation=params.flag(options, "include_obfuscation", None),  # type: ignore[arg-type]
        extra=settings,
    )


def _flag(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = params.optional(body, key, bool, "a boolean")
    return default if value is None else value


def _input(value: Any) -> tuple[list[Mapping[str, Any]], str]:
    """The input as chat-like messages, for the prompt estimate, and the text of its last user message. It may be
    absent (a request that continues a `previous_response_id`), a string, or a list of items."""
    if value is None:
        return [], ""
    if isinstance(value, str):
        return [{"role": "user", "content": value}], value
    if not isinstance(value, list):
        raise params.wrong_type("input", "one of a string or array of objects", value)
    messages: list[Mapping[str, Any]] = []
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
                raise invalid(
                    f"Missing required parameter: '{where}.content'.", f"{where}.content", "missing_required_parameter"
                )
            if not isinstance(content, (str, list)):
                raise params.wrong_type(f"{where}.content", "one of a string or array of objects", content)
            messages.append({"role": role, "content": content})
            if role == "user":
                last_user = message_text(content)
        elif kind == "function_call":
            messages.append({"role": "assistant", "content": item.get("arguments"), "name": item.get("name")})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "content": item.get("output")})
        # Other items (reasoning, item references, ...) carry no text the estimate counts.
    return messages, last_user


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
                raise invalid(
                    f"Missing required parameter: '{where}.{key}'.", f"{where}.{key}", "missing_required_parameter"
                )
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


# --- ids and the response object -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """The ids drawn for one response: its own and its items'."""

    id: str
    created_at: int
    reasoning_id: str
    message_id: str
    calls: tuple[tuple[str, str], ...]  # per tool call: its item id and its call id


def make_envelope(plans: list[Plan], rng: random.Random) -> Envelope:
    calls = plans[0].answer.tool_calls
    return Envelope(
        id="resp_" + hex_token(rng, 48),
        created_at=int(time.time()),
        reasoning_id="rs_" + hex_token(rng, 48),
        message_id="msg_" + hex_token(rng, 48),
        calls=tuple(("fc_" + hex_token(rng, 48), call.id or "call_" + base62(rng, 24)) for call in calls),
    )


def _usage(plan: Plan) -> dict[str, Any]:
    return {
        "input_tokens": plan.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": plan.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
    }


def _response(
    plan: Plan,
    ask: Ask,
    envelope: Envelope,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    error: dict[str, Any] | None = None,
    incomplete: str | None = None,
) -> dict[str, Any]:
    """The response object, keys in the real API's order. The requested `service_tier` "auto" is reported as
    "default" once the response is done, as the real API does."""
    settings = ask.extra
    tier = settings["service_tier"]
    return {
        "id": envelope.id,
        "object": "response",
        "created_at": envelope.created_at,
        "status": status,
        "background": settings["background"],
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": settings["instructions"],
        "max_output_tokens": settings["max_output_tokens"],
        "max_tool_calls": settings["max_tool_calls"],
        "model": plan.model,
        "output": output,
        "parallel_tool_calls": settings["parallel_tool_calls"],
        "previous_response_id": settings["previous_response_id"],
        "prompt_cache_key": settings["prompt_cache_key"],
        "reasoning": settings["reasoning"],
        "safety_identifier": settings["safety_identifier"],
        "service_tier": "default" if tier == "auto" and status != "in_progress" else tier,
        "store": settings["store"],
        "temperature": settings["temperature"],
        "text": settings["text"],
        "tool_choice": settings["tool_choice"],
        "tools": settings["tools"],
        "top_logprobs": settings["top_logprobs"],
        "top_p": settings["top_p"],
        "truncation": settings["truncation"],
        "usage": usage,
        "user": settings["user"],
        "metadata": settings["metadata"],
    }


# --- delta events: serialized once per answer ----------------------------------------------------------------


def _slim(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Logprobs as text events carry them: without the `bytes` of the output text's own entries."""
    return [
        {
            "token": entry["token"],
            "logprob": entry["logprob"],
            "top_logprobs": [{"token": top["token"], "logprob": top["logprob"]} for top in entry["top_logprobs"]],
        }
        for entry in entries
    ]


@dataclass(frozen=True)
class _Tail:
    """What a chunk's delta event ends with (delta, logprobs, padding), and its logprob entries (text only)."""

    data: bytes
    entries: list[dict[str, Any]]


def _tail(chunk: Chunk, position: int, obfuscation: bool, top: int | None) -> _Tail:
    data = b',"delta":' + chunk.content_json.encode()
    entries: list[dict[str, Any]] = []
    if chunk.kind == CONTENT:
        entries = logprob_entries(chunk, top) if top is not None else []
        data += b',"logprobs":' + compact(_slim(entries))
    if obfuscation:
        data += padding(f"{position}:{chunk.content}")
    return _Tail(data + b"}\n\n", entries)


def _tails(plan: Plan, obfuscation: bool, top: int | None) -> list[_Tail]:
    """The tails of a plan's chunks: once per answer and request style; a chunk cut by max_output_tokens anew."""
    key = ("responses", obfuscation, top)
    cached = plan.answer.cache.get(key)
    if cached is None:
        cached = plan.answer.cache[key] = [
            _tail(chunk, position, obfuscation, top) for position, chunk in enumerate(plan.answer.chunks)
        ]
    if not plan.cut:
        return cached
    tails = cached[: len(plan.chunks)]
    tails[-1] = _tail(plan.chunks[-1], len(plan.chunks) - 1, obfuscation, top)
    return tails


def _head(kind: str) -> bytes:
    return b"event: " + kind.encode() + b'\ndata: {"type":"' + kind.encode() + b'","sequence_number":'


# The delta event of each part kind (and of a function call's arguments), up to its sequence number.
_DELTA_HEADS = {
    CONTENT: _head("response.output_text.delta"),
    REFUSAL: _head("response.refusal.delta"),
    REASONING_TEXT: _head("response.reasoning_text.delta"),
    SUMMARY_TEXT: _head("response.reasoning_summary_text.delta"),
    ARGUMENTS: _head("response.function_call_arguments.delta"),
}
# Per part kind: the events that open and close the part, and the one that finalizes its text.
_PART_EVENTS = {
    CONTENT: ("response.content_part.added", "response.content_part.done", "response.output_text.done"),
    REFUSAL: ("response.content_part.added", "response.content_part.done", "response.refusal.done"),
    REASONING_TEXT: ("response.content_part.added", "response.content_part.done", "response.reasoning_text.done"),
    SUMMARY_TEXT: (
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.done",
    ),
}
_ITEM_KINDS = {
    REASONING: "reasoning",
    CONTENT: "message",
    REFUSAL: "message",
    TOOL_CALL: "function_call",
    ARGUMENTS: "function_call",
}


def _event(kind: str, sequence: int, **fields: Any) -> bytes:
    return (
        b"event: "
        + kind.encode()
        + b"\ndata: "
        + compact({"type": kind, "sequence_number": sequence, **fields})
        + b"\n\n"
    )


def _lifecycle(kind: str, sequence: int, response: bytes) -> bytes:
    """A response.* event carrying the whole response, already serialized."""
    return _head(kind) + str(sequence).encode() + b',"response":' + response + b"}\n\n"


# --- output items --------------------------------------------------------------------------------------------


@dataclass
class _Part:
    """A content part of an item (a summary part, for a reasoning summary): chunks[start:end] of one kind."""

    kind: str  # CONTENT, REFUSAL, REASONING_TEXT or SUMMARY_TEXT
    index: int  # its content_index (summary_index)
    start: int
    end: int


@dataclass
class _Item:
    """An output item: chunks[start:end], in parts. An empty message starts and ends at the end of the chunks."""

    kind: str  # reasoning | message | function_call
    index: int  # its output_index
    start: int
    end: int
    parts: list[_Part] = field(default_factory=list)
    tool: int | None = None  # a function call's index among the answer's tool calls


def _layout(plan: Plan, summary: bool) -> list[_Item]:
    """The output items a plan's chunks make, in order. Worked out once per answer for the plans that send it
    whole (the items are never changed once made); a plan cut short gets its own."""
    whole = plan.ending is None and not plan.truncated
    key = ("responses-layout", summary)
    cached = plan.answer.cache.get(key) if whole else None
    if cached is None:
        cached = _items(plan.chunks, summary, empty=whole)
        if whole:
            plan.answer.cache[key] = cached
    return cached


def _items(chunks: tuple[Chunk, ...], summary: bool, empty: bool) -> list[_Item]:
    """The items of these chunks. With `empty`, an answer that says nothing (no text, refusal or tool call)
    still ends with a message, empty: not when max_output_tokens or a fault cut it short."""
    items: list[_Item] = []
    for position, chunk in enumerate(chunks):
        kind = _ITEM_KINDS[chunk.kind]
        if not items or items[-1].kind != kind or chunk.kind == TOOL_CALL:
            items.append(_Item(kind, len(items), position, position, tool=chunk.tool))
        item = items[-1]
        item.end = position + 1
        if kind == "function_call":
            continue
        part = (SUMMARY_TEXT if summary else REASONING_TEXT) if chunk.kind == REASONING else chunk.kind
        if not item.parts or item.parts[-1].kind != part:
            item.parts.append(_Part(part, len(item.parts), position, position))
        item.parts[-1].end = position + 1
    if empty and all(item.kind == "reasoning" for item in items):
        end = len(chunks)
        items.append(_Item("message", len(items), end, end, [_Part(CONTENT, 0, end, end)]))
    return items


class _Renderer:
    """One response's output items, and its events in order, numbered as they are made."""

    def __init__(self, plan: Plan, ask: Ask, envelope: Envelope) -> None:
        self.plan, self.ask, self.envelope = plan, ask, envelope
        self.items = _layout(plan, ask.extra["reasoning"]["summary"] in SUMMARIES)
        self.tails = _tails(plan, ask.obfuscation is not False, ask.top_logprobs if ask.logprobs else None)
        self.opening = {item.start: item for item in self.items}
        self.parts = {part.start: part for item in self.items for part in item.parts}
        # Where an item or a part starts, and a last one past the end: runs of deltas go between them.
        self.boundaries = sorted({*self.opening, *self.parts, len(plan.chunks) + 1})
        self.texts: dict[tuple[int, int], str] = {}
        self.sequence = itertools.count()
        self.item: _Item | None = None  # the item open now, and its part
        self.part: _Part | None = None
        self.ids = b""  # what the open item's (part's) delta events say after their sequence number

    # --- what items say

    def item_id(self, item: _Item) -> str:
        if item.kind == "function_call":
            return self.envelope.calls[item.tool][0]  # type: ignore[index]
        return self.envelope.reasoning_id if item.kind == "reasoning" else self.envelope.message_id

    def text(self, start: int, end: int) -> str:
        text = self.texts.get((start, end))
        if text is None:
            text = self.texts[start, end] = "".join(chunk.content for chunk in self.plan.chunks[start:end])
        return text

    def entries(self, part: _Part) -> list[dict[str, Any]]:
        if not self.ask.logprobs:
            return []
        return [entry for tail in self.tails[part.start : part.end] for entry in tail.entries]

    def part_json(self, part: _Part, full: bool = True) -> dict[str, Any]:
        text = self.text(part.start, part.end) if full else ""
        if part.kind == CONTENT:
            logprobs = self.entries(part) if full else []
            return {"type": "output_text", "annotations": [], "logprobs": logprobs, "text": text}
        if part.kind == REFUSAL:
            return {"type": "refusal", "refusal": text}
        return {"type": part.kind, "text": text}

    def item_json(self, item: _Item, status: str, full: bool = True) -> dict[str, Any]:
        item_id = self.item_id(item)
        parts = [self.part_json(part) for part in item.parts] if full else []
        if item.kind == "message":
            return {"id": item_id, "type": "message", "status": status, "content": parts, "role": "assistant"}
        if item.kind == "reasoning":  # the real API gives reasoning items no status
            if item.parts and item.parts[0].kind == SUMMARY_TEXT:
                return {"id": item_id, "type": "reasoning", "summary": parts}
            return {"id": item_id, "type": "reasoning", "summary": [], "content": parts}
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "arguments": self.text(item.start, item.end) if full else "",
            "call_id": self.envelope.calls[item.tool][1],  # type: ignore[index]
            "name": self.plan.answer.tool_calls[item.tool].name,  # type: ignore[index]
        }

    def output(self, last: str) -> list[dict[str, Any]]:
        """The items as a finished response lists them: the last one with status `last`."""
        return [self.item_json(item, last if item is self.items[-1] else "completed") for item in self.items]

    def response(self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None, **more: Any) -> bytes:
        return compact(_response(self.plan, self.ask, self.envelope, status, output, usage, **more))

    # --- events

    def start(self) -> bytes:
        response = self.response("in_progress", [], None)
        return _lifecycle("response.created", next(self.sequence), response) + _lifecycle(
            "response.in_progress", next(self.sequence), response
        )

    def run(self, first: int, end: int) -> list[bytes]:
        """The events of chunks[first:end], due together: their deltas and, where an item or a part starts, the
        events that close the one before and open it."""
        events: list[bytes] = []
        position = first
        while position < end:
            events += self.advance(position)
            stop = min(end, self.boundaries[bisect.bisect_right(self.boundaries, position)])
            item = self.item
            assert item is not None
            if position == item.start and item.kind == "function_call":
                position += 1  # the call's header: it opened the item and has no delta of its own
            head = _DELTA_HEADS[ARGUMENTS if item.kind == "function_call" else self.part.kind]  # type: ignore[union-attr]
            sequence, ids, tails = self.sequence, self.ids, self.tails
            events += [head + b"%d" % next(sequence) + ids + tails[at].data for at in range(position, stop)]
            position = stop
        return events

    def advance(self, position: int) -> list[bytes]:
        """The events at a chunk position: closing the item (or part) that ends there, opening the next."""
        events = []
        item = self.opening.get(position)
        if item is not None:
            if self.item is not None:
                events += self.close("completed")
            self.item = item
            added = self.item_json(item, "in_progress", full=False)
            events.append(
                _event("response.output_item.added", next(self.sequence), output_index=item.index, item=added)
            )
            self.ids = self.item_ids()
        part = self.parts.get(position)
        if part is not None:
            if self.part is not None:
                events += self.close_part()
            self.part = part
            added = self.part_json(part, full=False)
            events.append(_event(_PART_EVENTS[part.kind][0], next(self.sequence), **self.part_ids(), part=added))
            self.ids = self.item_ids() + f',"{self.index_key(part)}":{part.index}'.encode()
        return events

    def item_ids(self) -> bytes:
        item = self.item
        assert item is not None
        return f',"item_id":"{self.item_id(item)}","output_index":{item.index}'.encode()

    @staticmethod
    def index_key(part: _Part) -> str:
        return "summary_index" if part.kind == SUMMARY_TEXT else "content_index"

    def part_ids(self) -> dict[str, Any]:
        item, part = self.item, self.part
        assert item is not None and part is not None
        return {"item_id": self.item_id(item), "output_index": item.index, self.index_key(part): part.index}

    def close_part(self) -> list[bytes]:
        part = self.part
        assert part is not None
        _, done, text_done = _PART_EVENTS[part.kind]
        text = self.text(part.start, part.end)
        ids = self.part_ids()
        if part.kind == CONTENT:
            finished = _event(text_done, next(self.sequence), **ids, text=text, logprobs=_slim(self.entries(part)))
        elif part.kind == REFUSAL:
            finished = _event(text_done, next(self.sequence), **ids, refusal=text)
        else:
            finished = _event(text_done, next(self.sequence), **ids, text=text)
        self.part = None
        return [finished, _event(done, next(self.sequence), **ids, part=self.part_json(part))]

    def close(self, status: str) -> list[bytes]:
        item = self.item
        assert item is not None
        events = self.close_part() if self.part is not None else []
        if item.kind == "function_call":
            events.append(
                _event(
                    "response.function_call_arguments.done",
                    next(self.sequence),
                    item_id=self.item_id(item),
                    output_index=item.index,
                    name=self.plan.answer.tool_calls[item.tool].name,  # type: ignore[index]
                    arguments=self.text(item.start, item.end),
                )
            )
        done = self.item_json(item, status)
        events.append(_event("response.output_item.done", next(self.sequence), output_index=item.index, item=done))
        self.item = None
        return events

    def finish(self) -> list[bytes]:
        """The events of the finish: the last item closed (an empty message first opened, if the answer ends
        with one), then response.completed or response.incomplete."""
        status, reason = STATUSES[self.plan.finish_reason]  # the last item's status is the response's
        events = self.advance(len(self.plan.chunks))
        if self.item is not None:
            events += self.close(status)
        response = self.response(status, self.output(status), _usage(self.plan), incomplete=reason)
        events.append(_lifecycle("response." + status, next(self.sequence), response))
        return events

    def fail(self, fault: Fault) -> bytes:
        """A scripted error: `response.failed` with the items as they stood (no usage), or the standalone
        `error` event."""
        error = fault.error or MID_STREAM_ERROR
        if fault.standalone:
            event = {"type": "error", "code": error["code"], "message": error["message"], "param": error["param"]}
            return b"event: error\ndata: " + compact({**event, "sequence_number": next(self.sequence)}) + b"\n\n"
        failure = {"code": error["code"] or "server_error", "message": error["message"]}
        response = self.response("failed", self.output("incomplete"), None, error=failure)
        return _lifecycle("response.failed", next(self.sequence), response)


def stream_events(plans: list[Plan], ask: Ask, envelope: Envelope) -> Iterator[tuple[float, bytes, int]]:
    """The SSE body as (due time, bytes, events in them), rendered only when the writer asks for them:
    response.created and response.in_progress at once, each run of chunks when it is due, the finish with the
    last one. A scripted error ends the stream with response.failed (or an `error` event); a cut or an early
    end stops it where it is."""
    plan = plans[0]
    renderer = _Renderer(plan, ask, envelope)
    yield 0.0, renderer.start(), 2
    for at, first, end, fault in plan.events:
        if fault is None:
            events = renderer.run(first, end)
            yield at, b"".join(events), len(events)
        elif fault.kind == "error":
            yield at, renderer.fail(fault), 1
            return
        elif fault.kind in ("disconnect", "end"):
            yield at, b"", 0
            return
        else:
            yield at, fault.raw, 0
    events = renderer.finish()
    yield plan.finish_at, b"".join(events), len(events)


def completion_body(plans: list[Plan], ask: Ask, envelope: Envelope) -> bytes:
    """The non-streaming response object: what response.completed (or .incomplete) would carry."""
    plan = plans[0]
    status, reason = STATUSES[plan.finish_reason]
    output = _Renderer(plan, ask, envelope).output(status)
    body = _response(plan, ask, envelope, status, output, _usage(plan), incomplete=reason)
    return json.dumps(body, ensure_ascii=False).encode()
