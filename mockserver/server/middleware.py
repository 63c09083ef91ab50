"""The middleware around every route: it times the request, checks keys first, journals API requests, turns
every failure into the API's error envelope, sends a whole answer, and then logs one line per request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..engine.writer import DISCONNECTED, FAULT
from ..wire.errors import ApiError, invalid, retry_after_seconds
from .bodies import too_large
from .credentials import check_admin, check_header_text, check_key, journal_headers
from .exchange import ConnectionCut, Exchange, base_headers, begin, finish, log, sent
from .sessions import classify
from .state import STATE

_BUG = "The server had an error while processing your request. Sorry about that!"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    task = asyncio.current_task()
    if task is not None:
        state.in_flight.add(task)
    route = classify(request)
    session, audience = route.session, route.audience
    exchange = Exchange(asyncio.get_running_loop().time(), state.request_id(), session)
    begin(exchange)
    if session:
        state.touch(session)
    if audience == "api":
        exchange.entry = state.journal.open(
            request.method, request.path, session or None, journal_headers(request.headers.items())
        )
    status: int | None = 500
    try:
        check_header_text(request.headers)
        if audience == "api" and state.settings.api_key is not None:
            check_key(request.headers.get("Authorization"), state.settings.api_key)
        elif audience == "control":
            check_admin(request.headers.get("Authorization"), state.settings.admin_token)
        if route.refused is not None:
            raise invalid(route.refused, code="invalid_session")
        if audience == "api" and len(state.in_flight) > 1:
            # Let the requests that came in the same moment note their arrival before this one is served: a
            # burst's delays then count from when each request came, not from when those before it were done.
            await asyncio.sleep(0)
        response = await handler(request)
        status = response.status
        return await sent(request, response)
    except ApiError as exc:
        status = exc.status
        exchange.error = exc
        exchange.retry_after = retry_after_seconds(exc.headers)
        exchange.should_retry = exc.headers.get("x-should-retry")
        return await sent(request, exc.response(base_headers(exchange)))
    except web.HTTPException as exc:
        error = exchange.error = _http_error(request, exc)
        status = error.status
        return await sent(request, error.response(base_headers(exchange)))
    except ConnectionCut:
        status = None
        exchange.ended = FAULT
        return _cut(request)
    except asyncio.CancelledError:
        # The server cancels the handler of a client that went away (or everything, when it stops). A stream
        # had already sent its 200; anything else sent nothing.
        status = 200 if exchange.outcome is not None else None
        raise
    except ConnectionError:
        # The client left while its body was still arriving, or while an answer was being written: nobody is
        # there to answer, and it is not the server's fault.
        status = 200 if exchange.outcome is not None else None
        exchange.ended = DISCONNECTED
        return _cut(request)
    except Exception:
        # A bug: say so in the log, and still answer in the API's format — unless the answer has begun, which a
        # second head would corrupt: then the connection is cut, as a fault cuts it.
        log.exception("unexpected error answering %s %s", request.method, request.path)
        status = 500
        if request.writer.output_size:
            return _cut(request)
        return await sent(request, ApiError(500, _BUG, "server_error").response(base_headers(exchange)))
    finally:
        if task is not None:
            state.in_flight.discard(task)
        finish(request, exchange, status)


def _cut(request: web.Request) -> web.StreamResponse:
    """Close the connection; the response returned is never sent."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)


def _http_error(request: web.Request, exc: web.HTTPException) -> ApiError:
    if exc.status == 405:
        return invalid(
            f"Not allowed to {request.method} on {request.path}. (HINT: Perhaps you meant to use a different "
            "HTTP method?)",
            status=405,
        )
    if exc.status == 413:
        return too_large()
    if exc.status == 404:
        return invalid(f"Invalid URL ({request.method} {request.path})", status=404)
    return ApiError(exc.status, exc.reason, "server_error" if exc.status >= 500 else "invalid_request_error")
