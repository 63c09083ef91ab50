"""Checking request parameters as the real API does: the same 400s, messages, `param` and `code`, for every
wire format."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from .errors import ApiError, invalid, missing

D = TypeVar("D", bool, None)
_JSON_TYPES = {bool: "a boolean", int: "an integer", float: "a decimal number", str: "a string", list: "an array"}
# Values echoed in messages longer than this are shortened to their first and last 3 characters.
_LONG_VALUE = 16


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    return _JSON_TYPES.get(type(value), "a value")


def shown(value: Any) -> str:
    """A value as the real API echoes it: Python's repr (single quotes unless the text holds one), a long string
    shortened to `'abc...xyz'`."""
    if isinstance(value, str) and len(value) > _LONG_VALUE:
        value = f"{value[:3]}...{value[-3:]}"
    return repr(value)


def listing(values: Sequence[str]) -> str:
    """`'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`: allowed values as the real API lists them."""
    quoted = [repr(value) for value in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def not_supported(value: Any, param: str, values: Sequence[str]) -> ApiError:
    """The real API's 400 for a value outside a fixed set."""
    return invalid(f"Invalid value: {shown(value)}. Supported values are: {listing(values)}.", param, "invalid_value")


def wrong_type(param: str, expected: str, value: Any) -> ApiError:
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.", param, "invalid_type"
    )


def optional(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...], expected: str) -> Any:
    """`body[key]` if it has the right JSON type; absent or null is None."""
    value = body.get(key)
    if value is None:
        return None
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise wrong_type(key, expected, value)
    return value


def integer(body: Mapping[str, Any], key: str, low: int, high: int | None = None) -> int | None:
    """An optional integer parameter within bounds, refused with the real API's range messages."""
    value: int | None = optional(body, key, int, "an integer")
    if value is not None and value < low:
        raise invalid(
            f"Invalid '{key}': integer below minimum value. Expected a value >= {low}, but got {value} instead.",
            key,
            "integer_below_min_value",
        )
    if value is not None and high is not None and value > high:
        raise invalid(
            f"Invalid '{key}': integer above maximum value. Expected a value <= {high}, but got {value} instead.",
            key,
            "integer_above_max_value",
        )
    return value


def model(body: Mapping[str, Any]) -> str:
    value = body.get("model")
    if not value:
        raise invalid("you must provide a model parameter")
    if not isinstance(value, str):
        raise wrong_type("model", "a string", value)
    return value


def stream_options(body: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any]]:
    """Whether the request streams, and its stream options (only allowed when it does)."""
    stream = optional(body, "stream", bool, "a boolean") or False
    options = optional(body, "stream_options", Mapping, "an object")
    if options is not None and not stream:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    return stream, options or {}


def flag(options: Mapping[str, Any], key: str, default: D, where: str = "stream_options") -> bool | D:
    """An optional boolean of `options` (`stream_options` unless told), `default` when absent or null."""
    value = options.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise wrong_type(f"{where}.{key}", "a boolean", value)
    return value


def role(message: Mapping[str, Any], where: str, roles: tuple[str, ...], param: str | None = None) -> str:
    """A message's `role`, required and one of `roles`; a wrong one is reported at `param` (default: the role's
    own path)."""
    if "role" not in message:
        raise missing(f"{where}.role")
    value = message["role"]
    if value not in roles:
        raise not_supported(value, param or f"{where}.role", roles)
    return str(value)
