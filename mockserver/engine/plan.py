"""From a scripted answer to what one request receives: timing, `max_tokens` truncation, token counts.

This is the part every wire format shares. A renderer (chat, ...) turns a `Plan` into bytes; it never
decides what is said or when.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

from ..scenario.model import (
    ARGUMENTS,
    CONTENT,
    ENDINGS,
    REASONING,
    SILENCES,
    TOOL_CALL,
    Answer,
    Chunk,
    ChunkKind,
    ErrorReply,
    Fault,
    FaultKind,
    FinishReason,
    MemoKind,
    ToolCall,
    derive,
    text_of,
    tokens_of,
)
from .ask import Ask

T = TypeVar("T")
_SCHEDULE = MemoKind["Timeline"]("schedule")
_TEXT_ONLY = MemoKind[Answer]("text only")
_FAULTS_ONLY = MemoKind[Answer]("faults only")
_TEXT = MemoKind[str]("text of a kind")
_REASONING_TOKENS = MemoKind[int]("reasoning tokens")
_TOOL_CALLS = MemoKind["list[tuple[ToolCall, str]]"]("tool calls sent")


# An event of a plan: (due time in seconds after the headers, first, end, fault). With no fault, the content
# chunks `chunks[first:end]`, due together: a renderer serializes them in one go and the writer sends them in
# one write. With a fault, that fault, coming after the first `first` content chunks (first == end).
Event = tuple[float, int, int, Fault | None]


class Played(NamedTuple):
    """A fault an answer plays, for the journal and its timeline."""

    before: int  # content chunks before it
    kind: FaultKind
    seconds: float  # of a stall
    at: float  # when it starts, in seconds after the headers


@dataclass(frozen=True, slots=True)
class Timeline:
    """When everything of an answer is due, for one speed (and, with jitter, one request)."""

    events: tuple[Event, ...]
    finish_at: float  # the finish (or the ending fault), in seconds after the headers
    latency: float  # seconds before the status line and headers
    ending: Fault | None  # a fault that ends the stream in place of the finish
    played: tuple[Played, ...] = ()  # the faults played, in script order

    @property
    def faults(self) -> tuple[FaultKind, ...]:
        return tuple(fault.kind for fault in self.played)

    @property
    def stalled(self) -> float:
        """Seconds of stalls, for the journal and the verdicts."""
        return sum(fault.seconds for fault in self.played)

    @property
    def first_token(self) -> float | None:
        """When the first content is due, in seconds after the headers; None when none is sent."""
        return next((at for at, _, _, fault in self.events if fault is None), None)


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer one request gets: its content chunks, events and finish, and the counts to report."""

    answer: Answer
    chunks: tuple[Chunk, ...]
    timeline: Timeline
    finish_reason: FinishReason
    model: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def events(self) -> tuple[Event, ...]:
        return self.timeline.events

    @property
    def finish_at(self) -> float:
        return self.timeline.finish_at

    @property
    def ending(self) -> Fault | None:
        return self.timeline.ending

    @property
    def truncated(self) -> bool:
        """Whether this plan sends less than the whole answer (cut by max_tokens, or ended by a fault)."""
        return self.chunks is not self.answer.chunks

    @property
    def cut(self) -> bool:
        """Whether max_tokens cut the last chunk sent: that chunk is then a shorter one of its own."""
        return bool(self.chunks) and self.chunks[-1] is not self.answer.chunks[len(self.chunks) - 1]

    @property
    def content(self) -> str:
        if not self.truncated:
            return self.answer.content
        return text_of(self.chunks, CONTENT)

    def _derived(self, kind: MemoKind[T], key: object, compute: Callable[[tuple[Chunk, ...]], T]) -> T:
        """`compute(chunks)`, once per answer when the plan sends all of it (it is the same for every request)."""
        if self.truncated:
            return compute(self.chunks)
        return self.answer.memo.get(kind, key, lambda: compute(self.chunks))

    def text(self, kind: ChunkKind) -> str:
        """The text of one kind this plan sends: content, reasoning or refusal."""
        if kind == CONTENT:
            return self.content
        return self._derived(_TEXT, kind, lambda chunks: text_of(chunks, kind))

    @property
    def cached_tokens(self) -> int:
        """The prompt tokens read from the cache: as the script's `usage` says, else none."""
        usage = self.answer.usage
        return usage.cached_tokens if usage is not None and usage.cached_tokens is not None else 0

    @property
    def reasoning_tokens(self) -> int:
        """The reasoning tokens of the chunks sent, unless the script's `usage` says how many."""
        usage = self.answer.usage
        if usage is not None and usage.reasoning_tokens is not None:
            return usage.reasoning_tokens
        return self._derived(_REASONING_TOKENS, None, lambda chunks: tokens_of(chunks, REASONING))

    @property
    def tool_calls(self) -> list[tuple[ToolCall, str]]:
        """The tool calls this plan sends, each with the arguments text it gets (cut short by max_tokens)."""
        return self._derived(_TOOL_CALLS, None, self._tool_calls)

    def _tool_calls(self, chunks: tuple[Chunk, ...]) -> list[tuple[ToolCall, str]]:
        sent: dict[int | None, list[str]] = {}
        for chunk in chunks:
            if chunk.kind == TOOL_CALL:
                sent[chunk.tool] = []
            elif chunk.kind == ARGUMENTS:
                sent[chunk.tool].append(chunk.content)
        return [(call, "".join(sent[call.index])) for call in self.answer.tool_calls if call.index in sent]


