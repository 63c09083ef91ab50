"""The HTTP app: one pipeline for every wire format — authenticate, parse, choose a scenario, plan, render,
send on time — and the error envelope for everything that goes wrong on the way.

API paths are served at `/v1/...` and, for a test that wants its own sequence counts, journal and scenarios
without sending headers, at `/session/NAME/v1/...`: pointing `OPENAI_BASE_URL` there is enough.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from ..engine.chaos import CHAOS_ERRORS
from ..engine.plan import Timeline, WireFormat, error_latency, first_ending, inject, make_plans
from ..engine.selection import Selection, Selector
from ..engine.writer import COMPLETED, DISCONNECTED, FAULT, EventStreamResponse, Outcome, sleep_until, write_events
from ..scenario.model import MID_STREAM_ERROR, ErrorReply, Fault, Scenario, Step
from ..wire import catalogue as models
from ..wire import chat, completions, params, responses
from ..wire.errors import RATE_LIMITS, ApiError, invalid, ratelimit_headers, retry_after_seconds, scripted_error
from . import control
from .journal import Entry, kept_body
from .state import STATE, Settings, State

log = logging.getLogger("mockserver")

MAX_BODY = 10 * 1024 * 1024
OPENAI_VERSION = "2020-10-01"
SESSION_PREFIX = "/session/"
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble "
    "figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth "
    "(i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys."
)


@dataclass
class Exchange:
    """One request as the pipeline sees it: when it started, its id, its session, its journal entry (API
    requests only), what answered it and how that went."""

    start: float
    request_id: str
    session: str
    entry: Entry | None = None
    selection: Selection | None = None
    outcome: Outcome | None = None
    timeline: Timeline | None = None  # when the answer's parts are due, and the faults it plays
    chaos: str | None = None  # what the chaos draw gave
    retry_after: float | None = None  # seconds an error answer asked the client to wait
    should_retry: str | None = None  # the x-should-retry header of an error answer
    ended: str | None = None  # how an answer that is not a stream ended, when not normally


# The middleware and the handler run in the same task, so the handler finds its exchange here.
_exchange: contextvars.ContextVar[Exchange] = contextvars.ContextVar("mockserver.exchange")


def _mask(key: str) -> str:
    return f"{key[:3]}{'*' * max(len(key) - 7, 3)}{key[-4:]}" if len(key) > 8 else "*" * len(key)


def _split_session(path: str) -> tuple[str | None, str]:
    """`/session/NAME/v1/x` -> ("NAME", "/v1/x"); other paths have no session in them."""
    if path.startswith(SESSION_PREFIX):
        name, _, rest = path[len(SESSION_PREFIX) :].partition("/")
        if name:
            return name, "/" + rest
    return None, path


@web.middleware
async def api_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Times the request, checks keys first, journals API requests, turns every failure into the API's error
    envelope, and logs one line per request."""
    state = request.app[STATE]
    path_session, path = _split_session(request.path)
    session = path_session or request.headers.get("X-Mock-Session") or ""
    exchange = Exchange(asyncio.get_running_loop().time(), state.request_id(), session)
    _exchange.set(exchange)
    if session:
        state.touch(session)
    is_api = path.startswith("/v1/")
    if is_api:
        headers = {name.lower(): value for name, value in request.headers.items() if name.lower() != "authorization"}
        exchange.entry = state.journal.open(request.method, request.path, session or None, headers)
    status: int | None = 500
    try:
        if is_api and state.settings.api_key is not None:
            _check_key(request.headers.get("Authorization"), state.settings.api_key)
        elif path.startswith(control.PREFIX) and path != control.PREFIX + "health":
            _check_admin(request.headers.get("Authorization"), state.settings.admin_token)
        response = await handler(request)
        status = response.status
        return response
    except ApiError as exc:
        status = exc.status
        exchange.retry_after = retry_after_seconds(exc.headers)
        exchange.should_retry = exc.headers.get("x-should-retry")
        return exc.response(base_headers(exchange))
    except web.HTTPException as exc:
        error = _http_error(request, exc)
        status = error.status
        return error.response(base_headers(exchange))
    except ConnectionCut:
        if request.transport is not None:
            request.transport.close()
        status = None
        exchange.ended = FAULT
        return web.Response(status=500)  # never sent: the connection is closed
    except asyncio.CancelledError:
        # The server cancels the handler of a client that went away (or everything, when it stops). A stream
        # had already sent its 200; anything else sent nothing.
        status = 200 if exchange.outcome is not None else None
        raise
    except Exception:
        # A bug: say so in the log, and still answer in the API's format.
        log.exception("unexpected error answering %s %s", request.method, request.path)
        status = 500
        error = ApiError(
            500, "The server had an error while processing your request. Sorry about that!", "server_error"
        )
        return error.response(base_headers(exchange))
    finally:
        _finish(request, exchange, status)


