"""`GET /v1/models` and `GET /v1/models/{model}`: the scenarios, and the models their `match` rules name, as
the models a client may ask for."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..server.state import STATE
from .errors import DEFAULT_ERRORS, ApiError

# The same made-up creation time for every model: listings stay byte-for-byte stable.
CREATED = 1715367049
_GLOB = set("*?[")


def model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "system"}


def model_names(request: web.Request, session: str) -> list[str]:
    """Scenario names first, then the models named in `match.model` rules (globs are not model names)."""
    names: dict[str, None] = {}
    for scenario in request.app[STATE].selector.visible(session):
        names[scenario.name] = None
    for scenario in request.app[STATE].selector.visible(session):
        pattern = scenario.match.model if scenario.match else None
        if pattern and not _GLOB & set(pattern):
            names[pattern] = None
    return list(names)


def _session(request: web.Request) -> str:
    return request.match_info.get("session") or request.headers.get("X-Mock-Session") or ""


async def list_models(request: web.Request) -> web.Response:
    data = [model_object(name) for name in model_names(request, _session(request))]
    return web.json_response({"object": "list", "data": data})


async def get_model(request: web.Request) -> web.Response:
    name = request.match_info["model"]
    if name not in model_names(request, _session(request)):
        message, type_, code = DEFAULT_ERRORS[404]
        raise ApiError(404, message.replace("{model}", name), type_, "model", code)
    return web.json_response(model_object(name))


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(prefix + "/v1/models", list_models)
    app.router.add_get(prefix + "/v1/models/{model:.+}", get_model)
