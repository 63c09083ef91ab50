"""The pipeline every wire format shares: read the body, choose the scenario, draw chaos, plan, then stream on
time or answer whole. A wire format only checks its requests and renders plans (`wire/contract.py`); one whose
answers are kept (the Responses API) adds a `Keeper`."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Awaitable
from typing import Any, Protocol

from aiohttp import web

from ..engine import chaos
from ..engine.ask import Ask
from ..engine.plan import Plan, error_latency, first_ending, make_plans
from ..engine.writer import COMPLETED, FAULT, EventStreamResponse, Outcome, sleep_until, write_events
from ..scenario.model import ErrorReply
from ..wire import params
from ..wire.contract import WireFormat
from ..wire.errors import RATE_LIMITS, fault_reply, invalid, ratelimit_headers, scripted_error
from .exchange import ConnectionCut, Exchange, base_headers, current, processing_ms
from .journal import kept_body
from .state import STATE

_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble "
    "figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)


class Keeper(Protocol):
    """What a wire format whose answers are kept adds to the pipeline."""

    def before_choice(self, request: web.Request, ask: Any) -> None:
        """Read what the request refers to (earlier turns) into `ask`, or refuse it as the real API does."""

    def take_over(
        self, request: web.Request, plans: list[Plan], ask: Any, envelope: Any
    ) -> Awaitable[web.StreamResponse] | None:
        """The answer, when the keeper gives it itself (a background response); None to answer as usual."""

    def answered(self, request: web.Request, plans: list[Plan], ask: Any, envelope: Any) -> None:
        """Keep what was answered."""


async def answer(request: web.Request, wire: WireFormat[Any, Any], keeper: Keeper | None = None) -> web.StreamResponse:
    state = request.app[STATE]
    exchange = current()
    ask: Ask = wire.parse_request(await read_json(request, exchange))
    if keeper is not None:
        keeper.before_choice(request, ask)
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
    ask.raw_reasoning = state.settings.raw_reasoning
    plans = make_plans(step, ask, state.settings.speed, rng)
    timeline = exchange.timeline = plans[0].timeline
    envelope = wire.make_envelope(plans, state.rng)
    if keeper is not None and (taken := keeper.take_over(request, plans, ask, envelope)) is not None:
        return await taken
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
        try:
            await write_events(
                request, response, events, start, outcome, cut=ending is not None and ending.kind == "disconnect"
            )
        finally:  # a client that left does not undo the answer
            if keeper is not None:
                keeper.answered(request, plans, ask, envelope)
        if ending is not None and outcome.ended == COMPLETED:
            outcome.ended = FAULT
        return response
    await sleep_until(start + max(plan.finish_at for plan in plans))
    if ending is not None and ending.kind == "error":
        raise scripted_error(fault_reply(ending, ask.model), ask.model)
    if ending is not None and ending.kind == "disconnect":
        raise ConnectionCut
    headers["openai-processing-ms"] = processing_ms(exchange)
    body = wire.completion_body(plans, ask, envelope)
    if keeper is not None:
        keeper.answered(request, plans, ask, envelope)
    return web.Response(body=body, content_type="application/json", headers=headers)


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
