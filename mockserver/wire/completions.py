"""The legacy Completions wire format (`POST /v1/completions`): `text_completion` objects with `text` choices.

The same scripts as chat, reduced to their text: reasoning, refusals and tool calls have no place in this API
and are left out. As the real API does, the finish reason rides on the last text chunk (no empty finish chunk),
chunks carry no `system_fingerprint` and no `obfuscation`, and `max_tokens` defaults to 16.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.plan import Plan
from ..engine.writer import Due
from ..scenario.model import ENDINGS, Chunk, Fault
from .completions_request import CompletionsAsk, parse_request
from .encode import compact, json_str
from .errors import stream_ending
from .ids import base62
from .logprobs import logprob_entries

__all__ = ["STREAM_HEADERS", "call_ids", "completion_body", "make_envelope", "parse_request", "stream_events"]

STREAM_HEADERS: Mapping[str, str] = {
    "Content-Type": "text/event-stream",
    "cache-control": "no-cache, must-revalidate",
    "access-control-allow-origin": "*",
}


@dataclass(frozen=True)
class Envelope:
    id: str
    created: int


def make_envelope(plans: list[Plan], rng: random.Random) -> Envelope:
    return Envelope(id="cmpl-" + base62(rng, 29), created=int(time.time()))


def call_ids(envelope: Envelope) -> tuple[str, ...]:
    return ()  # the legacy API has no tool calls


def _logprobs(chunks: Sequence[Chunk], top: int, offset: int) -> dict[str, Any]:
    """The legacy logprobs shape: parallel lists of tokens, their logprobs, alternatives and text offsets."""
    entries = [entry for chunk in chunks for entry in logprob_entries(chunk, max(top, 1))]
    offsets = []
    for entry in entries:
        offsets.append(offset)
        offset += len(entry["token"])
    return {
        "tokens": [entry["token"] for entry in entries],
        "token_logprobs": [entry["logprob"] for entry in entries],
        "top_logprobs": [{alt["token"]: alt["logprob"] for alt in entry["top_logprobs"][:top]} for entry in entries],
        "text_offset": offsets,
    }


def _echo(ask: CompletionsAsk, choice: int) -> str:
    """With `echo`, the prompt this choice answers, sent before its text."""
    return ask.echo[choice // ask.per_prompt] if ask.echo else ""


def _choice(
    ask: CompletionsAsk, index: int, text_json: str, chunks: Sequence[Chunk], offset: int, finish: str | None
) -> bytes:
    logprobs = compact(_logprobs(chunks, ask.top_logprobs, offset)) if ask.logprobs else b"null"
    finish_json = json_str(finish).encode() if finish else b"null"
    return (
        b'{"text":' + text_json.encode() + b',"index":' + str(index).encode()
        + b',"logprobs":' + logprobs + b',"finish_reason":' + finish_json + b"}"
    )  # fmt: skip


def _choice_events(plan: Plan, index: int, ask: CompletionsAsk) -> Iterator[tuple[float, int, bytes | Fault]]:
    """One choice's events: (due, order, the choice's JSON or a fault). The last text chunk carries the finish
    reason; an answer without text finishes with one empty chunk. text_only() left only content chunks."""
    carrier = len(plan.chunks) - 1 if plan.chunks and plan.ending is None else None
    echo = _echo(ask, index)
    offset = len(echo)
    order = 0
    for at, first, last, fault in plan.events:
        order += 1
        if fault is not None:
            yield at, order, fault
            if fault.kind in ENDINGS:
                return
            continue
        for position in range(first, last):
            chunk = plan.chunks[position]
            text = json_str(echo + chunk.content) if echo and position == 0 else chunk.content_json
            finish = plan.finish_reason if position == carrier else None
            yield at, order, _choice(ask, index, text, (chunk,), offset, finish)
            offset += len(chunk.content)
            order += 1
    if carrier is None and plan.ending is None:
        yield plan.finish_at, order, _choice(ask, index, json_str(echo), (), offset, plan.finish_reason)


def stream_events(plans: list[Plan], ask: CompletionsAsk, envelope: Envelope) -> Iterator[Due]:
    """`data:` events of `text_completion` chunks, the choices interleaved in time order, then the usage chunk
    when asked for, and `[DONE]`; a fault that ends the stream comes in their place."""
    head = f'data: {{"id":"{envelope.id}","object":"text_completion","created":{envelope.created},"choices":['.encode()
    model = json_str(plans[0].model)
    tail = (f'],"model":{model}' + (',"usage":null' if ask.include_usage else "") + "}\n\n").encode()
    last_at = 0.0
    streams = [_choice_events(plan, index, ask) for index, plan in enumerate(plans)]
    for at, _, event in heapq.merge(*streams, key=lambda event: event[:2]):
        last_at = at  # events come in time order
        if not isinstance(event, Fault):
            yield Due(at, head + event + tail, 1)
        elif event.kind in ENDINGS:
            yield Due(at, stream_ending(event, plans[0].model), int(event.kind == "error"))
            return
        else:
            yield Due(at, event.raw, 0)
    final = b""
    if ask.include_usage:
        final = (
            (
                f'data: {{"id":"{envelope.id}","object":"text_completion","created":{envelope.created},'
                f'"model":{model},"usage":'
            ).encode()
            + compact(usage_object(plans))
            + b',"choices":[]}\n\n'
        )
    yield Due(last_at, final + b"data: [DONE]\n\n", int(ask.include_usage))


def usage_object(plans: list[Plan]) -> dict[str, int]:
    completion = sum(plan.completion_tokens for plan in plans)
    return {
        "prompt_tokens": plans[0].prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": plans[0].prompt_tokens + completion,
    }


def completion_body(plans: list[Plan], ask: CompletionsAsk, envelope: Envelope) -> bytes:
    choices = []
    for index, plan in enumerate(plans):
        echo = _echo(ask, index)
        choices.append(
            {
                "text": echo + plan.content,
                "index": index,
                "logprobs": _logprobs(plan.chunks, ask.top_logprobs, len(echo)) if ask.logprobs else None,
                "finish_reason": plan.finish_reason,
            }
        )
    body = {
        "id": envelope.id,
        "object": "text_completion",
        "created": envelope.created,
        "model": plans[0].model,
        "choices": choices,
        "usage": usage_object(plans),
    }
    return json.dumps(body, ensure_ascii=False).encode()
