"""The Responses API wire format (`POST /v1/responses`): rendering a plan as the typed `response.*` event stream or
one `response` object (the request checks are in `responses_request`, the object in `responses_object`, the
output items in `responses_items`).

Every event is an `event: <type>` line and a `data:` line whose JSON starts with the same `type` and a
`sequence_number` counting from 0 over the stream; there is no `[DONE]`. A plan's chunks become output items in
order — a `reasoning` item, a `message` (its text or refusal as a content part), then one `function_call` item
per tool call. An item opens (`output_item.added`, `content_part.added`) with its first chunk and closes (its
`…done` events) when the next one opens or the answer ends; `response.created` and `response.in_progress` go out
with the headers. A background response opens with `response.created` and `response.queued`, and is in progress
after its latency. Delta events are most of a stream, and all of a delta event after its ids — the delta, its
logprobs, the padding — depends only on the scripted chunk, so it is serialized once per answer.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.plan import Plan
from ..engine.writer import Due
from ..scenario.model import ARGUMENTS, CONTENT, REFUSAL, Chunk, Fault, MemoKind
from . import reasoning
from .encode import compact, padding, spaced
from .errors import fault_error
from .logprobs import logprob_entries
from .responses_items import REASONING_TEXT, REFUSAL_PART, SUMMARY_TEXT, TEXT_PART, Item, Part, PartKind, layout
from .responses_object import RUNNING, STATUSES, Envelope, make_envelope, response_object, usage
from .responses_request import ResponsesAsk, parse_request

__all__ = ["STREAM_HEADERS", "call_ids", "completion_body", "make_envelope", "parse_request", "stream_events"]


def call_ids(envelope: Envelope) -> tuple[str, ...]:
    return tuple(call_id for _, call_id in envelope.calls)


STREAM_HEADERS: Mapping[str, str] = {"Content-Type": "text/event-stream; charset=utf-8"}


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


_TAILS = MemoKind[list[_Tail]]("responses tails")


def _tails(plan: Plan, obfuscation: bool, top: int | None) -> list[_Tail]:
    """The tails of a plan's chunks: once per answer and request style; a chunk cut by max_output_tokens anew."""
    chunks = plan.answer.chunks
    cached = plan.answer.memo.get(
        _TAILS, (obfuscation, top), lambda: [_tail(chunk, at, obfuscation, top) for at, chunk in enumerate(chunks)]
    )
    if not plan.cut:
        return cached
    tails = cached[: len(plan.chunks)]
    tails[-1] = _tail(plan.chunks[-1], len(plan.chunks) - 1, obfuscation, top)
    return tails


def _head(kind: str) -> bytes:
    return b"event: " + kind.encode() + b'\ndata: {"type":"' + kind.encode() + b'","sequence_number":'


