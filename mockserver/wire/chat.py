"""The Chat Completions wire format: rendering plans as `chat.completion.chunk` events or one `chat.completion`
object (the request checks are in `chat_request`).

Byte layout follows the real API: key order `id, object, created, model, service_tier, system_fingerprint,
choices, usage, obfuscation`; each choice `index, delta, logprobs, finish_reason`; compact JSON, one `data:`
line per event. Every chunk of a response starts with the same bytes, up to `"choices":[{"index":`; what
follows — a chunk's *item* — depends only on the scripted chunk, so items are serialized once per answer and a
run of chunks due together is the common head joined with their items.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..engine.ask import Ask
from ..engine.plan import Plan
from ..engine.writer import Due
from ..scenario.model import CONTENT, ENDINGS, REASONING, REFUSAL, TOOL_CALL, Chunk, FaultKind, MemoKind
from . import reasoning
from .chat_request import parse_request
from .encode import compact, json_str, padding, spaced
from .errors import stream_ending
from .ids import base62, fingerprint
from .logprobs import logprob_entries

__all__ = ["STREAM_HEADERS", "call_ids", "completion_body", "make_envelope", "parse_request", "stream_events"]

STREAM_HEADERS: Mapping[str, str] = {"Content-Type": "text/event-stream; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every chunk of one response shares, and the ids drawn for it."""

    id: str
    created: int
    fingerprint: str
    call_ids: tuple[tuple[str, ...], ...] = ()  # per choice, per tool call


# The tier a chat answer reports for the one asked: `auto` (and no tier) is served by `default`, `fast` by
# `priority`; others come back as asked.
TIERS = {"auto": "default", "fast": "priority"}


def service_tier(ask: Ask) -> str:
    asked = ask.service_tier or "auto"
    return TIERS.get(asked, asked)


def make_envelope(plans: list[Plan], rng: random.Random) -> Envelope:
    call_ids = tuple(tuple(call.id or "call_" + base62(rng, 24) for call in plan.answer.tool_calls) for plan in plans)
    return Envelope(
        id="chatcmpl-" + base62(rng, 29),
        created=int(time.time()),
        fingerprint=plans[0].answer.system_fingerprint or fingerprint(plans[0].model),
        call_ids=call_ids,
    )


def call_ids(envelope: Envelope) -> tuple[str, ...]:
    return envelope.call_ids[0] if envelope.call_ids else ()


def usage_object(plans: list[Plan], ask: Ask) -> dict[str, Any]:
    """Usage; reasoning a reasoning model did without a script for it counts among the completion tokens."""
    completion = sum(plan.completion_tokens + reasoning.unscripted_tokens(plan, ask) for plan in plans)
    prompt = plans[0].prompt_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": plans[0].cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": sum(reasoning.tokens(plan, ask) for plan in plans),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


# --- items ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Style:
    """What the request asks of every chunk: usage nulls, obfuscation, logprobs."""

    usage: bool
    obfuscation: bool
    top: int | None  # None: no logprobs

    def end(self, seed: str) -> bytes:
        """The bytes that close a chunk after its choices."""
        return (
            b"]" + (b',"usage":null' if self.usage else b"") + (padding(seed) if self.obfuscation else b"") + b"}\n\n"
        )

    def item(self, delta: bytes, seed: str, logprobs: bytes = b"null", finish: bytes = b"null") -> bytes:
        return (
            b'0,"delta":' + delta + b',"logprobs":' + logprobs + b',"finish_reason":' + finish + b"}" + self.end(seed)
        )


def _delta(chunk: Chunk) -> bytes:
    text = chunk.content_json.encode()
    if chunk.kind == CONTENT:
        return b'{"content":' + text + b"}"
    if chunk.kind == REASONING:
        return b'{"reasoning_content":' + text + b"}"  # the convention of OpenAI-compatible reasoning servers
    if chunk.kind == REFUSAL:
        return b'{"refusal":' + text + b"}"
    return b'{"tool_calls":[{"index":' + str(chunk.tool).encode() + b',"function":{"arguments":' + text + b"}}]}"


def _item(chunk: Chunk, position: int, style: _Style) -> bytes:
    logprobs = b"null"
    if style.top is not None and chunk.kind in (CONTENT, REFUSAL):
        entries = compact(logprob_entries(chunk, style.top))
        logprobs = (
            b'{"content":' + entries + b',"refusal":null}'
            if chunk.kind == CONTENT
            else (b'{"content":null,"refusal":' + entries + b"}")
        )
    return style.item(_delta(chunk), f"{position}:{chunk.content}", logprobs)


