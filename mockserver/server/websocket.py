"""The Responses API's WebSocket mode: `GET /v1/responses` (and under `/session/NAME/v1/`) upgraded to a WebSocket
that serves many turns, each a `response.create` message answered as `POST /v1/responses` would be (see
`websocket_turns.py`).

The middleware has checked the API key before the upgrade (a wrong one is the real 401, never a 101) and opened
the connection's journal entry (method GET, status 101, the connection's id in `websocket`), which ends when the
connection does, with the close code. A scripted refusal (`refuse` after a close) or a chaos `refuse` answers the
upgrade with an HTTP error instead.

Lanes: a response.create names one with `stream_id` (none: the default lane). A lane runs its responses one after
the other, lanes run side by side, at most 16 responses at once on a connection (more wait their turn), at most 32
named lanes. Messages the server has not answered yet are bounded in number and bytes: past that, it stops
reading the connection until some are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from aiohttp import WebSocketError, WSMsgType, web

from ..engine import chaos
from ..engine.socket_writer import Connection
from ..engine.writer import DISCONNECTED, FAULT
from ..scenario.hangups import DROPPED
from ..scenario.model import Hangup
from ..wire import responses_ws
from ..wire.errors import ApiError
from .bodies import parse_object
from .exchange import current
from .state import STATE, State
from .websocket_steer import steer
from .websocket_turns import Socket, answer

MAX_ACTIVE = 16  # responses running at once on a connection
MAX_WAITING = 256  # messages read and not yet answered, past which the connection is not read
MAX_WAITING_BYTES = 16 * 1024 * 1024
MAX_MESSAGE = 10 * 1024 * 1024  # a message as large as a POST body may be; larger ones close the connection (1009)
GOING_AWAY = 1001  # the server stops
OPEN = web.AppKey("mockserver.websockets", set["Socket"])  # the connections open now


def install(app: web.Application) -> None:
    """Keep count of the app's open connections, to close them with 1001 when it stops: at once, before aiohttp waits
    for its handlers to end (and a WebSocket's would not end on its own)."""
    app[OPEN] = set()
    app.on_shutdown.append(_going_away)


async def _going_away(app: web.Application) -> None:
    sockets: set[Socket] = app[OPEN]
    for socket in list(sockets):
        socket.hang_up(Hangup(GOING_AWAY), fault=False)


async def connect(request: web.Request) -> web.StreamResponse:
    """Upgrade to a WebSocket and serve its messages until either side closes it; a request that does not ask for
    the upgrade gets the 405 it got before there was a GET route."""
    ws = web.WebSocketResponse(compress=False, max_msg_size=MAX_MESSAGE, timeout=1.0)
    if not ws.can_prepare(request).ok:
        raise web.HTTPMethodNotAllowed(request.method, ["POST"])
    state = request.app[STATE]
    exchange = current()
    connection_id = "ws_" + exchange.request_id.removeprefix("req_")
    entry = exchange.entry
    if entry is not None:
        entry.websocket = connection_id
    _refuse(state, exchange.session)
    writer = await ws.prepare(request)
    transport = request.transport
    assert transport is not None
    socket = Socket(
        id=connection_id,
        request=request,
        turns=request.clone(method="WS"),
        state=state,
        session=exchange.session,
        headers=entry.headers if entry is not None else {},
        connection=Connection(transport, writer.drain),
        opened=asyncio.get_running_loop().time(),
    )
    reader = _Reader(socket, ws)
    request.app[OPEN].add(socket)
    try:
        await reader.serve()
    except asyncio.CancelledError:
        # The handler of a connection that is gone is cancelled (it was answered: a 101); with the connection still
        # there, the server stops, and the connection goes away as the SDKs expect to see it.
        if transport.is_closing():
            return ws
        socket.hang_up(Hangup(GOING_AWAY), fault=False)
        raise
    finally:
        request.app[OPEN].discard(socket)
        await reader.stop()
        code = socket.hung_up or ws.close_code or DROPPED
        if entry is not None:
            entry.close_code = code
        if socket.faulted:
            exchange.ended = FAULT
        elif code == DROPPED:
            exchange.ended = DISCONNECTED
    return ws


def _refuse(state: State, session: str) -> None:
    """Refuse the upgrade when a script asked for it, or when chaos draws it: the HTTP error instead of a 101."""

    def draw() -> int:
        return state.next_draw(("upgrade", session))

    status = state.refusals.take(session)
    spec = state.chaos
    if status is None and spec is not None and chaos.refuses(spec, state.settings.seed, session, draw):
        status = spec.refuse_status
        current().chaos = "refuse"
    if status is not None:
        raise responses_ws.refused(status)


class _Reader:
    """Reads a connection's messages and hands each to its lane."""

    def __init__(self, socket: Socket, ws: web.WebSocketResponse) -> None:
        self.socket, self.ws = socket, ws
        self.lanes: dict[str | None, asyncio.Task[None]] = {}  # each lane's last turn
        self.active = asyncio.Semaphore(MAX_ACTIVE)
        self.tasks: set[asyncio.Task[None]] = set()
        self.waiting = 0  # messages read and not yet answered, and their bytes
        self.waiting_bytes = 0
        self.room = asyncio.Event()

    async def serve(self) -> None:
        async for message in self.ws:
            if message.type is WSMsgType.TEXT:
                raw = message.data.encode()
            elif message.type is WSMsgType.BINARY:
                raw = message.data
            else:  # an error (a message too large, a bad frame): aiohttp has closed the connection, with its code
                if isinstance(message.data, WebSocketError) and self.socket.hung_up is None:
                    self.socket.hung_up = message.data.code  # 1009, 1002, 1007: not the client's 1006
                break
            self.dispatch(raw)
            while self.waiting >= MAX_WAITING or self.waiting_bytes >= MAX_WAITING_BYTES:
                self.room.clear()
                await self.room.wait()

    def dispatch(self, raw: bytes) -> None:
        """Start answering a message: a response.create on its lane, after the lane's earlier ones; anything else
        at once."""
        try:
            event = parse_object(raw)
            if responses_ws.event_type(event) == responses_ws.STEER:
                self.spawn(raw, steer(self.socket, raw, event))
                return
            lane = responses_ws.stream_id(event)
            if (
                lane is not None
                and lane not in self.lanes
                and len(self.lanes) - (None in self.lanes) >= responses_ws.MAX_STREAMS
            ):
                self.spawn(raw, answer(self.socket, raw, event, lane, responses_ws.stream_limit()))
                return
        except ApiError as error:
            self.spawn(raw, answer(self.socket, raw, None, None, error))
            return
        after = self.lanes.get(lane)
        self.lanes[lane] = self.spawn(raw, self.in_turn(after, answer(self.socket, raw, event, lane)))

    async def in_turn(self, after: asyncio.Task[None] | None, turn: Coroutine[Any, Any, None]) -> None:
        """Run `turn` once the lane's previous turn has ended and fewer than MAX_ACTIVE responses run."""
        try:
            if after is not None:
                await asyncio.wait([after])
            async with self.active:
                await turn
        finally:
            turn.close()  # never started, if cancelled while waiting

    def spawn(self, raw: bytes, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        self.waiting += 1
        self.waiting_bytes += len(raw)

        def done(_: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.waiting -= 1
            self.waiting_bytes -= len(raw)
            self.room.set()

        task.add_done_callback(done)
        return task

    async def stop(self) -> None:
        """The connection is over: the turns still running or waiting end with it."""
        for task in self.tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.tasks, return_exceptions=True)
