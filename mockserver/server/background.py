"""Background responses (`background: true`): answered at once with `status: "queued"`, then played on the
scenario's own timeline by a task the app owns — in progress after the answer's latency, then its events, then
its end — whether or not anyone is listening. Every event is kept as it was sent, so a client that lost its
stream resumes it (`GET /v1/responses/{id}?stream=true&starting_after=N`) with exactly the events it missed,
while the response runs and after it ended."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable

from aiohttp import web

from ..engine.writer import DISCONNECTED, FAULT, EventStreamResponse, Outcome, sleep_until
from ..wire import responses
from .exchange import base_headers, current
from .state import STATE
from .store import Live, Store, StoredResponse


def start(store: Store, record: StoredResponse, done: Callable[[], None]) -> Live:
    """Start playing a background response from now; its events gather in the returned `Live`, and `done()` is
    called when it ends as scripted."""
    live = record.live = Live()
    stream = responses.Background(record.plans, record.ask, record.envelope)
    live.cancel = stream.cancelled
    task = asyncio.get_running_loop().create_task(_play(record, stream, live, done), name=f"background {record.id}")
    live.task = task
    store.start(task)
    return live


async def _play(record: StoredResponse, stream: responses.Background, live: Live, done: Callable[[], None]) -> None:
    start = asyncio.get_running_loop().time()
    try:
        # Each event is made before its wait: the response's state changes only once it is sent.
        for due, status in stream.events():
            sent = stream.sent
            await sleep_until(start + due.at)
            live.add(due.data, due.chunks)
            record.status = status
            record.sent = sent
        ending = record.plans[0].ending
        live.cut = ending is not None and ending.kind == "disconnect"
        done()
    finally:
        live.finish()


def cancel(record: StoredResponse) -> None:
    """Cancel a running background response: its task stops, its stream ends with the cancellation."""
    live = record.live
    assert live is not None and live.task is not None and live.cancel is not None
    live.task.cancel()
    record.status = "cancelled"
    live.add(live.cancel(live.events, record.sent or 0), 1)
    live.finish()


def first_after(live: Live, after: int) -> int:
    """The position of the first frame a client that has seen events up to sequence number `after` lacks."""
    return bisect.bisect_right(live.keys, after)


async def follow(request: web.Request, live: Live, after: int) -> web.StreamResponse:
    """Stream a background response's events after sequence number `after` (-1: all), the ones already sent at
    once, then each as it comes, until the response ends. A client that leaves stops only its own stream."""
    exchange = current()
    response = EventStreamResponse(headers={**base_headers(exchange), **responses.STREAM_HEADERS})
    outcome = exchange.outcome = Outcome()
    request.app[STATE].metrics.stream_opened()  # an open stream until it ends (`exchange.finish` counts that)
    position = 0
    try:
        await response.prepare(request)
        await response.write(b"")
        while True:
            wake, finished = live.wake, live.finished
            # Found again as events come: `after` may be past the events sent so far (a client that saw them
            # elsewhere, or asks ahead), and those still to come up to it are not sent either.
            position = max(position, first_after(live, after))
            frames = live.frames[position:]
            position += len(frames)
            if frames:
                await response.write(b"".join(frames))
                outcome.chunks += sum(1 for frame in frames if frame.startswith(b"event:"))
            if finished:
                break
            await wake.wait()
        if live.cut:
            outcome.ended = FAULT
            if request.transport is not None:
                request.transport.close()
        else:
            await response.write_eof()
    except ConnectionError:
        outcome.ended = DISCONNECTED
    except asyncio.CancelledError:
        outcome.ended = DISCONNECTED
        raise
    return response
