"""The real API's checks of each item of a Responses `input` (and of a conversation's `items`): a `type` the API
knows, the members that kind requires and their types (from the published table), and the parts of a message's
content or of a function call output. An agent that builds its history by hand gets the 400 it would get live,
not a 200 the real service never gives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import api_table
from .api_table import P
from .errors import missing
from .params import not_supported, wrong_type
from .validation import Surface, check_value

# Where the live API differs from the published document (2.3.0), as the SDKs' own types and the clients that
# use them show: a newer item type (LangChain and pydantic-ai send it), a newer status, a shell call output that
# the Agents SDK sends with `call_id` and no `id`, and a function call output's `call_id`, which the document
# lets be null and the SDKs require.
_REQUIRED = {
    **api_table.ITEM_REQUIRED,
    "configuration_update": (),
    "local_shell_call_output": ("output",),
    "function_call_output": ("call_id", "output"),
}
ITEM_TYPES = tuple(sorted({"message", *_REQUIRED}))  # as a 400 lists them
_ITEMS = Surface(
    params={
        **api_table.ITEMS,
        "web_search_call.status": P(
            ("string",), enum=("in_progress", "searching", "completed", "failed", "incomplete")
        ),
    },
    order=(),
    nested=(),
)
_MESSAGE_STATUS = P(("string",), enum=("in_progress", "completed", "incomplete"))  # the document's, for messages
# The parts a message's content may hold, listed (in this order) in the live API's 400 for any other.
CONTENT_PARTS = (
    "input_text",
    "input_image",
    "input_audio",
    "output_text",
    "refusal",
    "input_file",
    "computer_screenshot",
    "summary_text",
    "encrypted_content",
)
# The parts a function call output may hold, as the live API lists them.
OUTPUT_PARTS = ("input_text", "input_image", "input_file")
_TEXT = {"input_text": "text", "output_text": "text", "summary_text": "text", "refusal": "refusal"}


def kind_of(item: Mapping[str, Any]) -> Any:
    """An item's `type`; without one, a message, or a reference to a stored item (only an `id`, which is what
    the type defaults to)."""
    kind = item.get("type")
    if kind is not None:
        return kind
    return "item_reference" if "id" in item and "role" not in item and "content" not in item else "message"


def item_type(item: Mapping[str, Any], where: str) -> str:
    """The kind of the item at `where` (`input[2]`), once its type and members pass the checks; a message (no
    `type`, or `message`) is the caller's to check, its content parts aside (`parts`)."""
    kind = kind_of(item)
    if kind == "message":
        if item.get("status") is not None:
            check_value(f"{where}.status", item["status"], _MESSAGE_STATUS, _ITEMS)
        return "message"
    if not isinstance(kind, str):
        raise wrong_type(f"{where}.type", "a string", kind)
    if kind not in _REQUIRED:  # the live API names the item, as for a role it does not know
        raise not_supported(kind, where, ITEM_TYPES)
    required = _REQUIRED[kind]
    for member in required:
        if member not in item:
            raise missing(f"{where}.{member}")
    for member, value in item.items():
        param = _ITEMS.params.get(f"{kind}.{member}")
        if param is not None and (value is not None or member in required):  # null only where it is optional
            check_value(f"{where}.{member}", value, param, _ITEMS)
    if kind == "function_call_output" and isinstance(item.get("output"), list):
        parts(item["output"], f"{where}.output", OUTPUT_PARTS)
    return kind


def parts(value: list[Any], where: str, allowed: tuple[str, ...]) -> None:
    """Each part an object of an `allowed` type, its text (when it has one) a string."""
    for index, part in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(part, Mapping):
            raise wrong_type(at, "an object", part)
        if "type" not in part:
            raise missing(f"{at}.type")
        kind = part["type"]
        if kind not in allowed:
            raise not_supported(kind, at, allowed)
        key = _TEXT.get(kind)
        if key is not None:
            if key not in part:
                raise missing(f"{at}.{key}")
            if not isinstance(part[key], str):
                raise wrong_type(f"{at}.{key}", "a string", part[key])
