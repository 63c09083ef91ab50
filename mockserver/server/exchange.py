"""One request on its way through the server: what the middleware and the handler share, the headers every
answer carries, and — once it is answered — its journal entry completed and its log line written."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..engine.plan import Plan, Timeline
from ..engine.selection import Selection
from ..engine.writer import COMPLETED, DISCONNECTED, FAULT, Ended, Outcome
from ..scenario.chaos import ChaosKind
from ..scenario.problems import printable
from ..wire.errors import ApiError
from .journal import Entry
from .metrics import Metrics, endpoint_of
from .state import STATE

log = logging.getLogger("mockserver")

OPENAI_VERSION = "2020-10-01"
_SHOULD_RETRY = {"true": True, "false": False}  # the x-should-retry header, for the journal


@dataclass(slots=True)
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
    rate_limit: dict[str, Any] | None = None  # the quota's counts, for the journal
    error: ApiError | None = None  # the error answered


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
            _chosen(entry, selection)
        entry.fault = ", ".join(faults) or None
        entry.chaos = exchange.chaos
        entry.stall_ms = round(stalled * 1000, 3) if stalled else None
        entry.retry_after = exchange.retry_after
        entry.should_retry = _SHOULD_RETRY.get(exchange.should_retry or "")
        entry.rate_limit = exchange.rate_limit
        _time_entry(entry, exchange, elapsed)
        request.app[STATE].journal.account(entry)
        resource = request.match_info.route.resource
        request.app[STATE].metrics.record(
            endpoint_of(resource.canonical if resource is not None else ""), entry, faults, exchange.outcome
        )
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
    if entry is not None and entry.close_code is not None:  # a WebSocket connection, or a turn that ended it
        parts.append(f"close={entry.close_code}")
    if exchange.outcome is not None:  # a stream
        parts.append(f"chunks={outcome.chunks} {outcome.ended}")
    elif outcome.ended not in (COMPLETED, FAULT):  # an answer cut by a fault already says fault=
        parts.append(outcome.ended)
    parts.append(f"{elapsed * 1000:.0f}ms")
    log.info(" ".join(parts))


async def sent(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """A whole answer, sent now rather than after the middleware returns, as aiohttp would: before the request's
    journal entry and log line are written (they are not the client's to wait for), and while a large answer
    holds its turn (`pipeline.answer_whole`)."""
    if isinstance(response, web.Response) and not response.prepared:
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            pass  # the client left: aiohttp meets it again when it ends the response, and closes the connection
    return response


def stream_outcome(exchange: Exchange, plans: list[Plan], metrics: Metrics) -> Outcome:
    """The outcome a stream's writer fills in. The journal entry shares its ticks and names its scenario now, so
    the stream can be watched while it is written."""
    due = [at for at in (plan.timeline.first_token for plan in plans) if at is not None]
    outcome = Outcome(origin=exchange.start, token_due=min(due) if due else None)
    if exchange.entry is not None:
        exchange.entry.ticks = outcome.ticks
        if exchange.selection is not None:
            _chosen(exchange.entry, exchange.selection)
    metrics.stream_opened()
    return outcome


def _chosen(entry: Entry, selection: Selection) -> None:
    entry.scenario, entry.step, entry.chosen_by = selection.scenario.name, selection.step_number, selection.reason


def _time_entry(entry: Entry, exchange: Exchange, elapsed: float) -> None:
    """The timeline fields of a completed entry (ms after arrival), and the error it answered."""
    if exchange.error is not None:
        entry.error = {"code": exchange.error.code, "message": exchange.error.message}
    stream = exchange.outcome
    if stream is not None and stream.ticks:
        entry.headers_ms = stream.ticks[0] / 1000
        if stream.first_token is not None:
            entry.ttft_ms = int(stream.first_token * 1_000_000) / 1000  # as the ticks have it
    elif entry.status is not None:
        entry.headers_ms = entry.duration_ms  # a whole answer leaves in one piece
    timeline = exchange.timeline
    if timeline is not None and timeline.played:
        entry.marks = [
            {
                "kind": fault.kind,
                "at_ms": round((timeline.latency + fault.at) * 1000, 3),
                "ms": round(fault.seconds * 1000, 3) if fault.kind == "stall" else None,
            }
            for fault in timeline.played
        ]


class ConnectionCut(Exception):
    """Raised to close the connection without any answer (a scripted disconnect on a non-streaming request)."""
