"""One request on its way through the server: what the middleware and the handler share, the headers every
answer carries, and — once it is answered — its journal entry completed and its log line written."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass

from aiohttp import web

from ..engine.plan import Timeline
from ..engine.selection import Selection
from ..engine.writer import COMPLETED, DISCONNECTED, FAULT, Ended, Outcome
from ..scenario.chaos import ChaosKind
from ..scenario.problems import printable
from .journal import Entry

log = logging.getLogger("mockserver")

OPENAI_VERSION = "2020-10-01"


@dataclass
class Exchange:
    """One request as the pipeline sees it: when it started, its id, its session, its journal entry (API
    requests only), what answered it and how that went."""

    start: float
    request_id: str
    session: str  # "" for none
    entry: Entry | None = None
    selection: Selection | None = None
    outcome: Outcome | None = None
    timeline: Timeline | None = None  # when the answer's parts are due, and the faults it plays
    chaos: ChaosKind | None = None  # what the chaos draw gave
    retry_after: float | None = None  # seconds an error answer asked the client to wait
    should_retry: str | None = None  # the x-should-retry header of an error answer
    ended: Ended | None = None  # how an answer that is not a stream ended, when not normally


# The middleware and the handler run in the same task, so the handler finds its exchange here.
_current: contextvars.ContextVar[Exchange] = contextvars.ContextVar("mockserver.exchange")


def begin(exchange: Exchange) -> None:
    _current.set(exchange)


def current() -> Exchange:
    """The exchange of the request being handled."""
    return _current.get()


def processing_ms(exchange: Exchange) -> str:
    """`openai-processing-ms`: the time until the answer's headers."""
    return str(max(1, round((asyncio.get_running_loop().time() - exchange.start) * 1000)))


def base_headers(exchange: Exchange) -> dict[str, str]:
    """Headers the real API sends on every answer."""
    return {
        "x-request-id": exchange.request_id,
        "access-control-expose-headers": "X-Request-ID",
        "openai-version": OPENAI_VERSION,
        "openai-processing-ms": processing_ms(exchange),
    }


def finish(request: web.Request, exchange: Exchange, status: int | None) -> None:
    """Complete the journal entry and write the request's log line. `status` is None when the client left
    before any answer was sent."""
    elapsed = asyncio.get_running_loop().time() - exchange.start
    selection, outcome, entry = exchange.selection, exchange.outcome, exchange.entry
    faults, stalled = (exchange.timeline.faults, exchange.timeline.stalled) if exchange.timeline else ((), 0.0)
    if outcome is None:
        outcome = Outcome(ended=exchange.ended or (COMPLETED if status is not None else DISCONNECTED))
    if entry is not None:
        entry.status = status
        entry.duration_ms = round(elapsed * 1000, 3)
        entry.ended, entry.chunks = outcome.ended, outcome.chunks
        if selection is not None:
            entry.scenario, entry.step, entry.chosen_by = (
                selection.scenario.name,
                selection.step_number,
                selection.reason,
            )
        entry.fault = ", ".join(faults) or None
        entry.chaos = exchange.chaos
        entry.stall_ms = round(stalled * 1000, 3) if stalled else None
        entry.retry_after = exchange.retry_after
        entry.should_retry = {"true": True, "false": False}.get(exchange.should_retry or "")
    if not log.isEnabledFor(logging.INFO):
        return
    parts = [request.method, printable(request.path), str(status or "-")]
    if selection is not None:
        step = (
            f" step={selection.step_number}/{len(selection.scenario.steps)}" if selection.scenario.is_sequence else ""
        )
        parts.append(f"scenario={selection.scenario.name}{step}")
    if exchange.session:
        parts.append(f"session={exchange.session}")
    if exchange.chaos:
        parts.append(f"chaos={exchange.chaos}")
    if faults:
        parts.append(f"fault={','.join(faults)}")
    if exchange.outcome is not None:  # a stream
        parts.append(f"chunks={outcome.chunks} {outcome.ended}")
    elif outcome.ended not in (COMPLETED, FAULT):  # an answer cut by a fault already says fault=
        parts.append(outcome.ended)
    parts.append(f"{elapsed * 1000:.0f}ms")
    log.info(" ".join(parts))


class ConnectionCut(Exception):
    """Raised to close the connection without any answer (a scripted disconnect on a non-streaming request)."""
