"""The HTTP app: one pipeline for every wire format — authenticate, parse, choose a scenario, plan, render,
send on time — and the error envelope for everything that goes wrong on the way.

API paths are served at `/v1/...` and, for a test that wants its own sequence counts, journal and scenarios
without sending headers, at `/session/NAME/v1/...`: pointing `OPENAI_BASE_URL` there is enough.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from aiohttp import web

from . import chat, control
from .errors import RATE_LIMITS, ApiError, invalid, ratelimit_headers, scripted_error
from .journal import Entry, journal_body
from .plan import make_plan
from .script import ErrorReply, Scenario
from .selection import Selection, Selector
from .sse import COMPLETED, DISCONNECTED, EventStreamResponse, Outcome, sleep_until, write_events
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


# The middleware and the handler run in the same task, so the handler finds its exchange here.
_exchange: contextvars.ContextVar[Exchange] = contextvars.ContextVar("mockserver.exchange")


@lru_cache(maxsize=256)
def fingerprint(model: str) -> str:
    """A stable `system_fingerprint` per model, shaped like the real ones (`fp_` and 10 hex digits)."""
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]


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
        return exc.response(base_headers(exchange))
    except web.HTTPException as exc:
        error = _http_error(request, exc)
        status = error.status
        return error.response(base_headers(exchange))
    except asyncio.CancelledError:
        # The server cancels the handler of a client that went away (or everything, when it stops). A stream
        # had already sent its 200; anything else sent nothing.
        status = 200 if exchange.outcome is not None else None
        raise
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
    if outcome is None:
        outcome = Outcome(ended=COMPLETED if status is not None else DISCONNECTED)
    if entry is not None:
        entry.status = status
        entry.duration_ms = round(elapsed * 1000, 3)
        entry.ended, entry.chunks = outcome.ended, outcome.chunks
        if selection is not None:
            entry.scenario, entry.step = selection.scenario.name, selection.step_number
    parts = [request.method, request.path, str(status or "-")]
    if selection is not None:
        step = (
            f" step={selection.step_number}/{len(selection.scenario.steps)}" if selection.scenario.is_sequence else ""
        )
        parts.append(f"scenario={selection.scenario.name}{step}")
    if exchange.session:
        parts.append(f"session={exchange.session}")
    if exchange.outcome is not None:  # a stream
        parts.append(f"chunks={outcome.chunks} {outcome.ended}")
    elif outcome.ended != COMPLETED:
        parts.append(outcome.ended)
    parts.append(f"{elapsed * 1000:.0f}ms")
    log.info(" ".join(parts))


def base_headers(exchange: Exchange) -> dict[str, str]:
    """Headers the real API sends on every answer."""
    elapsed_ms = (asyncio.get_running_loop().time() - exchange.start) * 1000
    return {
        "x-request-id": exchange.request_id,
        "access-control-expose-headers": "X-Request-ID",
        "openai-version": OPENAI_VERSION,
        "openai-processing-ms": str(max(1, round(elapsed_ms))),
    }


async def read_json(request: web.Request, exchange: Exchange) -> dict:
    raw = await request.read()
    if exchange.entry is not None:
        exchange.entry.body = journal_body(raw)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid(_BAD_JSON) from None
    if not isinstance(body, dict):
        raise invalid(
            f"Invalid body: expected a JSON object, but got {chat._type_name(body)} instead.", code="invalid_type"
        )
    return body


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    exchange = _exchange.get()
    ask = chat.parse_request(await read_json(request, exchange))
    selection = state.selector.choose(
        model=ask.model,
        last_user=ask.last_user,
        session=exchange.session,
        header=request.headers.get("X-Mock-Scenario"),
    )
    exchange.selection = selection
    step = selection.step
    if isinstance(step, ErrorReply):
        raise scripted_error(step, ask.model)
    plan = make_plan(step, ask, state.settings.speed)
    envelope = chat.Envelope(id=state.chat_id(), created=int(time.time()), fingerprint=fingerprint(plan.model))
    headers = {
        **base_headers(exchange),
        **ratelimit_headers(RATE_LIMITS["requests"] - 1, RATE_LIMITS["tokens"] - ask.prompt_tokens),
    }
    if ask.stream:
        response = EventStreamResponse(headers=headers)
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        exchange.outcome = Outcome()
        await write_events(request, response, chat.stream_events(plan, ask, envelope), exchange.start, exchange.outcome)
        return response
    await sleep_until(exchange.start + plan.finish_at)
    headers["openai-processing-ms"] = base_headers(exchange)["openai-processing-ms"]
    return web.Response(
        body=chat.completion_body(plan, ask, envelope), content_type="application/json", headers=headers
    )


def create_app(scenarios: Iterable[Scenario] = (), settings: Settings | None = None) -> web.Application:
    """The aiohttp application serving `scenarios`; run it with any aiohttp runner or test client."""
    app = web.Application(middlewares=[api_middleware], client_max_size=MAX_BODY)
    app[STATE] = State(Selector(scenarios), settings or Settings())
    for prefix in ("", SESSION_PREFIX + "{session}"):
        app.router.add_post(prefix + "/v1/chat/completions", chat_completions)
    control.add_routes(app)
    return app