def schedule(answer: Answer, speed: float, rng: random.Random | None = None) -> Timeline:
    """Due times for an answer's items. Without jitter the result is the same for every request, so it is
    computed once per answer and speed; with jitter, `rng` (seeded per request) moves each delay."""
    if rng is None or not answer.jitter_ms:
        return answer.memo.get(_SCHEDULE, speed, lambda: _timeline(answer, speed, None))
    return _timeline(answer, speed, rng)


def _timeline(answer: Answer, speed: float, rng: random.Random | None) -> Timeline:
    scale = 0.0 if speed == 0 else 1.0 / (1000.0 * speed)
    jitter = answer.jitter_ms if rng is not None else 0.0

    def wait(ms: float) -> float:
        if jitter and rng is not None:
            ms = max(0.0, ms + rng.uniform(-jitter, jitter))
        return ms * scale

    events: list[Event] = []
    played: list[Played] = []
    at = 0.0
    index = 0  # content chunks so far
    ending = None
    for item in answer.items:
        if isinstance(item, Chunk):
            delay = item.delay_ms
            if delay is None:
                delay = answer.ttft_ms if index == 0 else answer.interval_ms
            at += wait(delay)
            last = events[-1] if events else None
            if last is not None and last[3] is None and last[0] == at:
                events[-1] = (at, last[1], index + 1, None)
            else:
                events.append((at, index, index + 1, None))
            index += 1
        elif item.kind in SILENCES:
            pause = wait(item.delay_ms or 0.0)
            if item.kind == "stall":
                played.append(Played(index, "stall", pause, at))
            at += pause
        else:
            at += wait(item.delay_ms or 0.0)
            events.append((at, index, index, item))
            if item.kind != "raw":
                played.append(Played(index, item.kind, 0.0, at))
            if item.kind in ENDINGS:
                ending = item
                break
    if index == 0 and ending is None:
        at += wait(answer.ttft_ms)  # an answer without content still takes its time to first token to finish
    return Timeline(tuple(events), at, wait(answer.latency_ms), ending, tuple(played))


def error_latency(reply: ErrorReply, speed: float, rng: random.Random | None) -> float:
    """Seconds before an error answer's status line, after speed and jitter."""
    if speed == 0:
        return 0.0
    ms = reply.latency_ms
    if rng is not None and reply.jitter_ms:
        ms = max(0.0, ms + rng.uniform(-reply.jitter_ms, reply.jitter_ms))
    return ms / (1000.0 * speed)


def make_plans(answer: Answer, ask: Ask, speed: float, rng: random.Random | None = None) -> list[Plan]:
    """One plan per choice the request asks for (`n`): choice i answers with the scenario's i-th alternative
    (they repeat), or all with the one answer."""
    if ask.text_only:
        answer = text_only(answer)
    if answer.choices:
        return [make_plan(answer.choices[index % len(answer.choices)], ask, speed, rng) for index in range(ask.n)]
    if answer.jitter_ms and rng is not None:  # each choice draws its own jitter
        return [make_plan(answer, ask, speed, rng) for _ in range(ask.n)]
    return [make_plan(answer, ask, speed, rng)] * ask.n


