"""The HTTP app: the routes of every wire format at `/v1/...` and `/session/NAME/v1/...`, stored responses and
conversations, the model catalogue, the control API, and the middleware around them all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from aiohttp import web

from ..engine.selection import Selector
from ..record.serving import install as install_upstream
from ..scenario.model import Scenario
from ..wire import catalogue, chat, completions, embeddings, moderations, responses
from ..wire.contract import WholeFormat, WireFormat
from . import control, conversation_routes, response_routes, scrape, websocket
from .bodies import MAX_BODY
from .exchange import base_headers, current
from .keeper import KEEPER
from .middleware import api_middleware
from .pipeline import Keeper, answer, answer_whole
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
# The wire formats that never stream.
WHOLE_FORMATS: Mapping[str, WholeFormat[Any, Any]] = {"/embeddings": embeddings, "/moderations": moderations}
KEEPERS: Mapping[str, Keeper] = {"/responses": KEEPER}  # the wire formats whose answers are kept


async def list_models(request: web.Request) -> web.Response:
    listing = catalogue.listing(request.app[STATE].selector.visible(current().session))
    return web.json_response(listing, headers=base_headers(current()))


async def get_model(request: web.Request) -> web.Response:
    visible = request.app[STATE].selector.visible(current().session)
    return web.json_response(catalogue.one_model(visible, request.match_info["model"]), headers=base_headers(current()))


async def _stop_background(app: web.Application) -> None:
    await app[STATE].store.close()


def create_app(scenarios: Iterable[Scenario] = (), settings: Settings | None = None) -> web.Application:
    """The aiohttp application serving `scenarios`; run it with any aiohttp runner or test client."""
    settings = settings or Settings()
    app = web.Application(
        middlewares=[api_middleware], client_max_size=MAX_BODY, handler_args=handler_args(settings.idle_timeout)
    )
    app[STATE] = State(Selector(scenarios), settings)
    websocket.install(app)
    for prefix in ("", SESSION_PREFIX + "{session}"):
        for path, wire in WIRE_FORMATS.items():
            app.router.add_post(prefix + "/v1" + path, partial(answer, wire=wire, keeper=KEEPERS.get(path)))
        for path, whole in WHOLE_FORMATS.items():
            app.router.add_post(prefix + "/v1" + path, partial(answer_whole, wire=whole))
        app.router.add_get(prefix + "/v1/models", list_models)
        app.router.add_get(prefix + "/v1/models/{model:.+}", get_model)
        app.router.add_get(prefix + "/v1/responses", websocket.connect)
        response_routes.add_routes(app, prefix + "/v1")
        conversation_routes.add_routes(app, prefix + "/v1")
    control.add_routes(app)
    scrape.add_routes(app)
    install_upstream(app, app[STATE].settings)  # with an upstream, misses are forwarded (and recorded)
    app.on_shutdown.append(_stop_background)
    return app
