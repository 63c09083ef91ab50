"""One turn of a Responses WebSocket connection: a `response.create` answered by the pipeline every
`POST /v1/responses` goes through — its checks, the choice of scenario and sequence step, quotas, chaos, obeying
the request, the plan and its timing — each event sent as a message when it is due. What HTTP answers with an
error status is an `error` event here, and the connection serves on; a fault that ends the stream ends the
connection (`close`, or a drop for `disconnect`).

Every message is journaled as a request of its own (method `WS`, the connection's id in `websocket`), logged in
one line and counted in the metrics, as a POST would be.

The connection keeps the latest response of each lane in memory, as the real API does, so that a turn that
continues it with `previous_response_id` is answered even with `store: false`; other ids are looked up in the
store, as over HTTP. A continuation refused on its own lane evicts its parent from that memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..engine.plan import Plan, first_ending, make_plans
from ..engine.socket_writer import Connection, close_frame, send_events, text_frames
from ..engine.writer import COMPLETED, DISCONNECTED, FAULT, Outcome, sleep_until
from ..scenario.hangups import DROPPED
from ..scenario.model import Answer, Fault, Hangup, Usage
from ..wire import responses, responses_ws
from ..wire.errors import ApiError, retry_after_seconds
from ..wire.responses import final_status
from ..wire.responses_object import Envelope, make_envelope
from ..wire.responses_request import ResponsesAsk
from . import admission
from .agent_journal import record_request
from .exchange import Exchange, begin, finish, log, stream_outcome
from .keeper import KEEPER, own_turns, resolve, use_prior
from .pipeline import prepare
from .state import State
from .store import StoredResponse, Turns

_BUG = "The server had an error while processing your request. Sorry about that!"
# A warm-up answers at once, with no output and no usage.
_WARM_UP = Answer(items=(Fault("end"),), usage=Usage(prompt_tokens=0, completion_tokens=0))


@dataclass(eq=False)
class Cached:
    """A lane's latest response, and the turns it continued (None: none)."""

    record: StoredResponse
    prior: Turns | None

    def turns(self) -> Turns:
        """Every turn up to and with this response, for the one that continues it."""
        own = own_turns(self.record)
        if self.prior is None:
            return own
        return Turns(self.prior.estimate + own.estimate, self.prior.messages + own.messages)


@dataclass(eq=False)
class Socket:
    """What a connection's turns share: where it came from, where its frames go, its memory of each lane's latest
    response, and how the server ended it (if it did)."""

    id: str
    request: web.Request  # the upgrade
    turns: web.Request  # the upgrade as each turn's log line names it: method WS
    state: State
    session: str
    headers: dict[str, str]  # as the journal keeps them
    connection: Connection
    opened: float  # loop time
    latest: dict[str | None, Cached] = field(default_factory=dict)  # by lane (None: the default lane)
    running: dict[str, tuple[str | None, Outcome]] = field(default_factory=dict)  # by response id: lane, stream
    hung_up: int | None = None  # the close code the server ended the connection with
    faulted: bool = False  # ... as a script (or chaos) said, rather than because it stops

    def expired(self) -> bool:
        lifetime = self.state.settings.websocket_lifetime
        return bool(lifetime) and asyncio.get_running_loop().time() - self.opened >= lifetime

    async def send(self, message: bytes) -> None:
        await self.connection.write(text_frames((message,)))

    def hang_up(self, hangup: Hangup, fault: bool = True) -> None:
        """End the connection as a script says (`fault`), or because the server stops: a close frame (none for
        1006), then the end of the connection; the session's next upgrades refused, if the script says so."""
        if self.hung_up is not None:
            return
        self.hung_up, self.faulted = hangup.code, fault
        if hangup.refuse:
            self.state.refusals.add(self.session, hangup.refuse, hangup.refuse_status)
        transport = self.connection.transport
        if hangup.code != DROPPED and not transport.is_closing():
            transport.write(close_frame(hangup.code, hangup.reason))
        transport.close()

    def find(self, response_id: str) -> Cached | None:
        return next((cached for cached in self.latest.values() if cached.record.id == response_id), None)


class LaneKeeper:
    """The pipeline's `Keeper` for a turn on a lane: chains from the connection's memory first, then from the
    store; keeps the answer in both (the store as `store` says)."""

    def __init__(self, socket: Socket, lane: str | None) -> None:
        self.socket, self.lane = socket, lane
        self.prior: Turns | None = None

    def before_choice(self, request: web.Request, ask: ResponsesAsk) -> None:
        if ask.echoed.background:
            raise responses_ws.background_refused()
        previous = ask.echoed.previous_response_id
        cached = self.socket.find(previous) if previous is not None and ask.conversation_id is None else None
        if cached is None:
            self.prior = resolve(self.socket.state.store, ask)
        else:
            self.prior = cached.turns()
            use_prior(ask, self.prior)

    def take_over(self, *_: Any) -> None:
        return None  # no background over a WebSocket: refused before

    def answered(self, request: web.Request, plans: list[Plan], ask: ResponsesAsk, envelope: Envelope) -> None:
        KEEPER.answered(request, plans, ask, envelope)
        record = StoredResponse(ask, plans, envelope, final_status(plans[0]))
        self.socket.latest[self.lane] = Cached(record, self.prior)


