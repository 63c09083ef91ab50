"""The timed writer: absolute deadlines, and everything due at once in one write."""

from __future__ import annotations

import asyncio
from typing import Any

from mockserver.sse import COMPLETED, Outcome, write_events


class RecordingResponse:
    """Stands in for an aiohttp response and records each write with its time."""

    def __init__(self) -> None:
        self.writes: list[tuple[float, bytes, bool]] = []

    async def prepare(self, request: Any) -> None:
        pass

    async def write(self, data: bytes) -> None:
        self.writes.append((asyncio.get_running_loop().time(), data, False))
        await asyncio.sleep(0.005)  # a slow write must not push later events back

    async def write_eof(self, data: bytes = b"") -> None:
        self.writes.append((asyncio.get_running_loop().time(), data, True))


async def test_events_due_together_go_out_in_one_write() -> None:
    response = RecordingResponse()
    outcome = Outcome()
    start = asyncio.get_running_loop().time()
    await write_events(None, response, [(0.0, b"a", 1), (0.0, b"b", 1), (0.0, b"c", 1)], start, outcome)  # type: ignore[arg-type]
    assert [(data, eof) for _, data, eof in response.writes] == [(b"abc", True)]
    assert (outcome.chunks, outcome.ended) == (3, COMPLETED)


async def test_delays_are_kept_against_deadlines_not_added_up() -> None:
    response = RecordingResponse()
    loop = asyncio.get_running_loop()
    start = loop.time()
    events = [(0.0, b"role", 1), (0.05, b"1", 1)] + [(0.05 + 0.02 * i, str(i).encode(), 1) for i in range(2, 12)]
    events.append((0.25, b"end", 1))
    await write_events(None, response, events, start, Outcome())  # type: ignore[arg-type]
    writes = response.writes
    assert [data for _, data, _ in writes] == [b"role", b"1", *(str(i).encode() for i in range(2, 11)), b"11end"]
    for (at, data, _), due in zip(writes, [0.0, 0.05, *(0.05 + 0.02 * i for i in range(2, 12))], strict=True):
        assert at - start >= due - 0.002, data
    # 11 writes of 5 ms each did not add up: the last is on time, not 55 ms late
    assert writes[-1][0] - start < 0.25 + 0.04


async def test_a_late_schedule_catches_up_in_one_write() -> None:
    response = RecordingResponse()
    start = asyncio.get_running_loop().time() - 1.0  # a second behind already
    await write_events(None, response, [(0.1, b"a", 1), (0.2, b"b", 1), (1.2, b"c", 1)], start, Outcome())  # type: ignore[arg-type]
    assert [data for _, data, _ in response.writes] == [b"", b"ab", b"c"]


async def test_headers_leave_at_once_when_the_first_event_waits() -> None:
    response = RecordingResponse()
    start = asyncio.get_running_loop().time()
    await write_events(None, response, [(0.05, b"a", 1)], start, Outcome())  # type: ignore[arg-type]
    (flushed, _, _), (sent, data, _) = response.writes
    assert flushed - start < 0.04  # the empty write sends the buffered status line and headers
    assert (sent - start >= 0.05 - 0.002, data) == (True, b"a")
