"""The Conversations API: `POST /v1/conversations` (with `items`, `metadata`), `GET`, `POST` (new metadata) and
`DELETE /v1/conversations/{id}`, and its items — listed a page at a time, added, read, deleted. A conversation
lives in the store with the stored responses, under the same bound; `conversation` on `POST /v1/responses`
reads its items as earlier turns and adds the new ones (see `keeper`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..wire import params
from ..wire.errors import ApiError, invalid, missing
from ..wire.ids import hex_token
from ..wire.responses_request import turns_of
from ..wire.stored_items import listed
from .exchange import current
from .keeper import stored
from .pipeline import read_json
from .resources import json_answer, page
from .state import STATE
from .store import Conversation, Store, held

MAX_ITEMS = 20  # items one request may add
MAX_METADATA = 16  # keys
MAX_KEY, MAX_VALUE = 64, 512  # characters


def _object(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "object": "conversation",
        "created_at": conversation.created_at,
        "metadata": conversation.metadata,
    }


def _conversation(request: web.Request) -> Conversation:
    """The conversation the path names, or the real API's 404."""
    key = request.match_info["conversation_id"]
    return stored(request.app[STATE].store, current().session, key, Conversation, "Conversation")


def _metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    value = params.optional(body, "metadata", Mapping, "an object") or {}
    if len(value) > MAX_METADATA:
        raise invalid(
            f"Invalid 'metadata': too many properties. Expected an object with at most {MAX_METADATA} properties, "
            f"but got an object with {len(value)} properties instead.",
            "metadata",
            "object_above_max_properties",
        )
    for key, text in value.items():
        if len(key) > MAX_KEY:
            raise invalid(
                f"Invalid 'metadata': property name too long. Expected a property name with maximum length {MAX_KEY}, "
                f"but got a property name with length {len(key)} instead.",
                "metadata",
                "string_above_max_length",
            )
        if not isinstance(text, str):
            raise params.wrong_type(f"metadata.{key}", "a string", text)
        if len(text) > MAX_VALUE:
            raise invalid(
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length {MAX_VALUE}, but "
                f"got a string with length {len(text)} instead.",
                f"metadata.{key}",
                "string_above_max_length",
            )
    return dict(value)


def _items(body: Mapping[str, Any], conversation: Conversation, required: bool) -> list[dict[str, Any]]:
    """The `items` to add, checked as a request's input items are (1-20 of them when required), and listed with
    their ids."""
    if required and "items" not in body:
        raise missing("items")
    value = params.optional(body, "items", list, "an array") or []
    if required and not value:
        raise invalid(
            "Invalid 'items': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "items",
            "empty_array",
        )
    if len(value) > MAX_ITEMS:
        raise invalid(
            f"Invalid 'items': array too long. Expected an array with maximum length {MAX_ITEMS}, but got an array "
            f"with length {len(value)} instead.",
            "items",
            "array_above_max_length",
        )
    try:
        turns_of(value, checked=True)
    except ApiError as exc:  # the input checks name `input[...]`; here the items are `items[...]`
        raise ApiError(
            exc.status,
            exc.message.replace("'input", "'items"),
            exc.type,
            exc.param and exc.param.replace("input", "items", 1),
            exc.code,
        ) from None
    return [listed(item, conversation.item_id) for item in value]


async def create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_json(request, current())
    conversation = Conversation("conv_" + hex_token(state.rng, 48), int(time.time()), _metadata(body))
    conversation.items = _items(body, conversation, required=False)
    cost = held(conversation.items)
    _fits(state.store, None, cost)
    state.store.put(current().session, conversation.id, conversation, cost)
    return json_answer(_object(conversation))


async def retrieve(request: web.Request) -> web.Response:
    return json_answer(_object(_conversation(request)))


async def update(request: web.Request) -> web.Response:
    """New metadata, in place of the old."""
    conversation = _conversation(request)
    body = await read_json(request, current())
    if body.get("metadata") is None:
        raise missing("metadata")
    conversation.metadata = _metadata(body)
    return json_answer(_object(conversation))


async def delete(request: web.Request) -> web.Response:
    conversation = _conversation(request)
    request.app[STATE].store.remove(current().session, conversation.id)
    return json_answer({"id": conversation.id, "object": "conversation.deleted", "deleted": True})


async def list_items(request: web.Request) -> web.Response:
    """The items, a page at a time: newest first unless `order=asc`."""
    return json_answer(page(_conversation(request).items, request.query))


async def add_items(request: web.Request) -> web.Response:
    """Add items at the end; the answer lists them, in the order sent."""
    conversation = _conversation(request)
    added = _items(await read_json(request, current()), conversation, required=True)
    cost = held(added)
    store = request.app[STATE].store
    _fits(store, conversation.id, cost)
    conversation.items += added
    store.charge(current().session, conversation.id, cost)
    first, last = added[0]["id"], added[-1]["id"]
    return json_answer({"object": "list", "data": added, "first_id": first, "last_id": last, "has_more": False})


def _fits(store: Store, key: str | None, cost: int) -> None:
    """A conversation holds at most what the whole store may: past it, its items are refused (it would be dropped
    at once, and every later request would miss it)."""
    if not store.room(current().session, key, cost):
        raise invalid(
            "These items would make the conversation hold more than this server keeps for everything stored "
            f"(serve --store-bytes: {store.max_bytes:,} bytes).",
            "items",
            "conversation_too_large",
        )


def _item(conversation: Conversation, item_id: str) -> dict[str, Any]:
    found = next((item for item in conversation.items if item["id"] == item_id), None)
    if found is None:
        raise invalid(f"Item with id '{item_id}' not found in conversation.", status=404)
    return found


async def get_item(request: web.Request) -> web.Response:
    return json_answer(_item(_conversation(request), request.match_info["item_id"]))


async def delete_item(request: web.Request) -> web.Response:
    """Delete an item; the answer is the conversation."""
    conversation = _conversation(request)
    conversation.items.remove(_item(conversation, request.match_info["item_id"]))
    return json_answer(_object(conversation))


def add_routes(app: web.Application, prefix: str) -> None:
    """The routes below `prefix` (`/v1`, or a session's)."""
    base = prefix + "/conversations"
    one = base + "/{conversation_id}"
    app.router.add_post(base, create)
    app.router.add_get(one, retrieve)
    app.router.add_post(one, update)
    app.router.add_delete(one, delete)
    app.router.add_get(one + "/items", list_items)
    app.router.add_post(one + "/items", add_items)
    app.router.add_get(one + "/items/{item_id}", get_item)
    app.router.add_delete(one + "/items/{item_id}", delete_item)