def _tool_header(plan: Plan, chunk: Chunk, call_id: str, opens: bool, style: _Style) -> bytes:
    """The first fragment of a tool call: index, id, type and name, with empty arguments. When it opens the
    answer, the role travels in it."""
    assert chunk.tool is not None  # a tool-call chunk names its call
    call = plan.answer.tool_calls[chunk.tool]
    header = compact(
        {"index": call.index, "id": call_id, "type": "function", "function": {"name": call.name, "arguments": ""}}
    )
    if opens:
        delta = b'{"role":"assistant","content":null,"tool_calls":[' + header + b'],"refusal":null}'
    else:
        delta = b'{"tool_calls":[' + header + b"]}"
    return style.item(delta, f"tool:{call.index}:{call_id}")


# Each chunk's item, per request style: the same for every request of that style.
_ITEMS = MemoKind[list[bytes]]("chat items")
_REASONS = MemoKind[bool]("has reasoning chunks")
_INDEX = b'{"index":'  # where a chunk's head ends: its choice's index follows


def _items(plan: Plan, choice: int, envelope: Envelope, style: _Style, opens: int | None) -> list[bytes]:
    """The items of a plan's chunks for one choice (`opens`: the position of the first one sent). Serialized once
    per answer and request style; only what differs per request — tool-call ids, a chunk cut by max_tokens,
    another choice's index — is made anew."""
    chunks = plan.answer.chunks
    cached = plan.answer.memo.get(_ITEMS, style, lambda: [_item(chunk, i, style) for i, chunk in enumerate(chunks)])
    if not (plan.cut or plan.answer.tool_calls or choice):
        return cached  # a plan ended early by a fault only reaches the items it sends
    items = cached[: len(plan.chunks)]
    if plan.cut:
        items[-1] = _item(plan.chunks[-1], len(plan.chunks) - 1, style)
    for position, chunk in enumerate(plan.chunks):
        if chunk.kind == TOOL_CALL:
            assert chunk.tool is not None
            call_id = envelope.call_ids[choice][chunk.tool]
            items[position] = _tool_header(plan, chunk, call_id, position == opens, style)
    return [_indexed(item, choice) for item in items] if choice else items


@lru_cache(maxsize=256)
def _opening(first: str, style: _Style) -> bytes | None:
    """The role chunk's item for an answer whose first chunk is of kind `first`, or None when that is a tool call
    (the role travels in it). With logprobs, its empty list is the one the answer fills: `content`, or `refusal`
    for a refusal. The same bytes for every request of a style: made once, shared by every stream."""
    if first == TOOL_CALL:
        return None
    if first == REFUSAL:
        delta, logprobs = b'{"role":"assistant","content":null,"refusal":""}', b'{"content":null,"refusal":[]}'
    else:
        delta, logprobs = b'{"role":"assistant","content":"","refusal":null}', b'{"content":[],"refusal":null}'
    return style.item(delta, "role", logprobs if style.top is not None else b"null")


@lru_cache(maxsize=256)
def _finish(style: _Style, choice: int, reason: str) -> bytes:
    """A choice's finish chunk, after the head."""
    return _indexed(style.item(b"{}", f"finish:{choice}", finish=json_str(reason).encode()), choice)


def _indexed(item: bytes, choice: int) -> bytes:
    """An item of choice 0 as another choice's (an item starts with its choice's index, 0)."""
    return str(choice).encode() + item[1:] if choice else item


def _choice_events(
    plan: Plan, choice: int, head: bytes, envelope: Envelope, style: _Style, single: bool, hide: bool
) -> Iterator[tuple[float, int, bytes, int, FaultKind | None]]:
    """One choice's events: (due, order, bytes, chunks, ending). Its finish chunk is the last; the usage
    chunk and `[DONE]` are the caller's. With `single`, each chunk is an event of its own, so that choices
    interleave chunk by chunk. With `hide`, reasoning chunks send nothing: their time passes in silence."""
    chunks = plan.chunks
    hide = hide and plan.answer.memo.get(_REASONS, None, lambda: any(c.kind == REASONING for c in plan.answer.chunks))
    opens = next((i for i, chunk in enumerate(chunks) if not (hide and chunk.kind == REASONING)), None)
    items = _items(plan, choice, envelope, style, opens)
    opening = _opening(chunks[opens].kind if opens is not None else CONTENT, style)
    role = _indexed(opening, choice) if opening is not None else b""  # the role chunk, after the head
    order = 0  # counts this choice's events: equal times keep choices in step, event by event
    for at, first, last, fault in plan.events:
        order += 1
        if fault is None:
            for start, stop in ((i, i + 1) for i in range(first, last)) if single else ((first, last),):
                if hide:
                    sent = [items[i] for i in range(start, stop) if chunks[i].kind != REASONING]
                    if not sent:
                        continue  # hidden reasoning: its time passes, nothing is sent
                else:
                    sent = items[start:stop]
                if opens is not None and start <= opens and role:  # one join: a run is copied once
                    yield at, order, head.join((b"", role, *sent)), len(sent) + 1, None
                else:
                    yield at, order, head.join((b"", *sent)), len(sent), None
                order += 1
        elif fault.kind in ENDINGS:
            yield at, order, stream_ending(fault, plan.model), int(fault.kind == "error"), fault.kind
            return
        else:
            yield at, order, fault.raw, 0, None
    opened = opens is not None or not role
    data = (b"" if opened else head + role) + head + _finish(style, choice, plan.finish_reason)
    yield plan.finish_at, order + 1, data, 1 + (not opened), None