def text_only(answer: Answer) -> Answer:
    """The answer reduced to its content, for a wire format without reasoning, refusals or tool calls. Time
    passes as scripted: every other chunk becomes a silent wait as long as its delay."""
    return answer.memo.get(_TEXT_ONLY, None, lambda: _text_only(answer))


def _text_only(answer: Answer) -> Answer:
    items: list[Chunk | Fault] = []
    seen = 0  # chunks so far: the first waits ttft_ms, the others interval_ms, as the scheduler has it
    for item in answer.items:
        if not isinstance(item, Chunk):
            items.append(item)
            continue
        delay = item.delay_ms
        if delay is None:
            delay = answer.ttft_ms if seen == 0 else answer.interval_ms
        seen += 1
        items.append(replace(item, delay_ms=delay) if item.kind == CONTENT else Fault("wait", delay))
    finish: FinishReason = "stop" if answer.finish_reason == "tool_calls" else answer.finish_reason
    choices = tuple(text_only(choice) for choice in answer.choices)
    return derive(answer, items=tuple(items), tool_calls=(), finish_reason=finish, choices=choices)


def faults_only(answer: Answer) -> Answer:
    """The answer without its deltas, for a wire format that sends none (embeddings, moderations): it takes
    its time to first token, and its faults — stalls, an error, a cut — play as scripted."""
    return answer.memo.get(_FAULTS_ONLY, None, lambda: _faults_only(answer))


def _faults_only(answer: Answer) -> Answer:
    items = tuple(item for item in answer.items if isinstance(item, Fault))
    choices = tuple(faults_only(choice) for choice in answer.choices)
    return derive(answer, items=items, tool_calls=(), finish_reason="stop", choices=choices)


def first_ending(plans: list[Plan]) -> Fault | None:
    """The fault that ends the stream first, if any choice's answer has one."""
    endings = [(plan.finish_at, plan.ending) for plan in plans if plan.ending is not None]
    return min(endings, key=lambda pair: pair[0])[1] if endings else None


def make_plan(answer: Answer, ask: Ask, speed: float, rng: random.Random | None = None) -> Plan:
    timeline = schedule(answer, speed, rng)
    chunks = answer.chunks
    finish_reason = answer.finish_reason
    completion = answer.completion_tokens
    if ask.max_tokens is not None and completion > ask.max_tokens:
        chunks, completion = _truncate(chunks, ask.max_tokens)
        timeline = _cut(timeline, len(chunks))
        finish_reason = "length"
    elif timeline.ending is not None:
        # Only what comes before the fault is sent, and counted.
        sent = timeline.events[-1][1]
        chunks = chunks[:sent]
        completion = sum(len(chunk.tokens) for chunk in chunks)
    usage = answer.usage
    prompt = usage.prompt_tokens if usage and usage.prompt_tokens is not None else ask.prompt_tokens
    if usage and usage.completion_tokens is not None:
        completion = usage.completion_tokens
    return Plan(
        answer=answer,
        chunks=chunks,
        timeline=timeline,
        finish_reason=finish_reason,
        model=answer.model or ask.model,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )


def _cut(timeline: Timeline, kept: int) -> Timeline:
    """The timeline of an answer cut to its first `kept` chunks by max_tokens. It ends with its last piece (or,
    cut to nothing, when its first piece was due); faults scripted after the last piece are not reached."""
    events: list[Event] = []
    for at, first, end, fault in timeline.events:
        if first >= kept:  # this and all that follows come after the last piece kept
            break
        events.append((at, first, min(end, kept), fault))
    content = [event[0] for event in events if event[3] is None]
    finish_at = content[-1] if content else next(event[0] for event in timeline.events if event[3] is None)
    played = tuple(fault for fault in timeline.played if fault.before < kept)
    return Timeline(tuple(events), finish_at, timeline.latency, None, played)


def _truncate(chunks: tuple[Chunk, ...], budget: int) -> tuple[tuple[Chunk, ...], int]:
    """The chunks that fit in `budget` tokens; the chunk that crosses it is cut at a token boundary."""
    kept: list[Chunk] = []
    used = 0
    for chunk in chunks:
        room = budget - used
        if len(chunk.tokens) <= room:
            kept.append(chunk)
            used += len(chunk.tokens)
            continue
        if room > 0:
            kept.append(replace(chunk, content="".join(chunk.tokens[:room])))
            used += room
        break
    return tuple(kept), used