def _check_key(header: str | None, key: str) -> None:
    if not header or not header.startswith("Bearer ") or not header[7:].strip():
        raise ApiError(401, _NO_KEY, code="invalid_api_key")
    given = header[7:].strip()
    if given != key:
        raise ApiError(
            401,
            f"Incorrect API key provided: {_mask(given)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )


def _check_admin(header: str | None, token: str | None) -> None:
    if token is not None and header != f"Bearer {token}":
        raise ApiError(
            401,
            "The control API needs 'Authorization: Bearer TOKEN' with the server's --admin-token.",
            code="invalid_admin_token",
        )


def _http_error(request: web.Request, exc: web.HTTPException) -> ApiError:
    if exc.status == 405:
        return invalid(
            f"Not allowed to {request.method} on {request.path}. (HINT: Perhaps you meant to use a different "
            "HTTP method?)",
            status=405,
        )
    if exc.status == 413:
        return invalid(f"Request body too large: the limit is {MAX_BODY} bytes (10 MiB).", status=413)
    if exc.status == 404:
        return invalid(f"Invalid URL ({request.method} {request.path})", status=404)
    return ApiError(exc.status, exc.reason, "server_error" if exc.status >= 500 else "invalid_request_error")


def _finish(request: web.Request, exchange: Exchange, status: int | None) -> None:
    """Complete the journal entry and write the request's log line. `status` is None when the client left
    before any answer was sent."""
    elapsed = asyncio.get_running_loop().time() - exchange.start
    selection, outcome, entry = exchange.selection, exchange.outcome, exchange.entry
    faults, stalled = (exchange.timeline.faults, exchange.timeline.stalled) if exchange.timeline else ((), 0.0)
    if outcome is None:
        outcome = Outcome(ended=exchange.ended or (COMPLETED if status is not None else DISCONNECTED))
    if entry is not None:
        entry.status = status
        entry.duration_ms = round(elapsed * 1000, 3)
        entry.ended, entry.chunks = outcome.ended, outcome.chunks
        if selection is not None:
            entry.scenario, entry.step, entry.chosen_by = (
                selection.scenario.name,
                selection.step_number,
                selection.reason,
            )
        entry.fault = ", ".join(faults) or None
        entry.chaos = exchange.chaos
        entry.stall_ms = round(stalled * 1000, 3) if stalled else None
        entry.retry_after = exchange.retry_after
        entry.should_retry = {"true": True, "false": False}.get(exchange.should_retry or "")
    if not log.isEnabledFor(logging.INFO):
        return
    parts = [request.method, request.path, str(status or "-")]
    if selection is not None:
        step = (
            f" step={selection.step_number}/{len(selection.scenario.steps)}" if selection.scenario.is_sequence else ""
        )
        parts.append(f"scenario={selection.scenario.name}{step}")
    if exchange.session:
        parts.append(f"session={exchange.session}")
    if exchange.chaos:
        parts.append(f"chaos={exchange.chaos}")
    if faults:
        parts.append(f"fault={','.join(faults)}")
    if exchange.outcome is not None:  # a stream
        parts.append(f"chunks={outcome.chunks} {outcome.ended}")
    elif outcome.ended not in (COMPLETED, FAULT):  # an answer cut by a fault already says fault=
        parts.append(outcome.ended)
    parts.append(f"{elapsed * 1000:.0f}ms")
    log.info(" ".join(parts))


def processing_ms(exchange: Exchange) -> str:
    """`openai-processing-ms`: the time until the answer's headers."""
    return str(max(1, round((asyncio.get_running_loop().time() - exchange.start) * 1000)))


def base_headers(exchange: Exchange) -> dict[str, str]:
    """Headers the real API sends on every answer."""
    return {
        "x-request-id": exchange.request_id,
        "access-control-expose-headers": "X-Request-ID",
        "openai-version": OPENAI_VERSION,
        "openai-processing-ms": processing_ms(exchange),
    }


async def read_json(request: web.Request, exchange: Exchange) -> dict:
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


class ConnectionCut(Exception):
    """Raised to close the connection without any answer (a scripted disconnect on a non-streaming request)."""


def _chaos(state: State, step: Step, session: str, exchange: Exchange) -> Step:
    """The step after this request's chaos draw: unchanged, an HTTP error, or the answer with a fault in it."""
    if isinstance(step, ErrorReply):
        return step
    spec = step.chaos if step.chaos is not None else state.chaos
    if spec is None or not spec.active:
        return step
    kind, rng = spec.draw(state.settings.seed, session, state.next_draw(("chaos", session)))
    exchange.chaos = kind
    if kind is None:
        return step
    if kind in CHAOS_ERRORS:
        return ErrorReply(status=CHAOS_ERRORS[kind], retry_after=spec.retry_after if kind == "rate_limit" else None)
    fault = {
        "disconnect": Fault("disconnect"),
        "stall": Fault("stall", spec.stall_ms),
        "error_event": Fault("error", error=MID_STREAM_ERROR),
    }[kind]
    return inject(step, fault, rng)


async def answer(request: web.Request, wire: WireFormat) -> web.StreamResponse:
    """The pipeline every wire format shares: parse, choose, draw chaos, plan, then stream or answer whole."""
    state = request.app[STATE]
    exchange = _exchange.get()
    ask = wire.parse_request(await read_json(request, exchange))
    selection = state.selector.choose(
        model=ask.model,
        last_user=ask.last_user,
        session=exchange.session,
        header=request.headers.get("X-Mock-Scenario"),
    )
    exchange.selection = selection
    step = _chaos(state, selection.step, exchange.session, exchange)
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


# The wire formats served, by path below /v1: each is a module rendering plans (see plan.WireFormat).
WIRE_FORMATS: dict[str, WireFormat] = {
    "/chat/completions": chat,
    "/completions": completions,
    "/responses": responses,
}


def create_app(scenarios: Iterable[Scenario] = (), settings: Settings | None = None) -> web.Application:
    """The aiohttp application serving `scenarios`; run it with any aiohttp runner or test client."""
    app = web.Application(middlewares=[api_middleware], client_max_size=MAX_BODY)
    app[STATE] = State(Selector(scenarios), settings or Settings())
    for prefix in ("", SESSION_PREFIX + "{session}"):
        for path, wire in WIRE_FORMATS.items():
            app.router.add_post(prefix + "/v1" + path, partial(answer, wire=wire))
        models.add_routes(app, prefix)
    control.add_routes(app)
    return app
