"""The pipeline every wire format shares: read the body, choose the scenario, count it against its quota, draw
chaos, plan, then stream on time or answer whole. A wire format only checks its requests and renders plans
(`wire/contract.py`); one whose answers are kept (the Responses API) adds a `Keeper`."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from ..engine import chaos
from ..engine.ask import Ask
from ..engine.obey import obey
from ..engine.plan import Plan, error_latency, faults_only, first_ending, make_plans
from ..engine.selection import ScenarioMiss
from ..engine.writer import COMPLETED, FAULT, EventStreamResponse, sleep_until, write_events
from ..record.serving import forward_miss
from ..scenario.model import Answer, ErrorReply
from ..wire.contract import Renders, WholeFormat, WireFormat
from ..wire.errors import ApiError, Counts, fault_reply, scripted_error
from . import admission
from .agent_journal import record_calls, record_notes, record_request
from .bodies import read_object
from .exchange import ConnectionCut, Exchange, base_headers, current, processing_ms, sent, stream_outcome
from .state import STATE, State


class Keeper(Protocol):
    """What a wire format whose answers are kept adds to the pipeline."""

    def before_choice(self, request: web.Request, ask: Any) -> None:
        """Read what the request refers to (earlier turns) into `ask`, or refuse it as the real API does."""

    def take_over(
        self, request: web.Request, plans: list[Plan], ask: Any, envelope: Any, headers: Mapping[str, str]
    ) -> Awaitable[web.StreamResponse] | None:
        """The answer, when the keeper gives it itself (a background response, with these rate-limit headers);
        None to answer as usual."""

    def answered(self, request: web.Request, plans: list[Plan], ask: Any, envelope: Any) -> None:
        """Keep what was answered."""


@dataclass(slots=True)
class Turn:
    """A request checked, chosen, counted and planned."""

    ask: Ask
    plans: list[Plan]
    envelope: Any
    counts: Counts | None  # the rate-limit counts its answer reports (None: a format that reports none)
    start: float  # loop time of the status line

    def headers(self) -> dict[str, str]:
        """The answer's headers, at the time they are sent."""
        headers = base_headers(current())
        if self.counts is not None:
            headers.update(self.counts.headers())
        return headers


async def answer(request: web.Request, wire: WireFormat[Any, Any], keeper: Keeper | None = None) -> web.StreamResponse:
    """A request of a wire format that streams when asked to."""
    try:
        turn = await prepare(request, wire, counted=True, keeper=keeper)
    except ApiError as error:  # a miss goes to the upstream, with `serve --upstream`
        return await forward_miss(request, error)
    if keeper is not None:
        limits = turn.counts.headers() if turn.counts is not None else {}
        taken = keeper.take_over(request, turn.plans, turn.ask, turn.envelope, limits)
        if taken is not None:
            return await taken
    await sleep_until(turn.start)
    if not turn.ask.stream:
        response = await _whole(wire, turn)
        if keeper is not None:
            keeper.answered(request, turn.plans, turn.ask, turn.envelope)
        return response
    exchange = current()
    ending = first_ending(turn.plans)
    response = EventStreamResponse(headers={**turn.headers(), **wire.STREAM_HEADERS})
    outcome = exchange.outcome = stream_outcome(exchange, turn.plans, request.app[STATE].metrics)
    events = wire.stream_events(turn.plans, turn.ask, turn.envelope)
    cut = ending is not None and ending.kind == "disconnect"
    try:
        await write_events(request, response, events, turn.start, outcome, cut=cut)
    finally:  # a client that left does not undo the answer
        if keeper is not None:
            keeper.answered(request, turn.plans, turn.ask, turn.envelope)
    if ending is not None and outcome.ended == COMPLETED:
        outcome.ended = FAULT
    return response


MOST_TOKENS = 10**15  # a request's token budget, at most: past every quota (`quota.MAX_COUNT`)
LARGE_ANSWER = 8 * 1024 * 1024  # bytes: an answer this large takes its turn (`State.large_answers`)


async def answer_whole(request: web.Request, wire: WholeFormat[Any, Any]) -> web.StreamResponse:
    """A request of a wire format that never streams: its deltas play no part, only the answer's timing and
    faults."""
    try:
        turn = await prepare(request, wire, counted=wire.RATE_LIMITED, content=False)
    except ApiError as error:  # a miss goes to the upstream, with `serve --upstream`
        return await forward_miss(request, error)
    await sleep_until(turn.start)
    headers = wire.answer_headers(turn.plans, turn.ask)
    if wire.answer_bytes(turn.plans, turn.ask) <= LARGE_ANSWER:
        return await _whole(wire, turn, own_headers=headers, offload=True)
    # Thousands of long vectors are tens of MB, made in memory: such answers are made and sent a few at a time,
    # so that however many come at once, only a few of them are held.
    async with request.app[STATE].large_answers:
        return await sent(request, await _whole(wire, turn, own_headers=headers, offload=True))


