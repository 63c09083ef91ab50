"""The timed writer: absolute deadlines, and everything due at once in one write."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from mockserver.engine import writer
from mockserver.engine.writer import COMPLETED, Due, Outcome, write_events


class RecordingResponse:
    """Stands in for an aiohttp response and records each write with its time."""

    def __init__(self, write_cost: float = 0.005) -> None:
        self.writes: list[tuple[float, bytes, bool]] = []
        self.write_cost = write_cost

    async def prepare(self, request: Any) -> None:
        pass

    async def write(self, data: bytes) -> None:
        self.writes.append((asyncio.get_running_loop().time(), data, False))
        await asyncio.sleep(self.write_cost)  # a slow write must not push later events back

    async def write_eof(self, data: bytes = b"") -> None:
        self.writes.append((asyncio.get_running_loop().time(), data, True))


async def test_events_due_together_go_out_in_one_write() -> None:
    response = RecordingResponse()
    outcome = Outcome()
    start = asyncio.get_running_loop().time()
    await write_events(None, response, [Due(0.0, b"a", 1), Due(0.0, b"b", 1), Due(0.0, b"c", 1)], start, outcome)  # type: ignore[arg-type]
    assert [(data, eof) for _, data, eof in response.writes] == [(b"abc", True)]
    assert (outcome.chunks, outcome.ended) == (3, COMPLETED)


async def test_delays_are_kept_against_deadlines_not_added_up() -> None:
    response = RecordingResponse(write_cost=0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    events = [Due(0.0, b"a", 1)] + [Due(0.05 + 0.02 * i, bytes([98 + i]), 1) for i in range(11)] + [Due(0.25, b"z", 1)]
    await write_events(None, response, events, start, Outcome())  # type: ignore[arg-type]
    assert b"".join(data for _, data, _ in response.writes) == b"".join(data for _, data, _ in events)
    sent = 0
    for at, data, _ in response.writes:  # nothing leaves before it is due
        sent += len(data)
        latest_due = max(due for due, _, _ in events[:sent])
        assert at - start >= latest_due - 0.002
    # 13 writes of 100 ms each, if added to the delays, would put the end past 1.5 s; deadlines keep it near 0.4
    assert response.writes[-1][0] - start < 1.2


async def test_a_late_schedule_catches_up_in_one_write() -> None:
    response = RecordingResponse()
    start = asyncio.get_running_loop().time() - 1.0  # a second behind already
    await write_events(None, response, [Due(0.1, b"a", 1), Due(0.2, b"b", 1), Due(1.2, b"c", 1)], start, Outcome())  # type: ignore[arg-type]
    assert [data for _, data, _ in response.writes] == [b"", b"ab", b"c"]


async def test_headers_leave_at_once_when_the_first_event_waits() -> None:
    response = RecordingResponse()
    start = asyncio.get_running_loop().time()
    await write_events(None, response, [Due(1.0, b"a", 1)], start, Outcome())  # type: ignore[arg-type]
    (flushed, _, _), (sent, data, _) = response.writes
    assert flushed - start < 0.5  # the empty write sends the buffered status line and headers
    assert (sent - start >= 1.0 - 0.002, data) == (True, b"a")


async def test_each_write_is_a_tick_and_the_first_token_is_timed() -> None:
    response = RecordingResponse(write_cost=0)
    start = asyncio.get_running_loop().time()
    outcome = Outcome(origin=start - 0.5, token_due=0.1)  # the request arrived half a second before the headers
    events = [Due(0.0, b"created", 2), Due(0.1, b"a", 1), Due(0.1, b"b", 1), Due(0.2, b"end", 1)]
    await write_events(None, response, events, start, outcome)  # type: ignore[arg-type]
    pairs = zip(outcome.ticks[::2], outcome.ticks[1::2], strict=True)
    ticks = [(us / 1e6 - 0.5, chunks) for us, chunks in pairs]  # microseconds since the request arrived
    assert [chunks for _, chunks in ticks] == [0, 2, 4, 5]  # the headers, then each write
    assert [due - 0.001 <= at < due + 0.5 for (at, _), due in zip(ticks, (0, 0, 0.1, 0.2), strict=True)] == [True] * 4
    assert outcome.first_token is not None and outcome.first_token >= 0.6
    assert int(outcome.first_token * 1e6) == outcome.ticks[4]
    assert outcome.sent == len(b"createdabend")


async def test_ticks_stay_bounded_however_long_the_stream(monkeypatch: Any) -> None:
    monkeypatch.setattr(writer, "MAX_TICKS", 4)
    response = RecordingResponse(write_cost=0)
    outcome = Outcome()
    events = [Due(0.005 * (i + 1), b"x", 1) for i in range(9)]  # nine writes
    start = asyncio.get_running_loop().time()
    await write_events(None, response, events, start, outcome)  # type: ignore[arg-type]
    assert len(outcome.ticks) == 2 * 4
    assert outcome.ticks[-1] == outcome.chunks == 9  # the last kept tick moves on with the stream


class LengthsResponse(RecordingResponse):
    """Keeps only the size of each write, so that nothing it holds keeps the bytes alive."""

    async def write(self, data: bytes) -> None:
        self.writes.append((asyncio.get_running_loop().time(), bytes(len(data) and 1), False))


async def test_a_waiting_stream_holds_no_bytes_it_has_sent() -> None:
    # W3's open streams: the first event (the role chunk, the largest) and the last write must not stay alive in
    # the writer while it waits for the next event.
    first, later = bytes(100_000), bytes(50_000)
    held = sys.getrefcount(first), sys.getrefcount(later)
    queue = [Due(0.0, first, 1), Due(0.05, later, 1), Due(3600.0, b"end", 1)]

    def events() -> Iterator[Due]:
        while queue:
            yield queue.pop(0)  # what the writer was given, only the writer holds

    response = LengthsResponse()
    start = asyncio.get_running_loop().time()
    task = asyncio.create_task(write_events(None, response, events(), start, Outcome()))  # type: ignore[arg-type]
    for _ in range(1000):  # both sent, however busy the machine; then the writer waits an hour for the last event
        if len(response.writes) == 2:
            break
        await asyncio.sleep(0.01)
    try:
        assert (len(response.writes), sys.getrefcount(first), sys.getrefcount(later)) == (2, *held)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_stream_keeps_its_headers_as_bytes_only_once_sent(aiohttp_client: Any) -> None:
    kept: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = writer.EventStreamResponse(headers={"x-request-id": "req_1", "openai-version": "2020-10-01"})
        await response.prepare(request)
        await response.write(b"data: 1\n\n")
        kept.append(len(response.headers))  # the mapping is gone: an open stream holds the bytes it sent, not this
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    reply = await client.get("/")
    assert (reply.headers["x-request-id"], reply.headers["openai-version"]) == ("req_1", "2020-10-01")
    assert (await reply.read(), kept) == (b"data: 1\n\n", [0])


async def test_a_stream_cancelled_while_it_waits_leaves_no_timer() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    events = [Due(0.0, b"a", 1), Due(3600.0, b"b", 1)]  # the next event an hour away
    task = asyncio.create_task(write_events(None, RecordingResponse(write_cost=0), events, start, Outcome()))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    pending = [timer for timer in loop._scheduled if not timer.cancelled()]  # type: ignore[attr-defined]
    assert all(timer.when() < start + 60 for timer in pending)  # nothing holds the stream for the hour
