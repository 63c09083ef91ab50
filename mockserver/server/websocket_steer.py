"""`response.steer` on a Responses WebSocket connection: input for a response that is running, answered with the
real event types — `response.steer.failed` (with the input given back) for input that is not valid, a response
this connection does not have running, one that has completed, or one that cannot be steered.

mockserver's scripted answers are not steerable: a running response gets `steering_not_supported`, as the real
API answers for the models and execution modes without steering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..wire import params
from ..wire.encode import compact
from ..wire.errors import ApiError, missing
from .exchange import finish
from .websocket_turns import Socket, begin_message

STEER_KEYS = ("type", "previous_response_id", "input")
_MESSAGE_KEYS = ("type", "role", "content")


def _checked(event: Mapping[str, Any]) -> str:
    """The id the steer targets; the reason it is not valid input otherwise (an ApiError)."""
    for key in event:
        if key not in STEER_KEYS:
            raise ApiError(400, f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")
    if "previous_response_id" not in event:
        raise missing("previous_response_id")
    target = event["previous_response_id"]
    if not isinstance(target, str):
        raise params.wrong_type("previous_response_id", "a string", target)
    if "input" not in event:
        raise missing("input")
    value = event["input"]
    if isinstance(value, str):
        return target
    if not isinstance(value, list) or not value:
        raise params.wrong_type("input", "one of a string or a non-empty array of user messages", value)
    for index, item in enumerate(value):
        where = f"input[{index}]"
        if not isinstance(item, Mapping):
            raise params.wrong_type(where, "an object", item)
        for key in item:
            if key not in _MESSAGE_KEYS:
                raise ApiError(400, f"Unknown parameter: '{where}.{key}'.", param=f"{where}.{key}")
        if item.get("type", "message") != "message":
            raise params.not_supported(item.get("type"), f"{where}.type", ("message",))
        params.role(item, where, ("user",))
        if not isinstance(item.get("content"), (str, list)):
            raise params.wrong_type(f"{where}.content", "one of a string or array of input parts", item.get("content"))
    return target


def failed(event: Mapping[str, Any], code: str, message: str, lane: str | None, sequence: int = 0) -> bytes:
    """`response.steer.failed`: why, and the steering input given back."""
    steer = {key: event[key] for key in ("input", "previous_response_id") if key in event}
    answer: dict[str, Any] = {
        "type": "response.steer.failed",
        "sequence_number": sequence,
        "error": {"code": code, "message": message, "type": "invalid_request_error"},
        "steer": steer,
    }
    if lane is not None:
        answer["stream_id"] = lane
    return compact(answer)


async def steer(socket: Socket, raw: bytes, event: Mapping[str, Any]) -> None:
    """Answer a `response.steer`, journaled as one of the connection's requests (status 400: it was refused)."""
    exchange = begin_message(socket, raw, True)
    lane: str | None = None
    sequence = 0
    try:
        target = _checked(event)
    except ApiError as error:
        code, message = "invalid_input", error.message
    else:
        running = socket.running.get(target)
        if running is not None:
            lane, outcome = running
            code, message = "steering_not_supported", "This response does not support steering."
            sequence = outcome.chunks
        elif socket.find(target) is not None:
            code, message = "response_already_completed", f"Response '{target}' has already completed."
        else:
            code, message = "response_not_found", f"Response '{target}' is not available on this connection."
    exchange.error = ApiError(400, message, code=code)
    try:
        await socket.send(failed(event, code, message, lane, sequence))
    finally:
        finish(socket.turns, exchange, 400)