async def prepare(
    request: web.Request,
    wire: Renders[Any, Any],
    counted: bool,
    content: bool = True,
    keeper: Keeper | None = None,
    body: dict[str, Any] | None = None,
) -> Turn:
    """Everything before the answer: read and check the request (and what it refers to), choose the scenario,
    count it against its quota (`counted`), obey what the request constrains, draw chaos, plan. `body` is the
    request's, already read (a WebSocket message); None reads it from `request`."""
    state = request.app[STATE]
    exchange = current()
    try:
        if body is None:
            body = await read_json(request, exchange)
        ask = admission.parse(wire, body, state.settings)
        if keeper is not None:
            keeper.before_choice(request, ask)
    except ApiError as exc:
        raise _told_counts(exc, state, exchange.session, counted) from None
    record_request(exchange.entry, ask)
    try:
        selection = state.selector.choose(
            ask, session=exchange.session, header=request.headers.get("X-Mock-Scenario"), headers=request.headers
        )
    except ScenarioMiss as miss:
        if exchange.entry is not None:
            exchange.entry.miss = miss.trace
        raise
    exchange.selection = selection
    try:
        admitted = admission.admit(ask, selection, state.settings)
    except ApiError as exc:
        raise _told_counts(exc, state, exchange.session, counted) from None
    counts = None
    if counted:
        # A `max_tokens` of hundreds of digits asks for no more than one past every quota (and its 429 can say so).
        budget = min(ask.prompt_tokens + (ask.max_tokens or 0) * ask.n, MOST_TOKENS)
        taken = state.limits.take(selection.scenario, exchange.session, budget, ask.model)
        exchange.rate_limit = taken.record
        if taken.refusal is not None:
            state.selector.give_back(selection, exchange.session)
            raise taken.refusal
        counts = taken.counts
    step = admitted or selection.step
    if step is selection.step and isinstance(step, Answer):
        step, notes = obey(step, ask, state.settings.seed)
        record_notes(exchange.entry, notes)
    step, exchange.chaos = chaos.strike(
        step,
        state.chaos,
        state.settings.seed,
        exchange.session,
        lambda: state.next_draw(("chaos", exchange.session)),
    )
    rng = None
    if step.jitter_ms:
        index = state.next_draw(("jitter", selection.scenario.name, exchange.session))
        rng = random.Random(f"jitter:{state.settings.seed}:{selection.scenario.name}:{exchange.session}:{index}")
    if isinstance(step, ErrorReply):
        await sleep_until(exchange.start + error_latency(step, state.settings.speed, rng))
        raise scripted_error(step, ask.model, counts)
    if ask.obfuscation is None:
        ask.obfuscation = state.settings.obfuscation
    ask.raw_reasoning = state.settings.raw_reasoning
    plans = make_plans(step if content else faults_only(step), ask, state.settings.speed, rng)
    exchange.timeline = plans[0].timeline
    envelope = wire.make_envelope(plans, state.rng)
    record_calls(exchange.entry, plans[0], wire.call_ids(envelope))
    return Turn(ask, plans, envelope, counts, exchange.start + plans[0].timeline.latency)


def _told_counts(exc: ApiError, state: State, session: str, counted: bool) -> ApiError:
    """A request refused as invalid uses nothing of its quota, and is told the counts as they stand."""
    if counted:
        exc.headers = {**state.limits.peek(session).headers(), **exc.headers}
    return exc


async def _whole(
    wire: Renders[Any, Any], turn: Turn, own_headers: Mapping[str, str] | None = None, offload: bool = False
) -> web.StreamResponse:
    """The answer as one JSON body, when the scripted stream would have ended; an ending fault makes it an HTTP
    error or a cut connection. With `offload`, the body is rendered in a thread: thousands of vectors take
    seconds of work, and the other requests must not wait for it."""
    exchange = current()
    headers = turn.headers()
    headers.update(own_headers or {})
    await sleep_until(turn.start + max(plan.finish_at for plan in turn.plans))
    ending = first_ending(turn.plans)
    if ending is not None and ending.kind == "error":
        raise scripted_error(fault_reply(ending, turn.ask.model), turn.ask.model, turn.counts)
    if ending is not None and ending.kind == "disconnect":
        raise ConnectionCut
    headers["openai-processing-ms"] = processing_ms(exchange)
    if offload:
        body = await asyncio.to_thread(wire.completion_body, turn.plans, turn.ask, turn.envelope)
    else:
        body = wire.completion_body(turn.plans, turn.ask, turn.envelope)
    return web.Response(body=body, content_type="application/json", headers=headers)


async def read_json(request: web.Request, exchange: Exchange) -> dict[str, Any]:
    """The request's JSON object, the raw bytes kept in its journal entry; the real API's 400s otherwise."""
    entry = exchange.entry
    journal = request.app[STATE].journal

    def keep(raw: bytes) -> None:
        if entry is not None:
            journal.keep(entry, raw)

    body = await read_object(request, keep)
    if entry is not None:
        entry.body_is_json = True
    return body
