"""The checks every request parameter gets from the API's published table (`api_table.py`): is it a parameter
the endpoint knows, does it have a type it may have, one of its values, within its bounds. Messages, `param` and
`code` follow the real API's patterns; where the live API was measured to differ from the document (a bound, a
list of values, how a type is named), the measured fact is written here, beside the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from ..engine.ask import Ask
from . import api_table
from .api_table import P
from .errors import ApiError, invalid
from .params import not_supported, shown, type_name, wrong_type

# How the API names each JSON type in `expected …`.
_EXPECTED = {
    "number": "a decimal",
    "integer": "an integer",
    "boolean": "a boolean",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}
_ANY = P(("boolean", "integer", "number", "string", "array", "object"))
# The five service tiers the live API lists (the document adds `scale`, and `ultrafast` for Responses).
_TIERS = P(("string",), enum=("auto", "default", "fast", "flex", "priority"))
_METADATA_KEYS, _METADATA_KEY_LENGTH, _METADATA_VALUE_LENGTH = 16, 64, 512


@dataclass(frozen=True)
class Surface:
    """One endpoint's parameters: the document's table with the live API's differences, the order the API checks
    them in, and the objects whose members are checked for unknown keys too."""

    params: Mapping[str, P]
    order: tuple[str, ...]
    nested: tuple[str, ...]
    expected: Mapping[str, str] = field(default_factory=dict)  # how a type error names what was expected
    moved: Mapping[str, str] = field(default_factory=dict)  # parameters of another endpoint, and where they went

    def known(self, key: str) -> bool:
        return key in self.params

    @cached_property
    def rank(self) -> dict[str, int]:
        """Each parameter's place in the order of the checks."""
        return {key: index for index, key in enumerate(self.order)}


CHAT = Surface(
    params={
        **api_table.CHAT,
        "max_completion_tokens": P(("integer",), minimum=1),  # measured: 0 is refused
        "max_tokens": P(("integer",), minimum=0),  # recorded: -1 is refused
        "response_format.type": P(("string",), enum=("json_object", "json_schema", "text")),  # as the API lists them
        "service_tier": _TIERS,
    },
    # The order of the live API's checks, as measured; the parameters after these are checked in body order.
    order=(
        "functions",
        "tools",
        "parallel_tool_calls",
        "max_completion_tokens",
        "n",
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "user",
        "seed",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
        "stream",
        "store",
        "metadata",
        "verbosity",
    ),
    nested=("stream_options",),
    expected={
        "messages": "an array of objects",
        "tools": "an array of objects",
        "functions": "an array of function definitions",
        "metadata": "a metadata object",
        "tool_choice": "one of one of 'none', 'auto', or 'required' or object",
    },
)

COMPLETIONS = Surface(params=api_table.COMPLETIONS, order=(), nested=("stream_options",))

# Chat parameters sent to Responses: the ones that moved get `unsupported_parameter` and where they went.
_MOVED = {
    "messages": "input",
    "response_format": "text.format",
    "reasoning_effort": "reasoning.effort",
    "max_completion_tokens": "max_output_tokens",
}

RESPONSES = Surface(
    params={
        **api_table.RESPONSES,
        "max_tool_calls": P(("integer",), minimum=1),  # measured
        "service_tier": _TIERS,
        # Known to the live API (and echoed in every response object), not to the document.
        "presence_penalty": P(("number",), minimum=-2, maximum=2),
        "frequency_penalty": P(("number",), minimum=-2, maximum=2),
        # Sent by openai-python 3.57, not in the document.
        "access_programs": _ANY,
        "background_options": _ANY,
        "image": _ANY,
    },
    order=(
        "input",
        "moderation",
        "include",
        "tools",
        "metadata",
        "text",
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "parallel_tool_calls",
        "stream",
        "stream_options",
        "background",
        "max_output_tokens",
        "max_tool_calls",
        "reasoning",
        "user",
        "safety_identifier",
        "prompt_cache_options",
        "prompt_cache_key",
        "prompt_cache_retention",
        "truncation",
        "instructions",
        "store",
        "service_tier",
        "top_logprobs",
    ),
    nested=("stream_options", "reasoning"),
    expected={
        "tools": "an array of tools",
        "input": "one of a string or array of input items",
        "metadata": "a metadata object",
        "tool_choice": "one of an object or 'none', 'auto', or 'required'",
    },
    moved=_MOVED,
)


