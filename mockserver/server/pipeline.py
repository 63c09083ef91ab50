"""The pipeline every wire format shares: read the body, choose the scenario, draw chaos, plan, then stream on
time or answer whole. A wire format only checks its requests and renders plans (`wire/contract.py`)."""

from __future__ import annotations

import random
from typing import Any

from aiohttp import web

from ..engine import chaos
from ..engine.plan import error_latency, first_ending, make_plans
from ..engine.writer import COMPLETED, FAULT, EventStreamResponse, Outcome, sleep_until, write_events
from ..scenario.model import MID_STREAM_ERROR, ErrorReply
from ..wire.contract import WireFormat
from ..wire.errors import RATE_LIMITS, ApiError, ratelimit_headers, scripted_error
from .bodies import read_object
from .exchange import ConnectionCut, Exchange, base_headers, current, processing_ms
from .state import STATE


async def answer(request: web.Request, wire: WireFormat[Any, Any]) -> web.StreamResponse:
    state = request.app[STATE]
    exchange = current()
    ask = wire.parse_request(await read_json(request, exchange))
    selection = state.selector.choose(
        model=ask.model,
        last_user=ask.last_user,
        session=exchange.session,
        header=request.headers.get("X-Mock-Scenario"),
    )
    exchange.selection = selection
    step, exchange.chaos = chaos.strike(
        selection.step,
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
        raise scripted_error(step, ask.model)
    if ask.obfuscation is None:
        ask.obfuscation = state.settings.obfuscation
    plans = make_plans(step, ask, state.settings.speed, rng)
    timeline = exchange.timeline = plans[0].timeline
    envelope = wire.make_envelope(plans, state.rng)
    start = exchange.start + timeline.latency
    await sleep_until(start)
    headers = {
        **base_headers(exchange),
        **ratelimit_headers(RATE_LIMITS["requests"] - 1, RATE_LIMITS["tokens"] - ask.prompt_tokens),
    }
    ending = first_ending(plans)
    if ask.stream:
        response = EventStreamResponse(headers={**headers, **wire.STREAM_HEADERS})
        outcome = exchange.outcome = Outcome()
        events = wire.stream_events(plans, ask, envelope)
        await write_events(
            request, response, events, start, outcome, cut=ending is not None and ending.kind == "disconnect"
        )
        if ending is not None and outcome.ended == COMPLETED:
            outcome.ended = FAULT
        return response
    await sleep_until(start + max(plan.finish_at for plan in plans))
    if ending is not None and ending.kind == "error":
        error = ending.error or MID_STREAM_ERROR
        raise ApiError(500, error["message"], error["type"], error["param"], error["code"])
    if ending is not None and ending.kind == "disconnect":
        raise ConnectionCut
    headers["openai-processing-ms"] = processing_ms(exchange)
    return web.Response(
        body=wire.completion_body(plans, ask, envelope), content_type="application/json", headers=headers
    )


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
