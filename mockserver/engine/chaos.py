"""Chaos in the engine: the seeded draw for a request, and the drawn fault put into its answer.

Each draw depends only on the seed, the session and how many requests that session made before, so a run
repeats exactly however its requests interleave with other sessions'.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from ..scenario.chaos import REQUEST_KINDS, UPGRADE_KIND, ChaosKind, ChaosSpec
from ..scenario.model import ENDINGS, MID_STREAM_ERROR, Answer, Chunk, ErrorReply, Fault, Hangup, Step, derive

# The kinds answered with an HTTP error instead of a stream, and its status.
CHAOS_ERRORS: Mapping[ChaosKind, int] = {"rate_limit": 429, "server_error": 500, "overloaded": 503}


def draw(spec: ChaosSpec, seed: int, session: str, index: int) -> tuple[ChaosKind | None, random.Random]:
    """The fault for a session's `index`-th request (or None), and the generator that placed it, for any
    further choice that fault needs (where in the stream it strikes)."""
    rng = random.Random(f"chaos:{seed}:{session}:{index}")
    roll = rng.random()
    total = 0.0
    for kind in REQUEST_KINDS:
        total += spec.rates.get(kind, 0.0)
        if roll < total:
            return kind, rng
    return None, rng


def strike(
    step: Step, server: ChaosSpec | None, seed: int, session: str, count: Callable[[], int]
) -> tuple[Step, ChaosKind | None]:
    """The step after this request's draw, and what was drawn. The answer's own `chaos` wins over the server's;
    `count()` numbers the session's draws (called only when there is something to draw). An error answer is
    never struck."""
    if isinstance(step, ErrorReply):
        return step, None
    spec = step.chaos if step.chaos is not None else server
    if spec is None or not spec.active:
        return step, None
    kind, rng = draw(spec, seed, session, count())
    if kind is None:
        return step, None
    if kind in CHAOS_ERRORS:
        retry_after = spec.retry_after if kind == "rate_limit" else None
        return ErrorReply(status=CHAOS_ERRORS[kind], retry_after=retry_after), kind
    if kind == "disconnect":
        fault = Fault("disconnect")
    elif kind == "close":
        fault = Fault("disconnect", hangup=Hangup(spec.close_code))
    elif kind == "stall":
        fault = Fault("stall", spec.stall_ms)
    else:
        fault = Fault("error", error=MID_STREAM_ERROR)
    return inject(step, fault, rng), kind


def inject(answer: Answer, fault: Fault, rng: random.Random) -> Answer:
    """The answer with `fault` placed after a random number of its chunks; an answer with per-choice
    alternatives gets it in each of them."""
    if answer.choices:
        choices = tuple(inject(choice, fault, rng) for choice in answer.choices)
        return derive(choices[0], choices=choices)
    slots = [index for index, item in enumerate(answer.items) if isinstance(item, Chunk)]
    position = rng.randint(0, len(slots))
    at = slots[position] if position < len(slots) else (slots[-1] + 1 if slots else 0)
    items = (*answer.items[:at], fault, *answer.items[at:])
    if fault.kind in ENDINGS:
        items = items[: at + 1]  # nothing after an ending is sent
    return derive(answer, items=items)


def refuses(spec: ChaosSpec | None, seed: int, session: str, count: Callable[[], int]) -> bool:
    """Whether chaos refuses this WebSocket upgrade: a draw of its own, seeded like a request's (`count()` numbers
    the session's upgrade draws, called only when there is something to draw)."""
    rate = spec.rates.get(UPGRADE_KIND, 0.0) if spec is not None else 0.0
    return rate > 0 and random.Random(f"refuse:{seed}:{session}:{count()}").random() < rate
