"""From a scripted answer to what one request receives: timing, `max_tokens` truncation, token counts.

This is the part every wire format shares. A renderer (chat, ...) turns a `Plan` into bytes; it never
decides what is said or when.
"""

from __future__ import annotations

from dataclasses import dataclass

from .script import Answer, Chunk


@dataclass(frozen=True)
class Ask:
    """What the pipeline needs from a request, whatever its wire format."""

    model: str
    last_user: str
    prompt_tokens: int
    stream: bool
    include_usage: bool = False
    max_tokens: int | None = None
    n: int = 1


# A run: (due time in seconds from the request's start, first chunk index, end index). The chunks of a run
# fall due together, so a renderer can serialize them in one go and the writer send them in one write.
Run = tuple[float, int, int]


@dataclass(frozen=True)
class Plan:
    """The answer one request gets: its chunks, grouped into runs due together, and the finish (with, when
    streaming, the usage chunk and the end of the stream) due at `finish_at`."""

    answer: Answer
    chunks: tuple[Chunk, ...]
    runs: tuple[Run, ...]
    finish_at: float
    finish_reason: str
    model: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def truncated(self) -> bool:
        return self.chunks is not self.answer.chunks

    @property
    def content(self) -> str:
        if not self.truncated:
            return self.answer.content
        return "".join(chunk.content for chunk in self.chunks)


def schedule(answer: Answer, speed: float) -> tuple[tuple[Run, ...], float]:
    """The runs of an answer and the due time of its finish. Computed once per answer and speed."""
    key = ("schedule", speed)
    cached = answer.cache.get(key)
    if cached is None:
        scale = 0.0 if speed == 0 else 1.0 / (1000.0 * speed)
        runs: list[Run] = []
        at = 0.0
        for index, chunk in enumerate(answer.chunks):
            delay = chunk.delay_ms
            if delay is None:
                delay = answer.ttft_ms if index == 0 else answer.interval_ms
            at += delay * scale
            if runs and runs[-1][0] == at:
                runs[-1] = (at, runs[-1][1], index + 1)
            else:
                runs.append((at, index, index + 1))
        finish_at = at if answer.chunks else answer.ttft_ms * scale
        cached = answer.cache[key] = (tuple(runs), finish_at)
    return cached


def make_plan(answer: Answer, ask: Ask, speed: float) -> Plan:
    runs, finish_at = schedule(answer, speed)
    chunks = answer.chunks
    finish_reason = answer.finish_reason
    completion = answer.completion_tokens
    if ask.max_tokens is not None and completion > ask.max_tokens:
        first_due = runs[0][0]
        chunks, completion = _truncate(chunks, ask.max_tokens)
        kept = len(chunks)
        runs = tuple((at, first, min(end, kept)) for at, first, end in runs if first < kept)
        # A cut answer ends with its last piece; one cut to nothing ends when its first piece was due.
        finish_at = runs[-1][0] if runs else first_due
        finish_reason = "length"
    usage = answer.usage
    prompt = usage.prompt_tokens if usage and usage.prompt_tokens is not None else ask.prompt_tokens
    if usage and usage.completion_tokens is not None:
        completion = usage.completion_tokens
    return Plan(
        answer=answer,
        chunks=chunks,
        runs=runs,
        finish_at=finish_at,
        finish_reason=finish_reason,
        model=answer.model or ask.model,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )


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
            kept.append(Chunk("".join(chunk.tokens[:room]), chunk.delay_ms))
            used += room
        break
    return tuple(kept), used
