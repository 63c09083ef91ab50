"""A JSON value made from a JSON Schema, valid for it: what `json: auto` and `arguments: auto` answer with, and
what a request that requires structured output gets when nothing was scripted.

It follows what structured-output schemas use — types (and type lists), `required`, `properties`, `enum`,
`const`, numeric bounds and `multipleOf`, string lengths and common formats, `minItems` / `maxItems`,
`prefixItems`, `$ref` / `$defs`, `anyOf` / `oneOf` / `allOf` — and is deterministic: the same schema and seed
give the same value. A recursive schema ends: deep down, optional members are left out, arrays keep their
minimum length, a nullable choice becomes null. `pattern` is not followed (no regex inversion).
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Mapping
from typing import Any

from .schema_check import listed, properties_of, resolve, size

_WORDS = (
    "amber",
    "birch",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "grove",
    "harbor",
    "island",
    "juniper",
    "kestrel",
    "lagoon",
    "meadow",
    "nectar",
    "orchid",
    "prairie",
)
_FORMATS = {
    "date-time": "2026-01-15T09:30:00Z",
    "date": "2026-01-15",
    "time": "09:30:00",
    "duration": "PT1H30M",
    "email": "someone@example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "uri": "https://example.com/",
    "url": "https://example.com/",
}
_SHALLOW = 4  # below this depth, optional members are left out and arrays keep their minimum length
_DEEPEST = 48  # below this, nothing more is made (a schema that cannot end)
_MAX_ITEMS = 64  # an array is never longer than this, whatever minItems says
_MAX_LENGTH = 4096  # nor a string
_BUDGET = 10_000  # values made for one document, at most
_DEEPEST_ALL_OF = 8  # allOf inside allOf, folded at most this deep
_MOST_STEPS = 2**53  # more multiples than this between the bounds: the bound itself is the value


def generate(schema: Any, seed: int = 0) -> Any:
    """A value valid for `schema`, the same for the same schema and seed."""
    key = json.dumps(schema, sort_keys=True, ensure_ascii=False, default=str)
    return _Maker(schema, random.Random(f"{seed}:{key}")).value(schema, 0)


def _merged(schema: Mapping[str, Any], root: Any, depth: int = 0) -> Mapping[str, Any]:
    """`allOf` folded into one schema (properties and required lists joined). An `allOf` that refers back to
    itself is folded a few times, not forever."""
    parts = schema.get("allOf")
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    if not isinstance(parts, list) or not parts or depth > _DEEPEST_ALL_OF:
        return merged if "allOf" in schema else schema
    for part in parts:
        part = _merged(resolve(part, root), root, depth + 1)
        properties = {**properties_of(part), **properties_of(merged)}
        required = [key for key in (*listed(part, "required"), *listed(merged, "required")) if isinstance(key, str)]
        merged = {**part, **merged, "properties": properties, "required": list(dict.fromkeys(required))}
    return merged


def _kind(schema: Mapping[str, Any], deep: bool) -> str | None:
    kinds = schema.get("type")
    if isinstance(kinds, list):
        real = [kind for kind in kinds if kind != "null"]
        if (deep and "null" in kinds) or not real:
            return "null"
        return str(real[0])
    if isinstance(kinds, str):
        return kinds
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


class _Maker:
    def __init__(self, root: Any, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.budget = _BUDGET

    def value(self, node: Any, depth: int) -> Any:
        self.budget -= 1
        schema = _merged(resolve(node, self.root), self.root)
        if depth > _DEEPEST or self.budget < 0:
            return None
        deep = depth >= _SHALLOW or self.budget < _BUDGET // 2
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                return self.value(self._option(options, deep), depth + 1)
        kind = _kind(schema, deep)
        if kind == "object":
            return self.object(schema, depth, deep)
        if kind == "array":
            return self.array(schema, depth, deep)
        if kind == "integer":
            return self.integer(schema)
        if kind == "number":
            return self.number(schema)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self.string(schema)

    def _option(self, options: list[Any], deep: bool) -> Any:
        """The first alternative that is not null — or null itself, deep down, where it ends a recursion."""
        nulls = [option for option in options if resolve(option, self.root).get("type") == "null"]
        if deep and nulls:
            return nulls[0]
        return next((option for option in options if option not in nulls), options[0])

    def object(self, schema: Mapping[str, Any], depth: int, deep: bool) -> dict[str, Any]:
        properties = properties_of(schema)
        required = [key for key in listed(schema, "required") if isinstance(key, str)]
        result: dict[str, Any] = {}
        for key, node in properties.items():
            if key in required or not deep:
                result[key] = self.value(node, depth + 1)
        extra = schema.get("additionalProperties")
        for key in required:  # required but not described: anything valid for additionalProperties
            if key not in result:
                result[key] = self.value(extra if isinstance(extra, Mapping) else {}, depth + 1)
        wanted = size(schema, "minProperties") or 0
        index = 0
        while len(result) < min(wanted, _MAX_ITEMS) and extra is not False:
            result.setdefault(f"key{index}", self.value(extra if isinstance(extra, Mapping) else {}, depth + 1))
            index += 1
        return result

    def array(self, schema: Mapping[str, Any], depth: int, deep: bool) -> list[Any]:
        prefix = listed(schema, "prefixItems")
        low = size(schema, "minItems") or 0
        high = size(schema, "maxItems")
        count = max(low, len(prefix)) if deep else max(low, len(prefix), 1)
        if high is not None:
            count = min(count, high)
        items = schema.get("items")
        result = [self.value(prefix[index], depth + 1) for index in range(min(count, len(prefix)))]
        while len(result) < min(count, _MAX_ITEMS):
            result.append(self.value(items if items is not None else {}, depth + 1))
        return result

    def integer(self, schema: Mapping[str, Any]) -> int:
        low, high = _range(schema, 1)
        step = schema.get("multipleOf")
        if isinstance(step, int) and not isinstance(step, bool) and step > 0:
            first = -(-int(low) // step) * step
            choices = min((high - first) // step, _MOST_STEPS)
            return int(first + step * self.rng.randint(0, int(max(choices, 0))))
        first, last = int(-(-low // 1)), int(high // 1)
        return self.rng.randint(first, last) if first <= last else first

    def number(self, schema: Mapping[str, Any]) -> float:
        low, high = _range(schema, 0.1)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
            first = -(-low // step) * step
            choices = (high - first) / step
            if not math.isfinite(first) or not 0 <= choices <= _MOST_STEPS:  # a step too fine to count in
                return low
            return float(first + step * self.rng.randint(0, int(choices)))
        value = round(self.rng.uniform(low, high), 1)
        return value if low <= value <= high else low

    def string(self, schema: Mapping[str, Any]) -> str:
        form = schema.get("format")
        if form == "uuid":
            text = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        elif isinstance(form, str) and form in _FORMATS:
            text = _FORMATS[form]
        else:
            text = self.rng.choice(_WORDS)
        low = min(size(schema, "minLength") or 0, _MAX_LENGTH)
        high = size(schema, "maxLength")
        while len(text) < low:
            text += " " + self.rng.choice(_WORDS)
        if high is not None and len(text) > high:
            text = text[: max(high, low)]
        return text


def _range(schema: Mapping[str, Any], gap: float) -> tuple[float, float]:
    """The bounds a number must keep: inclusive ones as they are, exclusive ones moved in by `gap`; without
    bounds, a small positive range."""

    def bound(key: str) -> float | None:
        """A bound as a float; one beyond floats (an integer of 400 digits) bounds nothing a value could reach."""
        value = schema.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        try:
            return float(value)
        except OverflowError:
            return None

    low = bound("minimum")
    high = bound("maximum")
    if (exclusive := bound("exclusiveMinimum")) is not None:
        low = max(low, exclusive + gap) if low is not None else exclusive + gap
    if (exclusive := bound("exclusiveMaximum")) is not None:
        high = min(high, exclusive - gap) if high is not None else exclusive - gap
    if low is None:
        low = min(1.0, high - 100) if high is not None else 1.0
    if high is None:
        high = low + 99
    return low, max(low, high)
