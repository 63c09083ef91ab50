"""The HTTP app: the routes of every wire format at `/v1/...` and `/session/NAME/v1/...`, the model catalogue,
the control API, and the middleware around them all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from aiohttp import web

from ..engine.selection import Selector
from ..scenario.model import Scenario
from ..wire import catalogue, chat, completions, responses
from ..wire.contract import WireFormat
from . import control
from .bodies import MAX_BODY
from .exchange import current
from .middleware import api_middleware
from .pipeline import answer
from .protocol import handler_args
from .sessions import SESSION_PREFIX
from .settings import Settings
from .state import STATE, State

# The wire formats served, by path below /v1: each is a module rendering plans (see wire/contract.py).
WIRE_FORMATS: Mapping[str, WireFormat[Any, Any]] = {
    "/chat/completions": chat,
    "/completions": completions,
    "/responses": responses,
}


async def list_models(request: web.Request) -> web.Response:
    return web.json_response(catalogue.listing(request.app[STATE].selector.visible(current().session)))


async def get_model(request: web.Request) -> web.Response:
    visible = request.app[STATE].selector.visible(current().session)
    return web.json_response(catalogue.one_model(visible, request.match_info["model"]))


def create_app(scenarios: Iterable[Scenario] = (), settings: Settings | None = None) -> web.Application:
    """The aiohttp application serving `scenarios`; run it with any aiohttp runner or test client."""
    settings = settings or Settings()
    app = web.Application(
        middlewares=[api_middleware], client_max_size=MAX_BODY, handler_args=handler_args(settings.idle_timeout)
    )
    app[STATE] = State(Selector(scenarios), settings)
    for prefix in ("", SESSION_PREFIX + "{session}"):
        for path, wire in WIRE_FORMATS.items():
            app.router.add_post(prefix + "/v1" + path, partial(answer, wire=wire))
        app.router.add_get(prefix + "/v1/models", list_models)
        app.router.add_get(prefix + "/v1/models/{model:.+}", get_model)
    control.add_routes(app)
    return app
