"""Writing a stream's events as WebSocket messages on time: the deadlines of `writer.write_events`, each event a
message of its own, and the messages due together framed into a single write to the connection — a burst of
events costs one write, not one per message, and nothing yields between them.

Frames are made here (RFC 6455: a server's frames are unmasked, and a whole message fits in one frame), so that
several can leave in one write; aiohttp's WebSocket still reads the client's messages and answers its pings.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Iterable

from ..scenario.hangups import NO_CODE  # closed with a close frame that carries no code
from .writer import DISCONNECTED, Due, Outcome, sleep_until

TEXT, BINARY, CLOSE, PING = 0x1, 0x2, 0x8, 0x9


def frame(opcode: int, payload: bytes) -> bytes:
    """One final frame."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, size))
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def text_frames(messages: Iterable[bytes]) -> bytes:
    """Text messages (UTF-8 JSON), framed back to back."""
    return b"".join(frame(TEXT, message) for message in messages)


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with `code` and `reason`; for 1005, one that carries no code at all."""
    if code == NO_CODE:
        return frame(CLOSE, b"")
    return frame(CLOSE, struct.pack("!H", code) + reason.encode())


class Connection:
    """Where the frames go: the upgraded connection's transport, and how to wait while it is full."""

    def __init__(self, transport: asyncio.WriteTransport, drain: Callable[[], Awaitable[None]]) -> None:
        self.transport = transport
        self.drain = drain

    async def write(self, data: bytes) -> bool:
        """Send `data` (whole frames); False when the connection is gone."""
        if self.transport.is_closing():
            return False
        self.transport.write(data)
        await self.drain()
        return True


async def send_events(
    connection: Connection,
    events: Iterable[Due],
    start: float,
    outcome: Outcome,
    frames: Callable[[bytes, int], bytes],
) -> None:
    """Send `Due` events in order, each when due (from the loop time `start`), the bytes of each turned into frames
    by `frames(data, events in it)`; everything due at once goes out in one write. A connection that goes away
    ends the stream quietly, noted in `outcome`."""
    loop = asyncio.get_running_loop()
    due_now: list[bytes] = []
    due_chunks = 0
    passed = -1.0  # the latest due time known to have passed: events due before it need no clock reading
    token = outcome.token_due  # until the first token is in a write
    token_now = False  # the first token is among the events due now
    outcome.wrote(loop.time(), 0, 0)
    for at, data, chunks in events:
        if at > passed:
            now = loop.time()
            delay = start + at - now
            if delay > 0:
                if due_now:
                    if not await _flush(connection, due_now, due_chunks, now, outcome):
                        return
                    if token_now:
                        outcome.first_token, token_now = now - outcome.origin, False
                    due_now.clear()
                    due_chunks = 0
                await sleep_until(start + at)
            passed = at
        if data:
            due_now.append(frames(data, chunks))
        due_chunks += chunks
        if token is not None and at >= token:
            token, token_now = None, True
    now = loop.time()
    if due_now and not await _flush(connection, due_now, due_chunks, now, outcome):
        return
    if token_now:
        outcome.first_token = now - outcome.origin


async def _flush(connection: Connection, due: list[bytes], chunks: int, now: float, outcome: Outcome) -> bool:
    data = b"".join(due)
    if not await connection.write(data):
        outcome.ended = DISCONNECTED
        return False
    outcome.wrote(now, len(data), chunks)
    return True