# --- unknown parameters -------------------------------------------------------------------------------------


def _distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def suggestion(key: str, known: Iterable[str], present: Iterable[str]) -> str:
    """` Did you mean 'x'?` (or `'x' or 'y'`): known keys within two edits, nearest first, never one the body
    already has."""
    if len(key) > 64:
        return ""
    taken = set(present)
    close = sorted(
        (distance, name)
        for name in known
        if "." not in name and name not in taken and (distance := _distance(key, name)) <= 2
    )
    names = [f"'{name}'" for _, name in close[:2]]
    return f" Did you mean {' or '.join(names)}?" if names else ""


AskT = TypeVar("AskT", bound=Ask)


def checked(body: Mapping[str, Any], surface: Surface, parse: Callable[[], AskT]) -> AskT:
    """The request as `parse()` reads it, carrying the 400 of an unknown parameter (also on the error `parse()`
    raises): the real API reports that one before any other, unless the server or the scenario lets it through."""
    unknown = unknown_parameter(body, surface)
    try:
        ask = parse()
    except ApiError as error:
        error.unknown_parameter = unknown
        raise
    ask.unknown_parameter = unknown
    return ask


def unknown_parameter(body: Mapping[str, Any], surface: Surface) -> ApiError | None:
    """The 400 for the first parameter the endpoint does not know (top level, then inside the objects whose
    members the API checks), or None."""
    params = surface.params
    for key in body:
        if key in params:
            continue
        if key in surface.moved:
            return invalid(
                f"Unsupported parameter: '{key}'. In the Responses API, this parameter has moved to "
                f"'{surface.moved[key]}'. Try again with the new parameter. See the API documentation for more "
                "information: https://platform.openai.com/docs/api-reference/responses/create.",
                code="unsupported_parameter",
            )
        name = str(key)
        hint = suggestion(name, surface.params, body)
        return invalid(f"Unknown parameter: '{name}'.{hint}", name, "unknown_parameter")
    for parent in surface.nested:
        value = body.get(parent)
        if isinstance(value, Mapping):
            for member in value:
                path = f"{parent}.{member}"
                if not surface.known(path):
                    return invalid(f"Unknown parameter: '{path}'.", path, "unknown_parameter")
    return None


# --- types, values, bounds ------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return json.dumps(value)


def _bound(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _of_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, (int, float))
    python = {"string": str, "array": list, "object": Mapping}.get(kind)
    return python is not None and isinstance(value, python)


def expected(param: P, key: str, surface: Surface) -> str:
    """What a type error says was expected: `a decimal`, `one of a string or array`, ..."""
    if key in surface.expected:
        return surface.expected[key]
    names = [_EXPECTED[kind] for kind in param.types]
    if len(names) == 1:
        return names[0]
    return "one of " + " or ".join([names[0], *(name.split(" ", 1)[1] for name in names[1:])])


