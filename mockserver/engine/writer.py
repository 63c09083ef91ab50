"""Writing an event stream on time.

Every event has a due time measured from the start of the request, so delays never accumulate the cost of
the writes before them. Everything already due when the writer looks goes out in a single write: the cost of
a write, not of its size, dominates a streaming server's CPU.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from aiohttp import web
from multidict import CIMultiDict

# How an answer ended: as scripted; cut short by the client; ended early by the script (or chaos) — an error
# event, a clean early end, a cut; or not yet.
Ended = Literal["completed", "client disconnected", "fault", "in progress"]
COMPLETED: Ended = "completed"
DISCONNECTED: Ended = "client disconnected"
FAULT: Ended = "fault"
IN_PROGRESS: Ended = "in progress"
# The writes of a stream whose times are kept, for its timeline: past this, the last one kept moves forward.
MAX_TICKS = 2000


class Due(NamedTuple):
    """Bytes the writer sends at a time: `at` seconds after the headers, with the stream chunks (events) in
    them counted for the journal."""

    at: float
    data: bytes
    chunks: int


class EventStreamResponse(web.StreamResponse):
    """A streaming response whose status line and headers leave with the first events when those are due at
    once: an answer without delays is a single write. Once they are bytes in the writer, the headers are no
    longer kept as a mapping: a dozen of them were 2 KB of every open stream."""

    _send_headers_immediately = False

    async def _write_headers(self) -> None:
        await super()._write_headers()
        self._headers = CIMultiDict()


@dataclass(slots=True)
class Outcome:
    """How a stream went, for the request log, the journal and the metrics: events written, how it ended, and
    when each write left (times count from `origin`, the loop time the request arrived)."""

    chunks: int = 0  # stream chunks written, `[DONE]` not counted
    ended: Ended = COMPLETED
    origin: float = 0.0
    token_due: float | None = None  # when the first token is due, in seconds after the headers; None: no content
    first_token: float | None = None  # when the write carrying it left, in seconds after origin
    sent: int = 0  # bytes of the body written
    # Two whole numbers a write, (microseconds since origin, chunks written so far), the first pair for the status
    # line and headers: an append per write, the cheapest record that still draws every tick of the stream.
    ticks: array[int] = field(default_factory=lambda: array("q"))

    def wrote(self, now: float, size: int, chunks: int) -> None:
        self.sent += size
        self.chunks += chunks
        ticks = self.ticks
        at = int((now - self.origin) * 1_000_000)
        if len(ticks) < 2 * MAX_TICKS:
            ticks.append(at)
            ticks.append(self.chunks)
        else:
            ticks[-2], ticks[-1] = at, self.chunks


async def _write_joined(response: web.StreamResponse, parts: list[bytes]) -> int:
    """Write the parts as one, and empty the list: the joined bytes are not kept past the write."""
    data = b"".join(parts)
    parts.clear()
    await response.write(data)
    return len(data)


async def sleep_until(deadline: float) -> None:
    loop = asyncio.get_running_loop()
    if deadline > loop.time():
        await _wait_until(loop, deadline)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _wait_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    """Wait for the loop time `deadline`: one timer set at the deadline itself. (`asyncio.sleep` takes a delay,
    reads the clock again to set its timer and cancels it after it has fired: a stream's every timed event paid
    for that.)"""
    waiter = loop.create_future()
    timer = loop.call_at(deadline, _wake, waiter)
    try:
        await waiter
    except asyncio.CancelledError:
        timer.cancel()  # a stream whose client left holds no timer until its next event was due
        raise


async def write_events(
    request: web.Request,
    response: web.StreamResponse,
    events: Iterable[Due],
    start: float,
    outcome: Outcome,
    cut: bool = False,
) -> None:
    """Send `Due` events in order, then end the body — or, with `cut`, close the
    connection without ending it (no chunked terminator). Due times count from the loop time `start`. A
    client that goes away ends the stream quietly, noted in `outcome`."""
    loop = asyncio.get_running_loop()
    due_now: list[bytes] = []
    due_chunks = 0
    passed = -1.0  # the latest due time known to have passed: events due before it need no clock reading
    token = outcome.token_due  # until the first token is in a write
    token_now = False  # the first token is among the events due now
    pending = iter(events)
    event = next(pending, None)
    try:
        await response.prepare(request)
        if event is not None and event.at > 0:
            # Status and headers go out now, not with the first event: a client timing out after them is
            # not retried by the SDKs, one timing out before them is.
            await response.write(b"")
        outcome.wrote(loop.time(), 0, 0)
        # While it waits, an open stream holds the one event due next, not the bytes it has already sent.
        while event is not None:
            at, data, chunks = event
            if at > passed:
                now = loop.time()
                delay = start + at - now
                if delay > 0:
                    if due_now:
                        size = await _write_joined(response, due_now)
                        outcome.wrote(now, size, due_chunks)
                        if token_now:
                            outcome.first_token, token_now = now - outcome.origin, False
                        due_chunks = 0
                    await _wait_until(loop, start + at)
                passed = at
            due_now.append(data)
            due_chunks += chunks
            if token is not None and at >= token:
                token, token_now = None, True
            event = next(pending, None)
        data_now = b"".join(due_now)
        now = loop.time()
        if cut:
            if due_now:
                await response.write(data_now)
            if request.transport is not None:
                request.transport.close()  # sends what is buffered, then closes: the body never ends
        else:
            await response.write_eof(data_now)
        outcome.wrote(now, len(data_now), due_chunks)
        if token_now:
            outcome.first_token = now - outcome.origin
    except ConnectionError:
        outcome.ended = DISCONNECTED
    except asyncio.CancelledError:
        # The server cancels a handler whose client disconnected (or when it shuts down).
        outcome.ended = DISCONNECTED
        raise
