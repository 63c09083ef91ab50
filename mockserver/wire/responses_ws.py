"""The Responses API over a WebSocket (`GET /v1/responses` upgraded): the client events it reads, its error events,
and the server events as messages.

A `response.create` carries the fields of a `POST /v1/responses` body flat beside its `type`, and two of this
transport's own: `stream_id`, the lane it runs on (a lane runs its responses in order, lanes run side by side, and
every event of a lane's response echoes its `stream_id`), and `generate: false`, a warm-up that prepares a
response to chain from without any output. `stream` is implied (clients that send it anyway are not refused),
`background` is not supported. Each server event is one text message: the JSON the SSE stream carries after
`data:`, nothing else. An `error` event answers what HTTP answers with an error status: `status` beside the error
object, and the answer's retry headers inside it (`error.headers`, as the SDK's type has them) and at the top level
(where Codex-style clients read them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ..engine.plan import Plan
from ..engine.socket_writer import BINARY, PING, TEXT, frame, text_frames
from ..scenario.model import KEEPALIVE
from . import params
from .encode import compact
from .errors import ApiError, default_error, invalid, missing
from .responses import snapshot
from .responses_object import Envelope
from .responses_request import ResponsesAsk

CREATE = "response.create"
STEER = "response.steer"
CLIENT_EVENTS = (CREATE, STEER)
# What a response.create has that a POST body does not.
_OWN_FIELDS = ("type", "stream_id", "generate")
_STREAM_ID = re.compile(r"[A-Za-z0-9_.-]{1,256}")
MAX_STREAMS = 32  # distinct named stream_ids a connection may use (the default lane does not count)
# Headers an error event carries: those that tell a client when (and whether) to try again.
_RETRY_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")


def event_type(event: Mapping[str, Any]) -> str:
    """The client event's `type`, one the server knows; the real API's 400 otherwise."""
    if "type" not in event:
        raise missing("type")
    kind = event["type"]
    if not isinstance(kind, str):
        raise params.wrong_type("type", "a string", kind)
    if kind not in CLIENT_EVENTS:
        raise params.not_supported(kind, "type", CLIENT_EVENTS)
    return kind


def stream_id(event: Mapping[str, Any]) -> str | None:
    """The lane a response.create names (None: the default lane); `invalid_stream_id` for a malformed one."""
    value = event.get("stream_id")
    if value is None:
        return None
    if not isinstance(value, str) or not _STREAM_ID.fullmatch(value):
        raise invalid(
            "The 'stream_id' field must be a non-empty string with at most 256 characters and may only contain "
            "letters, numbers, underscores, hyphens, and periods.",
            "stream_id",
            "invalid_stream_id",
        )
    return value


def create_body(event: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """A response.create as the `POST /v1/responses` body it stands for (streaming), and whether it generates (False
    for a warm-up)."""
    generate = params.optional(event, "generate", bool, "a boolean")
    body = {key: value for key, value in event.items() if key not in _OWN_FIELDS}
    body["stream"] = True
    return body, generate is not False


def background_refused() -> ApiError:
    return invalid(
        "The 'background' parameter is not supported in WebSocket mode.", "background", "unsupported_parameter"
    )


def stream_limit() -> ApiError:
    return invalid(
        f"This WebSocket connection has reached its maximum number of distinct stream IDs ({MAX_STREAMS}). Reuse an "
        "existing stream_id or open a new WebSocket connection.",
        "stream_id",
        "websocket_stream_limit_reached",
    )


def connection_limit(seconds: float) -> ApiError:
    """The answer to a response.create once the connection has served its time (the real API's: 60 minutes)."""
    minutes = seconds / 60
    length = f"{minutes:g} minutes" if minutes == int(minutes) else f"{seconds:g} seconds"
    return invalid(
        f"Responses websocket connection limit reached ({length}). Create a new websocket connection to continue.",
        code="websocket_connection_limit_reached",
    )


def refused(status: int) -> ApiError:
    """A refused upgrade: the real API's error for the status; the status's phrase where that error names the
    model (404, 429), since no message has named one yet."""
    message, type_, code = default_error(status)
    if "{model}" in message:
        message = f"{HTTPStatus(status).phrase}."
    return ApiError(status, message, type_, None, code)


def error_event(error: ApiError, lane: str | None) -> bytes:
    """The `error` event answering what HTTP answers with `error`'s status and body."""
    event: dict[str, Any] = {"type": "error", "status": error.status}
    if lane is not None:
        event["stream_id"] = lane
    payload: dict[str, Any] = {"type": error.type, "code": error.code, "message": error.message, "param": error.param}
    payload.update(error.details)
    headers = {name: value for name, value in error.headers.items() if _carried(name, error.status)}
    if headers:
        payload["headers"] = headers
    event["error"] = payload
    if headers:
        event["headers"] = headers
    return compact(event)


def _carried(name: str, status: int) -> bool:
    """A 429 carries its rate-limit counts as well as its wait; other errors only what says when to try again."""
    name = name.lower()
    return name in _RETRY_HEADERS or (status == 429 and name.startswith("x-ratelimit-"))


def messages(data: bytes, lane: bytes) -> list[bytes]:
    """The events of a stream's bytes (`event:` and `data:` lines, a blank line after each) as messages: each
    event's JSON, with `lane` (`,"stream_id":"..."`, or nothing) added at its end."""
    frames = data.split(b"\n\n")[:-1]
    if not lane:
        return [frame[frame.index(b"\ndata: ") + 7 :] for frame in frames]
    return [frame[frame.index(b"\ndata: ") + 7 : -1] + lane + b"}" for frame in frames]


def lane_suffix(lane: str | None) -> bytes:
    """What every event of a named lane ends with."""
    return b',"stream_id":"' + lane.encode() + b'"' if lane is not None else b""


def warm_up(plans: list[Plan], ask: ResponsesAsk, envelope: Envelope) -> list[bytes]:
    """A warm-up's events (`generate: false`): the response created, in progress, and completed with no output and
    no usage — an id to chain from, nothing generated."""
    running = snapshot(plans, ask, envelope, "in_progress")
    done = snapshot(plans, ask, envelope, "completed")
    return [
        compact({"type": "response.created", "sequence_number": 0, "response": running}),
        compact({"type": "response.in_progress", "sequence_number": 1, "response": running}),
        compact({"type": "response.completed", "sequence_number": 2, "response": done}),
    ]


def frames(data: bytes, events: int, lane: bytes) -> bytes:
    """A stream's bytes as WebSocket frames: its events as text messages; other bytes a script sends (`raw`) as one
    message of their own (binary unless they are UTF-8); a keep-alive comment as a ping."""
    if events:
        return text_frames(messages(data, lane))
    if data == KEEPALIVE:
        return frame(PING, b"")
    try:
        data.decode()
    except UnicodeDecodeError:
        return frame(BINARY, data)
    return frame(TEXT, data)