def stream_events(plans: list[Plan], ask: Ask, envelope: Envelope) -> Iterator[Due]:
    """The SSE body as events, rendered only when the writer asks for them,
    so an open stream holds no bytes it has not sent. With n > 1 the choices' events interleave in time
    order, each choice with its own role and finish chunk. After the last finish come the usage chunk (when
    asked for) and `[DONE]`; a scripted fault ends the stream in their place."""
    # Every chunk's head, up to its choice's index (an open stream holds this one copy of the constant part).
    head = (
        f'data: {{"id":"{envelope.id}","object":"chat.completion.chunk","created":{envelope.created},'
        f'"model":{json_str(plans[0].model)},"service_tier":{json_str(service_tier(ask))},'
        f'"system_fingerprint":"{envelope.fingerprint}","choices":[{{"index":'
    ).encode()
    style = _Style(ask.include_usage, ask.obfuscation is not False, ask.top_logprobs if ask.logprobs else None)
    if len(plans) == 1:
        events = _choice_events(plans[0], 0, head, envelope, style, False, not reasoning.raw(plans[0], ask))
    else:
        streams = [
            _choice_events(plan, choice, head, envelope, style, True, not reasoning.raw(plan, ask))
            for choice, plan in enumerate(plans)
        ]
        events = heapq.merge(*streams, key=lambda event: event[:2])
    last = 0.0
    for at, _, data, chunks, ending in events:
        yield Due(at, data, chunks)
        if ending is not None:
            return
        last = at
    # After the last finish (events come in time order), due with it so that they leave in its write: the usage
    # chunk and [DONE]. Nothing is rendered ahead of its turn, so an open stream holds no bytes but the next.
    tail, chunks = b"data: [DONE]\n\n", 0
    if ask.include_usage:
        usage = head[: -len(_INDEX)] + b'],"usage":' + compact(usage_object(plans, ask))
        tail, chunks = usage + (padding("usage") if style.obfuscation else b"") + b"}\n\n" + tail, 1
    yield Due(last, tail, chunks)


# A choice's message without tool calls, as JSON: the same for every request answered with the whole answer.
_MESSAGE = MemoKind[str]("chat message")


def _message(plan: Plan, ask: Ask) -> dict[str, Any]:
    calls = plan.tool_calls
    content = plan.content if plan.content or not (calls or plan.text(REFUSAL)) else None
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": plan.text(REFUSAL) or None,
        "annotations": [],
    }
    if plan.text(REASONING) and reasoning.raw(plan, ask):
        message["reasoning_content"] = plan.text(REASONING)
    return message


def _message_json(plan: Plan, ask: Ask, call_ids: tuple[str, ...]) -> str:
    """The message of a choice; without tool calls, serialized once per answer."""
    calls = plan.tool_calls
    if not calls and not plan.truncated:
        return plan.answer.memo.get(_MESSAGE, reasoning.raw(plan, ask), lambda: spaced(_message(plan, ask)))
    message = _message(plan, ask)
    if calls:
        message["tool_calls"] = [
            {"id": call_ids[call.index], "type": "function", "function": {"name": call.name, "arguments": arguments}}
            for call, arguments in calls
        ]
    return spaced(message)


def completion_body(plans: list[Plan], ask: Ask, envelope: Envelope) -> bytes:
    """The non-streaming `chat.completion` object: its constant parts written out, each message made once per
    answer, so that a request serializes only what is its own (ids, counts)."""
    choices = []
    for index, plan in enumerate(plans):
        logprobs = "null"
        if ask.logprobs:
            entries: dict[str, list[dict[str, Any]]] = {kind: [] for kind in (CONTENT, REFUSAL)}
            for chunk in plan.chunks:
                if chunk.kind in entries:
                    entries[chunk.kind] += logprob_entries(chunk, ask.top_logprobs)
            logprobs = spaced({kind: found or None for kind, found in entries.items()})
        message = _message_json(plan, ask, envelope.call_ids[index] if envelope.call_ids else ())
        choices.append(
            f'{{"index": {index}, "message": {message}, "logprobs": {logprobs}, '
            f'"finish_reason": {spaced(plan.finish_reason)}}}'
        )
    return (
        f'{{"id": {spaced(envelope.id)}, "object": "chat.completion", "created": {envelope.created}, '
        f'"model": {spaced(plans[0].model)}, "choices": [{", ".join(choices)}], '
        f'"usage": {spaced(usage_object(plans, ask))}, "service_tier": {spaced(service_tier(ask))}, '
        f'"system_fingerprint": {spaced(envelope.fingerprint)}}}'
    ).encode()