# The delta event of each part kind (and of a function call's arguments), up to its sequence number.
_DELTA_HEADS: dict[str, bytes] = {
    CONTENT: _head("response.output_text.delta"),
    REFUSAL: _head("response.refusal.delta"),
    REASONING_TEXT: _head("response.reasoning_text.delta"),
    SUMMARY_TEXT: _head("response.reasoning_summary_text.delta"),
    ARGUMENTS: _head("response.function_call_arguments.delta"),
}
# Per part kind: the events that open and close the part, and the one that finalizes its text.
_PART_EVENTS: dict[PartKind, tuple[str, str, str]] = {
    TEXT_PART: ("response.content_part.added", "response.content_part.done", "response.output_text.done"),
    REFUSAL_PART: ("response.content_part.added", "response.content_part.done", "response.refusal.done"),
    REASONING_TEXT: ("response.content_part.added", "response.content_part.done", "response.reasoning_text.done"),
    SUMMARY_TEXT: (
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.done",
    ),
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


class _Renderer:
    """One response's output items, and its events in order, numbered as they are made."""

    def __init__(self, plan: Plan, ask: ResponsesAsk, envelope: Envelope, sent: int | None = None) -> None:
        self.plan, self.ask, self.envelope = plan, ask, envelope
        self.style = reasoning.style(plan, ask, ask.echoed.reasoning.get("summary"))
        thinking = not plan.reasoning_tokens and reasoning.unscripted_tokens(plan, ask) > 0
        self.items = layout(plan, self.style, thinking, sent)
        self.tails = _tails(plan, ask.obfuscation is not False, ask.top_logprobs if ask.logprobs else None)
        self.opening: dict[int, list[Item]] = {}
        for item in self.items:
            self.opening.setdefault(item.start, []).append(item)
        self.parts = {part.start: part for item in self.items for part in item.parts}
        # Where an item or a part starts, and a last one past the end: runs of deltas go between them.
        self.boundaries = sorted({*self.opening, *self.parts, len(plan.chunks) + 1})
        self.texts: dict[tuple[int, int], str] = {}
        self.sequence = itertools.count()
        self.item: Item | None = None  # the item open now, and its part
        self.part: Part | None = None
        self.ids = b""  # what the open item's (part's) delta events say after their sequence number
        self.sent = 0  # chunks sent so far

    # --- what items say

    def item_id(self, item: Item) -> str:
        if item.kind == "function_call":
            return self.envelope.calls[item.call][0]
        return self.envelope.reasoning_id if item.kind == "reasoning" else self.envelope.message_id

    def text(self, start: int, end: int) -> str:
        text = self.texts.get((start, end))
        if text is None:
            text = self.texts[start, end] = "".join(chunk.content for chunk in self.plan.chunks[start:end])
        return text

    def entries(self, part: Part) -> list[dict[str, Any]]:
        if not self.ask.logprobs:
            return []
        return [entry for tail in self.tails[part.start : part.end] for entry in tail.entries]

    def part_json(self, part: Part, full: bool = True) -> dict[str, Any]:
        text = self.text(part.start, part.end) if full else ""
        if part.kind == CONTENT:
            logprobs = self.entries(part) if full else []
            return {"type": "output_text", "annotations": [], "logprobs": logprobs, "text": text}
        if part.kind == REFUSAL:
            return {"type": "refusal", "refusal": text}
        return {"type": part.kind, "text": text}

    def item_json(self, item: Item, status: str, full: bool = True) -> dict[str, Any]:
        item_id = self.item_id(item)
        parts = [self.part_json(part) for part in item.parts] if full else []
        if item.kind == "message":
            return {"id": item_id, "type": "message", "status": status, "content": parts, "role": "assistant"}
        if item.kind == "reasoning":  # the real API gives reasoning items no status
            summary = self.style == "summary"
            found: dict[str, Any] = {
                "id": item_id,
                "type": "reasoning",
                "summary": parts if summary else [],
                "content": [] if summary else parts,
            }
            if reasoning.ENCRYPTED in self.ask.include:
                found["encrypted_content"] = reasoning.encrypted_content(
                    item_id, reasoning.tokens(self.plan, self.ask), self.envelope.created_at
                )
            return found
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "arguments": self.text(item.start, item.end) if full else "",
            "call_id": self.envelope.calls[item.call][1],
            "name": self.plan.answer.tool_calls[item.call].name,
        }

    def output(self, last: str) -> list[dict[str, Any]]:
        """The items as a finished response lists them: the last one with status `last`."""
        return [self.item_json(item, last if item is self.items[-1] else "completed") for item in self.items]

    def object(self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None, **more: Any) -> bytes:
        return compact(response_object(self.plan, self.ask, self.envelope, status, output, usage, **more))

    # --- events

    def start(self) -> bytes:
        """response.created and response.in_progress; for a background response, response.created and
        response.queued (their keys in the order recorded for those: the response before its number)."""
        if not self.ask.echoed.background:
            response = self.object("in_progress", [], None)
            created = _lifecycle("response.created", next(self.sequence), response)
            return created + _lifecycle("response.in_progress", next(self.sequence), response)
        queued = self.object("queued", [], None)
        return b"".join(
            b"event: " + kind + b'\ndata: {"type":"' + kind + b'","response":' + queued
            + b',"sequence_number":%d}\n\n' % next(self.sequence)
            for kind in (b"response.created", b"response.queued")
        )  # fmt: skip

    def in_progress(self) -> bytes:
        """A background response's response.in_progress."""
        return _lifecycle("response.in_progress", next(self.sequence), self.object("in_progress", [], None))

    def run(self, first: int, end: int) -> list[bytes]:
        """The events of chunks[first:end], due together: their deltas and, where an item or a part starts, the
        events that close the one before and open it. Reasoning sent as nothing but its item has no deltas."""
        events: list[bytes] = []
        position = first
        self.sent = end
        while position < end:
            events += self.advance(position)
            stop = min(end, self.boundaries[bisect.bisect_right(self.boundaries, position)])
            item = self.item
            assert item is not None
            if item.kind == "function_call":
                if position == item.start:
                    position += 1  # the call's header: it opened the item and has no delta of its own
                head = _DELTA_HEADS[ARGUMENTS]
            elif self.part is None:  # reasoning that is not shown
                position = stop
                continue
            else:
                head = _DELTA_HEADS[self.part.kind]
            sequence, ids, tails = self.sequence, self.ids, self.tails
            events += [head + b"%d" % next(sequence) + ids + tails[at].data for at in range(position, stop)]
            position = stop
        return events

    def advance(self, position: int) -> list[bytes]:
        """The events at a chunk position: closing the item (or part) that ends there, opening the next ones."""
        events = []
        for item in self.opening.get(position, ()):
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
    def index_key(part: Part) -> str:
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
        if item.kind == "function_call":  # its name is in the item, not in this event
            events.append(
                _event(
                    "response.function_call_arguments.done",
                    next(self.sequence),
                    item_id=self.item_id(item),
                    output_index=item.index,
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
        response = self.object(status, self.output(status), usage(self.plan, self.ask), incomplete=reason)
        events.append(_lifecycle("response." + status, next(self.sequence), response))
        return events

    def fail(self, fault: Fault) -> list[bytes]:
        """A scripted error: the `error` event with the error nested in it, then `response.failed` with the items
        as they stood (no usage) — or, scripted `standalone`, the older flat `error` event alone."""
        error = fault_error(fault, self.plan.model)
        if fault.standalone:
            flat = {"type": "error", "code": error["code"], "message": error["message"], "param": error["param"]}
            return [b"event: error\ndata: " + compact({**flat, "sequence_number": next(self.sequence)}) + b"\n\n"]
        nested = {"type": error["type"], "code": error["code"], "message": error["message"], "param": error["param"]}
        event = compact({"type": "error", "sequence_number": next(self.sequence), "error": nested})
        failure = {"code": error["code"] or "server_error", "message": error["message"]}
        response = self.object("failed", self.output("incomplete"), None, error=failure)
        return [b"event: error\ndata: " + event + b"\n\n", _lifecycle("response.failed", next(self.sequence), response)]

    def body(self, offset: float = 0.0) -> Iterator[tuple[Due, str]]:
        """The events after the opening, each run when it is due (`offset` seconds later), with the response's
        status once it is sent: the finish with the last chunk; a scripted error ends with response.failed (or
        an `error` event); a cut or an early end stops where it is."""
        for at, first, end, fault in self.plan.events:
            if fault is None:
                events = self.run(first, end)
                yield Due(offset + at, b"".join(events), len(events)), "in_progress"
            elif fault.kind == "error":
                events = self.fail(fault)
                yield Due(offset + at, b"".join(events), len(events)), "failed"
                return
            elif fault.kind in ("disconnect", "end"):
                yield Due(offset + at, b"", 0), final_status(self.plan)
                return
            else:
                yield Due(offset + at, fault.raw, 0), "in_progress"
        events = self.finish()
        yield Due(offset + self.plan.finish_at, b"".join(events), len(events)), final_status(self.plan)


def final_status(plan: Plan) -> str:
    """The status a response ends with: as its finish says, failed when a scripted error ends it. A stream cut
    short by a fault is stored as the content so far, as a request that does not stream would get it."""
    if plan.ending is not None and plan.ending.kind == "error":
        return "failed"
    return STATUSES[plan.finish_reason][0]


def stream_events(plans: list[Plan], ask: ResponsesAsk, envelope: Envelope) -> Iterator[Due]:
    """The SSE body as (due time, bytes, events in them), rendered only when the writer asks for them:
    response.created and response.in_progress at once, each run of chunks when it is due, the finish with the
    last one."""
    renderer = _Renderer(plans[0], ask, envelope)
    yield Due(0.0, renderer.start(), 2)
    for due, _ in renderer.body():
        yield due


class Background:
    """A background response's events as time passes, from its creation: `response.created` and
    `response.queued` at once, `response.in_progress` after the answer's latency, then its events, each with
    the status the response has once it is sent. Each is made just before it is due: `sent` counts the chunks
    made so far."""

    def __init__(self, plans: list[Plan], ask: ResponsesAsk, envelope: Envelope) -> None:
        self.plans, self.ask, self.envelope = plans, ask, envelope
        self.renderer = _Renderer(plans[0], ask, envelope)

    def events(self) -> Iterator[tuple[Due, str]]:
        latency = self.renderer.plan.timeline.latency
        yield Due(0.0, self.renderer.start(), 2), "queued"
        yield Due(latency, self.renderer.in_progress(), 1), "in_progress"
        yield from self.renderer.body(latency)

    @property
    def sent(self) -> int:
        return self.renderer.sent

    def cancelled(self, sequence: int, sent: int) -> bytes:
        """How a cancelled background stream ends, after event `sequence - 1` and `sent` chunks: response.failed,
        the response `cancelled` with what was produced so far."""
        response = compact(snapshot(self.plans, self.ask, self.envelope, "cancelled", sent))
        return _lifecycle("response.failed", sequence, response)


def snapshot(
    plans: list[Plan], ask: ResponsesAsk, envelope: Envelope, status: str, sent: int | None = None
) -> dict[str, Any]:
    """The response object as it stands with `status`: empty while it runs; a cancelled one with what its first
    `sent` chunks produced (the last item still in progress); a finished one whole."""
    plan = plans[0]
    if status in RUNNING:
        return response_object(plan, ask, envelope, status, [], None)
    if status == "cancelled":
        output = _Renderer(plan, ask, envelope, sent or 0).output("in_progress")
        return response_object(plan, ask, envelope, status, output, None)
    renderer = _Renderer(plan, ask, envelope)
    if status == "failed" and plan.ending is not None:
        error = fault_error(plan.ending, plan.model)
        failure = {"code": error["code"] or "server_error", "message": error["message"]}
        return response_object(plan, ask, envelope, status, renderer.output("incomplete"), None, error=failure)
    status, reason = STATUSES[plan.finish_reason]
    return response_object(plan, ask, envelope, status, renderer.output(status), usage(plan, ask), incomplete=reason)


def completion_body(plans: list[Plan], ask: ResponsesAsk, envelope: Envelope) -> bytes:
    """The non-streaming response object: what response.completed (or .incomplete) would carry."""
    return spaced(snapshot(plans, ask, envelope, "completed")).encode()
