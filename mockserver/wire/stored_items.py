"""Items as the API lists them back — a response's input items, a conversation's items: each with an id and a
status, a message's content as a list of parts, in the shapes the SDKs' item models read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .input_items import kind_of

# The id prefix of each kind of item the mock names itself.
PREFIXES = {
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
    "reasoning": "rs_",
    "compaction": "cmp_",
}

MakeId = Callable[[str], str]  # a new id with this prefix


def listed_input(value: Any, make_id: MakeId) -> list[dict[str, Any]]:
    """A request's `input` as listed items: a string is one user message."""
    if value is None:
        return []
    if isinstance(value, str):
        return [listed({"type": "message", "role": "user", "content": value}, make_id)]
    return [listed(item, make_id) for item in value if isinstance(item, Mapping)]


def listed(item: Mapping[str, Any], make_id: MakeId) -> dict[str, Any]:
    """One item as it is listed; one the client named keeps its id."""
    kind = str(kind_of(item))
    item_id = item.get("id") if isinstance(item.get("id"), str) else None
    item_id = item_id or make_id(PREFIXES.get(kind, "item_"))
    if kind == "message":
        role = item.get("role")
        content = item.get("content")
        if isinstance(content, str):
            part = "output_text" if role == "assistant" else "input_text"
            content = [{"type": part, "text": content}]
        if isinstance(content, list):  # output text always lists its annotations and logprobs
            content = [
                {"type": "output_text", "annotations": [], "logprobs": [], **part}
                if isinstance(part, Mapping) and part.get("type") == "output_text"
                else part
                for part in content
            ]
        status = item.get("status") or "completed"
        return {"id": item_id, "type": "message", "role": role, "status": status, "content": content}
    if kind == "function_call_output":
        return {
            "id": item_id,
            "type": kind,
            "call_id": item.get("call_id"),
            "output": item.get("output"),
            "status": item.get("status") or "completed",
        }
    if kind == "function_call":
        return {
            "id": item_id,
            "type": kind,
            "status": item.get("status") or "completed",
            "arguments": item.get("arguments"),
            "call_id": item.get("call_id"),
            "name": item.get("name"),
        }
    return {"id": item_id, **{key: value for key, value in item.items() if key != "id"}}
