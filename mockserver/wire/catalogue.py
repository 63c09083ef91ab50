"""The model catalogue of `GET /v1/models`: the scenarios, and the models their `match` rules name, as the
models a client may ask for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..scenario.model import Scenario
from .errors import DEFAULT_ERRORS, ApiError

# The same made-up creation time for every model: listings stay byte-for-byte stable.
CREATED = 1715367049
_GLOB = set("*?[")


def model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "system"}


def model_names(scenarios: Iterable[Scenario]) -> list[str]:
    """Scenario names first, then the models named in `match.model` rules (globs are not model names)."""
    scenarios = list(scenarios)
    names: dict[str, None] = dict.fromkeys(scenario.name for scenario in scenarios)
    for scenario in scenarios:
        pattern = scenario.match.model if scenario.match else None
        if pattern and not _GLOB & set(pattern):
            names[pattern] = None
    return list(names)


def listing(scenarios: Iterable[Scenario]) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(name) for name in model_names(scenarios)]}


def one_model(scenarios: Iterable[Scenario], name: str) -> dict[str, Any]:
    """The model object, or the real API's 404 `model_not_found`."""
    if name not in model_names(scenarios):
        message, type_, code = DEFAULT_ERRORS[404]
        raise ApiError(404, message.replace("{model}", name), type_, "model", code)
    return model_object(name)
