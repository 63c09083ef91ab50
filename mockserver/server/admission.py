"""The refusals that depend on more than the request: an unknown parameter (let through by
`--accept-unknown-params` or the scenario's `accept_unknown_params`) and a model's limits (skipped when the model
names a scenario). The real API reports an unknown parameter before any other problem; when the request has
another, the pipeline learns of both at once and answers with the one the real API would give."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.ask import Ask
from ..engine.selection import Selection
from ..scenario.model import Answer, Fault
from ..wire.contract import Renders
from ..wire.errors import ApiError
from .settings import Settings


def parse(wire: Renders[Any, Any], body: Mapping[str, Any], settings: Settings) -> Any:
    """The request checked by its wire format; of two problems, the one the server's strictness puts first."""
    try:
        return wire.parse_request(body)
    except ApiError as error:
        if error.unknown_parameter is not None and not settings.accept_unknown_params:
            raise error.unknown_parameter from None
        raise


def admit(ask: Ask, selection: Selection, settings: Settings) -> Answer | None:
    """Once the scenario is known: raise what the request is refused for, or return the refusal a streamed request
    gets inside its stream (a Responses context overflow: an `error` event), or None when it is answered."""
    unknown = ask.unknown_parameter
    if unknown is not None and not (settings.accept_unknown_params or selection.scenario.accept_unknown_params):
        raise unknown
    refusal = ask.model_refusal
    if refusal is None or selection.reason == "model":
        return None
    if not (ask.stream and ask.refuses_in_stream and isinstance(refusal, ApiError)):
        raise refusal
    error = {"type": refusal.type, "code": refusal.code, "message": refusal.message, "param": refusal.param}
    return Answer(items=(Fault("error", error=error, standalone=True),))
