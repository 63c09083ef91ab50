"""What the routes of stored objects (responses, conversations) share: JSON answers with the headers every real
answer carries, query parameters read as the SDKs send them, and list pages as the API cursors through them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from ..wire import params
from ..wire.errors import invalid
from .exchange import base_headers, current

LIST_LIMIT = 100  # the most items a page may hold


def json_answer(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False).encode(),
        content_type="application/json",
        headers={**base_headers(current()), **(headers or {})},
    )


def includes(query: Mapping[str, str]) -> tuple[str, ...]:
    """`include[]=...` as the SDKs send an array in a query (the bare `include=` read as well)."""
    getall = getattr(query, "getall", None)
    if getall is None:
        return ()
    return (*getall("include[]", []), *getall("include", []))


def flag(query: Mapping[str, str], key: str) -> bool:
    """A boolean query parameter, `true` or `false` as the SDKs write them."""
    value = query.get(key)
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise params.wrong_type(key, "a boolean", value)


def integer(query: Mapping[str, str], key: str, low: int, high: int | None, default: int) -> int:
    """An integer query parameter within bounds, refused with the real API's messages."""
    text = query.get(key)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise params.wrong_type(key, "an integer", text) from None
    return params.integer({key: value}, key, low, high) or 0


def page(items: Sequence[Mapping[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """One page of a list: `order` (newest first unless `asc`), `after` (an item's id: the page starts after
    it), `limit` (1-100, 20 unless given)."""
    limit = integer(query, "limit", 1, LIST_LIMIT, 20)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", "order", "invalid_value")
    ordered = list(items) if order == "asc" else list(reversed(items))
    start = 0
    after = query.get("after")
    if after:
        start = next((index + 1 for index, item in enumerate(ordered) if item.get("id") == after), len(ordered))
    data = ordered[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id", "") if data else "",
        "last_id": data[-1].get("id", "") if data else "",
        "has_more": start + limit < len(ordered),
    }
