"""The pipeline every wire format shares: read the body, choose the scenario, count it against its quota, draw
chaos, plan, then stream on time or answer whole. A wire format only checks its requests and renders plans
(`wire/contract.py`)."""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..engine import chaos
from ..engine.ask import Ask
from ..engine.obey import obey
from ..engine.plan import Plan, error_latency, faults_only, first_ending, make_plans
from ..engine.selection import ScenarioMiss
from ..engine.writer import COMPLETED, FAULT, EventStreamResponse, sleep_until, write_events
from ..scenario.model import MID_STREAM_ERROR, Answer, ErrorReply
from ..wire import params
from ..wire.contract import Renders, WholeFormat, WireFormat
from ..wire.errors import ApiError, invalid, scripted_error
from . import admission
from .agent_journal import record_calls, record_notes, record_request
from .exchange import ConnectionCut, Exchange, base_headers, current, processing_ms, stream_outcome
from .journal import kept_body
from .state import STATE, State

_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble "
    "figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)


@dataclass
class _Turn:
    """A request checked, chosen, counted and planned, at the moment its answer may start."""

    ask: Ask
    plans: list[Plan]
    envelope: Any
    headers: dict[str, str]
    start: float  # loop time of the status line


async def answer(request: web.Request, wire: WireFormat[Any, Any]) -> web.StreamResponse:
    """A request of a wire format that streams when asked to."""
    turn = await _prepare(request, wire, counted=True)
    if not turn.ask.stream:
        return await _whole(wire, turn)
    exchange = current()
    ending = first_ending(turn.plans)
    response = EventStreamResponse(headers={**turn.headers, **wire.STREAM_HEADERS})
    outcome = exchange.outcome = stream_outcome(exchange, turn.plans, request.app[STATE].metrics)
    events = wire.stream_events(turn.plans, turn.ask, turn.envelope)
    cut = ending is not None and ending.kind == "disconnect"
    await write_events(request, response, events, turn.start, outcome, cut=cut)
    if ending is not None and outcome.ended == COMPLETED:
        outcome.ended = FAULT
    return response


async def answer_whole(request: web.Request, wire: WholeFormat[Any, Any]) -> web.StreamResponse:
    """A request of a wire format that never streams: its deltas play no part, only the answer's timing and
    faults."""
    turn = await _prepare(request, wire, counted=wire.RATE_LIMITED, content=False)
    turn.headers.update(wire.answer_headers(turn.plans, turn.ask))
    return await _whole(wire, turn, offload=True)


async def _prepare(request: web.Request, wire: Renders[Any, Any], counted: bool, content: bool = True) -> _Turn:
    """Everything before the answer: read and check the request, choose the scenario, count it against its
    quota (`counted`), draw chaos, plan, and wait for the status line's time."""
    state = request.app[STATE]
    exchange = current()
    try:
        ask = admission.parse(wire, await read_json(request, exchange), state.settings)
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
        budget = ask.prompt_tokens + (ask.max_tokens or 0) * ask.n
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
    plans = make_plans(step if content else faults_only(step), ask, state.settings.speed, rng)
    exchange.timeline = plans[0].timeline
    envelope = wire.make_envelope(plans, state.rng)
    record_calls(exchange.entry, plans[0], wire.call_ids(envelope))
    start = exchange.start + plans[0].timeline.latency
    await sleep_until(start)
    headers = base_headers(exchange)
    if counts is not None:
        headers.update(counts.headers())
    return _Turn(ask, plans, envelope, headers, start)


def _told_counts(exc: ApiError, state: State, session: str, counted: bool) -> ApiError:
    """A request refused as invalid uses nothing of its quota, and is told the counts as they stand."""
    if counted:
        exc.headers = {**state.limits.peek(session).headers(), **exc.headers}
    return exc


async def _whole(wire: Renders[Any, Any], turn: _Turn, offload: bool = False) -> web.StreamResponse:
    """The answer as one JSON body, when the scripted stream would have ended; an ending fault makes it a 500
    or a cut connection. With `offload`, the body is rendered in a thread: thousands of vectors take seconds
    of work, and the other requests must not wait for it."""
    exchange = current()
    await sleep_until(turn.start + max(plan.finish_at for plan in turn.plans))
    ending = first_ending(turn.plans)
    if ending is not None and ending.kind == "error":
        error = ending.error or MID_STREAM_ERROR
        raise ApiError(500, error["message"], error["type"], error["param"], error["code"])
    if ending is not None and ending.kind == "disconnect":
        raise ConnectionCut
    turn.headers["openai-processing-ms"] = processing_ms(exchange)
    if offload:
        body = await asyncio.to_thread(wire.completion_body, turn.plans, turn.ask, turn.envelope)
    else:
        body = wire.completion_body(turn.plans, turn.ask, turn.envelope)
    return web.Response(body=body, content_type="application/json", headers=turn.headers)


async def read_json(request: web.Request, exchange: Exchange) -> dict[str, Any]:
    """The request's JSON object, the raw bytes kept in its journal entry; the real API's 400s otherwise."""
    raw = await request.read()
    if exchange.entry is not None:
        exchange.entry.body = kept_body(raw)
    try:
        body = parse_json(raw)
    except (ValueError, UnicodeError, RecursionError):
        raise invalid(_BAD_JSON) from None
    if not isinstance(body, dict):
        raise invalid(
            f"Invalid body: expected a JSON object, but got {params.type_name(body)} instead.", code="invalid_type"
        )
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_json(raw: bytes) -> Any:
    """JSON as the real API reads it: NaN and Infinity are not JSON, and a string holding half of a surrogate
    pair cannot be text (it could never be answered, or journaled, as UTF-8)."""
    body = json.loads(raw, parse_constant=_no_constant)
    if _LONE_SURROGATE.search(raw):  # rare: check the decoded text only when an escaped surrogate is there
        json.dumps(body, ensure_ascii=False).encode()
    return body
