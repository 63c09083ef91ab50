"""The routes of stored responses: `GET` (the object, or its events replayed as a stream) and `DELETE
/v1/responses/{id}`, its input items, `cancel` for a background response, and `POST /v1/responses/input_tokens`.
Answers and errors as the real API gives them."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from ..wire.errors import invalid
from ..wire.responses import snapshot
from ..wire.responses_object import RUNNING
from ..wire.responses_request import LOGPROBS, ResponsesAsk, parse_request
from ..wire.stored_items import listed_input
from . import background
from .exchange import current
from .keeper import input_item_id, resolve, stored
from .pipeline import read_json
from .resources import flag, includes, integer, json_answer, page
from .state import STATE
from .store import StoredResponse

# What cancelling a finished background response says, by its status.
_NOT_CANCELLABLE = {"completed": "a completed", "failed": "a failed", "incomplete": "an incomplete"}


def _stored(request: web.Request) -> StoredResponse:
    """The response the path names, or the real API's 404."""
    key = request.match_info["response_id"]
    return stored(request.app[STATE].store, current().session, key, StoredResponse, "Response")


def _as_asked(ask: ResponsesAsk, include: tuple[str, ...]) -> ResponsesAsk:
    """The request with the `include` of a read: logprobs and encrypted reasoning only when this read asks."""
    return dataclasses.replace(ask, include=include, logprobs=LOGPROBS in include)


async def get_response(request: web.Request) -> web.StreamResponse:
    """The response object with the status it has reached; with `stream=true`, a background response's events
    (after `starting_after`, when given), the rest as they come while it runs."""
    record = _stored(request)
    query = request.query
    if flag(query, "stream"):
        if record.live is None:
            raise invalid(
                "This response cannot be streamed because it was not created with background=true.",
                "stream",
                "invalid_request_error",
            )
        return await background.follow(request, record.live, integer(query, "starting_after", -1, None, -1))
    ask = _as_asked(record.ask, includes(query))
    return json_answer(snapshot(record.plans, ask, record.envelope, record.status, record.sent))


async def delete_response(request: web.Request) -> web.Response:
    """Delete a response: its id is unknown from now on (a background one still running stops)."""
    record = _stored(request)
    if record.live is not None and not record.live.finished:
        background.cancel(record)
    request.app[STATE].store.remove(current().session, record.id)
    return json_answer({"id": record.id, "object": "response.deleted", "deleted": True})


async def input_items(request: web.Request) -> web.Response:
    """The items of the request's `input`, as a list page (newest first unless `order=asc`)."""
    record = _stored(request)
    return json_answer(page(listed_input(record.ask.input, input_item_id(record)), request.query))


async def cancel_response(request: web.Request) -> web.Response:
    """Cancel a background response that is still running; cancelling it again gives it back as it is."""
    record = _stored(request)
    if record.live is None:
        raise invalid("Cannot cancel a synchronous response.")
    if record.status in RUNNING:
        background.cancel(record)
    elif record.status != "cancelled":
        raise invalid(f"Cannot cancel {_NOT_CANCELLABLE[record.status]} response.")
    return json_answer(snapshot(record.plans, record.ask, record.envelope, record.status, record.sent))


async def count_input_tokens(request: web.Request) -> web.Response:
    """The input tokens a request would count — tool definitions and earlier turns included — without answering
    it."""
    body = await read_json(request, current())
    ask = parse_request({**body, "model": body.get("model") or "input-tokens"})
    resolve(request.app[STATE].store, ask)
    return json_answer({"object": "response.input_tokens", "input_tokens": ask.prompt_tokens})


def add_routes(app: web.Application, prefix: str) -> None:
    """The routes below `prefix` (`/v1`, or a session's)."""
    base = prefix + "/responses"
    app.router.add_post(base + "/input_tokens", count_input_tokens)
    app.router.add_get(base + "/{response_id}", get_response, allow_head=False)  # it may stream
    app.router.add_delete(base + "/{response_id}", delete_response)
    app.router.add_get(base + "/{response_id}/input_items", input_items)
    app.router.add_post(base + "/{response_id}/cancel", cancel_response)