def check_value(key: str, value: Any, param: P, surface: Surface) -> None:
    """Raise the real API's 400 when `value` is not one `param` allows."""
    if not any(_of_type(value, kind) for kind in param.types):
        raise wrong_type(key, expected(param, key, surface), value)
    if isinstance(value, str):
        if param.enum and value not in param.enum:
            raise not_supported(value, key, param.enum)
        if param.max_length is not None and len(value) > param.max_length:
            raise invalid(
                f"Invalid '{key}': string too long. Expected a string with maximum length {param.max_length}, "
                f"but got a string with length {len(value)} instead.",
                key,
                "string_above_max_length",
            )
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        kind = "integer" if isinstance(value, int) and "integer" in param.types else "decimal"
        if param.minimum is not None and value < param.minimum:
            raise invalid(
                f"Invalid '{key}': {kind} below minimum value. Expected a value >= {_bound(param.minimum)}, "
                f"but got {_number(value)} instead.",
                key,
                f"{kind}_below_min_value",
            )
        if param.maximum is not None and value > param.maximum:
            raise invalid(
                f"Invalid '{key}': {kind} above maximum value. Expected a value <= {_bound(param.maximum)}, "
                f"but got {_number(value)} instead.",
                key,
                f"{kind}_above_max_value",
            )
    elif isinstance(value, list):
        if param.min_items is not None and len(value) < param.min_items:
            if not value:
                raise invalid(
                    f"Invalid '{key}': empty array. Expected an array with minimum length {param.min_items}, "
                    "but got an empty array instead.",
                    key,
                    "empty_array",
                )
            raise invalid(
                f"Invalid '{key}': array too short. Expected an array with minimum length {param.min_items}, "
                f"but got an array with length {len(value)} instead.",
                key,
                "array_below_min_length",
            )
        if param.max_items is not None and len(value) > param.max_items:
            raise invalid(
                f"Invalid '{key}': array too long. Expected an array with maximum length {param.max_items}, "
                f"but got an array with length {len(value)} instead.",
                key,
                "array_above_max_length",
            )


def check_params(body: Mapping[str, Any], surface: Surface, skip: tuple[str, ...] = ()) -> None:
    """Every known parameter of the body against the table, reporting the first problem in the API's order (then
    the body's); null is the same as absent. `skip` names parameters the caller checks itself. A body without a
    problem is checked once, in its own order: the order matters only to choose among several problems."""
    try:
        _check_keys(body, body, surface, skip)
    except ApiError:
        rank = surface.rank
        _check_keys(body, sorted(body, key=lambda key: rank.get(key, len(rank))), surface, skip)
        raise
    if isinstance(body.get("metadata"), Mapping):
        check_metadata(body["metadata"])


def _check_keys(body: Mapping[str, Any], keys: Iterable[str], surface: Surface, skip: tuple[str, ...]) -> None:
    params = surface.params
    for key in keys:
        value = body[key]
        param = params.get(key)
        if value is None or param is None or key in skip:
            continue
        check_value(key, value, param, surface)
        if isinstance(value, Mapping) and key != "metadata":
            for member, inner in value.items():
                path = f"{key}.{member}"
                if inner is not None and path in params:
                    check_value(path, inner, params[path], surface)


def check_metadata(metadata: Mapping[str, Any]) -> None:
    """At most 16 keys of at most 64 characters, each value a string of at most 512 (measured messages)."""
    if len(metadata) > _METADATA_KEYS:
        raise invalid(
            f"Invalid 'metadata': too many properties. Expected an object with at most {_METADATA_KEYS} properties, "
            f"but got an object with {len(metadata)} properties instead.",
            "metadata",
            "object_above_max_properties",
        )
    for key, value in metadata.items():
        path = f"metadata.{key}"
        if len(key) > _METADATA_KEY_LENGTH:
            raise invalid(
                f"Invalid property name in 'metadata': {shown(key)} is too long. Expected a string with maximum "
                f"length {_METADATA_KEY_LENGTH}, but got a string with length {len(key)} instead.",
                path,
                "property_name_above_max_length",
            )
        if not isinstance(value, str):
            raise invalid(
                f"Invalid type for '{path}': expected a string, but got {type_name(value)} instead.",
                path,
                "invalid_type",
            )
        if len(value) > _METADATA_VALUE_LENGTH:
            raise invalid(
                f"Invalid '{path}': string too long. Expected a string with maximum length {_METADATA_VALUE_LENGTH}, "
                f"but got a string with length {len(value)} instead.",
                path,
                "string_above_max_length",
            )