async def answer(
    socket: Socket, raw: bytes, event: Mapping[str, Any] | None, lane: str | None, error: ApiError | None = None
) -> None:
    """Answer one message, journaled and logged as a request: a response.create on its lane (`event`), or — with
    `error` — the error event that refuses it."""
    exchange = begin_message(socket, raw, event is not None)
    status: int | None = 500
    try:
        if error is not None:
            raise error
        assert event is not None
        status = await _create(socket, exchange, event, lane)
    except ApiError as exc:
        status = exc.status
        exchange.error = exc
        exchange.retry_after = retry_after_seconds(exc.headers)
        exchange.should_retry = exc.headers.get("x-should-retry")
        _forget_parent(socket, event, lane)
        await socket.send(responses_ws.error_event(exc, lane))
    except asyncio.CancelledError:  # the connection ended under this turn
        status = 200 if exchange.outcome is not None else None
        if exchange.outcome is not None:
            exchange.outcome.ended = FAULT if socket.faulted else DISCONNECTED
        raise
    except Exception:
        log.exception("unexpected error answering a WebSocket message on %s", socket.request.path)
        status = 500
        await socket.send(responses_ws.error_event(ApiError(500, _BUG, "server_error"), lane))
    finally:
        finish(socket.turns, exchange, status)


def begin_message(socket: Socket, raw: bytes, parsed: bool) -> Exchange:
    """A message of the connection as a request of its own: its exchange, in this task, and its journal entry."""
    state = socket.state
    exchange = Exchange(asyncio.get_running_loop().time(), state.request_id(), socket.session)
    begin(exchange)
    if socket.session:
        state.touch(socket.session)
    entry = exchange.entry = state.journal.open("WS", socket.request.path, socket.session or None, socket.headers)
    entry.websocket = socket.id
    state.journal.keep(entry, raw)
    entry.body_is_json = parsed
    return exchange


def _forget_parent(socket: Socket, event: Mapping[str, Any] | None, lane: str | None) -> None:
    """A continuation refused on its own lane evicts its parent from the connection's memory."""
    cached = socket.latest.get(lane)
    if event is not None and cached is not None and event.get("previous_response_id") == cached.record.id:
        del socket.latest[lane]


async def _create(socket: Socket, exchange: Exchange, event: Mapping[str, Any], lane: str | None) -> int:
    """A response.create through the pipeline, streamed as messages; its status for the journal."""
    body, generate = responses_ws.create_body(event)
    if socket.expired():
        raise responses_ws.connection_limit(socket.state.settings.websocket_lifetime)
    keeper = LaneKeeper(socket, lane)
    if not generate:
        await _warm_up(socket, exchange, body, keeper)
        return 200
    turn = await prepare(socket.request, responses, counted=True, keeper=keeper, body=body)
    ask = turn.ask
    assert isinstance(ask, ResponsesAsk)
    state = socket.state
    outcome = exchange.outcome = stream_outcome(exchange, turn.plans, state.metrics)
    await sleep_until(turn.start)
    suffix = responses_ws.lane_suffix(lane)
    events = responses.stream_events(turn.plans, ask, turn.envelope)
    socket.running[turn.envelope.id] = (lane, outcome)
    try:
        await send_events(
            socket.connection, events, turn.start, outcome, lambda data, n: responses_ws.frames(data, n, suffix)
        )
    finally:  # a client that left does not undo the answer
        del socket.running[turn.envelope.id]
        keeper.answered(socket.request, turn.plans, ask, turn.envelope)
    ending = first_ending(turn.plans)
    if ending is not None and outcome.ended == COMPLETED:
        outcome.ended = FAULT
        if ending.kind == "disconnect":
            hangup = ending.hangup or Hangup()
            if exchange.entry is not None:
                exchange.entry.close_code = hangup.code
            socket.hang_up(hangup)
    return 200


async def _warm_up(socket: Socket, exchange: Exchange, body: dict[str, Any], keeper: LaneKeeper) -> None:
    """`generate: false`: the request checked and its earlier turns read, then a response with no output — kept, to
    chain from — without choosing a scenario (a warm-up uses no step of a sequence)."""
    state = socket.state
    ask = admission.parse(responses, body, state.settings)
    if ask.unknown_parameter is not None and not state.settings.accept_unknown_params:
        raise ask.unknown_parameter
    keeper.before_choice(socket.request, ask)
    record_request(exchange.entry, ask)
    ask = dataclasses.replace(ask, reasoning_effort=None)  # nothing is generated, so nothing is reasoned
    plans = make_plans(_WARM_UP, ask, state.settings.speed)
    envelope = make_envelope(plans, state.rng)
    outcome = exchange.outcome = Outcome(origin=exchange.start)
    state.metrics.stream_opened()
    messages = responses_ws.warm_up(plans, ask, envelope)
    outcome.wrote(exchange.start, 0, 0)
    try:
        if await socket.connection.write(text_frames(messages)):
            outcome.wrote(asyncio.get_running_loop().time(), sum(map(len, messages)), len(messages))
    finally:
        keeper.answered(socket.request, plans, ask, envelope)
