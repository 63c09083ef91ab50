"""Reading a JSON Schema as requests send them (`response_format`, `text.format`, a tool's `parameters`): following
`$ref`, and telling whether a value is valid — the subset strict structured output uses, so the journal can say
when a scripted answer does not fit the schema a request asked for. The walk is bounded, whatever the schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_BUDGET = 20_000  # schema nodes visited for one value, at most
_DEEPEST = 64  # schemas within schemas (references that lead back, values nested deep), checked at most this deep


def resolve(node: Any, root: Any) -> Mapping[str, Any]:
    """The schema `node` stands for, its local `$ref` followed (`#`, `#/$defs/X`, `#/definitions/X`, any JSON
    pointer into the root); anything else that is not a schema reads as `{}` (any value)."""
    for _ in range(32):  # a chain of references, not a cycle
        if not isinstance(node, Mapping):
            return {}
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            return node
        target: Any = root
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target
    return {}


def size(schema: Mapping[str, Any], key: str) -> int | None:
    """A count the schema sets (`minItems`, `maxLength`, ...), when it is a whole number."""
    value = schema.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def listed(schema: Mapping[str, Any], key: str) -> list[Any]:
    value = schema.get(key)
    return value if isinstance(value, list) else []


def properties_of(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = schema.get("properties")
    return properties if isinstance(properties, Mapping) else {}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _is(value: Any, kind: Any) -> bool:
    if not isinstance(kind, str):
        return False  # not a type name: nothing is of it
    if kind == "null":
        return value is None
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, ()))


class _Checker:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.budget = _BUDGET

    def problem(self, value: Any, node: Any, path: str, depth: int = 0) -> str | None:
        self.budget -= 1
        if self.budget < 0 or depth > _DEEPEST:
            return None  # too large (or too self-referring) to check: no note rather than a slow answer
        if node is False:
            return f"{path}: no value is allowed here"
        schema = resolve(node, self.root)
        found = self.own(value, schema, path)
        if found:
            return found
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options and all(self.problem(value, o, path, depth + 1) for o in options):
                return f"{path}: matches none of the {key} alternatives"
        for option in listed(schema, "allOf"):
            found = self.problem(value, option, path, depth + 1)
            if found:
                return found
        return self.members(value, schema, path, depth + 1)

    def own(self, value: Any, schema: Mapping[str, Any], path: str) -> str | None:
        """The rules on the value itself: type, const, enum, bounds."""
        kinds = schema.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if isinstance(kinds, list) and kinds and not any(_is(value, kind) for kind in kinds):
            return f"{path}: expected {' or '.join(map(str, kinds))}, got {_type_of(value)}"
        if "const" in schema and value != schema["const"]:
            return f"{path}: expected {schema['const']!r}"
        if isinstance(schema.get("enum"), list) and value not in schema["enum"]:
            return f"{path}: {value!r} is not one of {schema['enum']!r}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _bounds(value, schema, path)
        if isinstance(value, str):
            low, high = size(schema, "minLength"), size(schema, "maxLength")
            if low is not None and len(value) < low:
                return f"{path}: shorter than {low} characters"
            if high is not None and len(value) > high:
                return f"{path}: longer than {high} characters"
        return None

    def members(self, value: Any, schema: Mapping[str, Any], path: str, depth: int) -> str | None:
        """The rules on what an object or an array holds."""
        if isinstance(value, dict):
            properties = properties_of(schema)
            for key in listed(schema, "required"):
                if isinstance(key, str) and key not in value:
                    return f"{path}: '{key}' is required"
            for key, item in value.items():
                if key in properties:
                    found = self.problem(item, properties[key], f"{path}.{key}", depth)
                elif schema.get("additionalProperties") is False:
                    found = f"{path}: '{key}' is not allowed"
                elif isinstance(schema.get("additionalProperties"), Mapping):
                    found = self.problem(item, schema["additionalProperties"], f"{path}.{key}", depth)
                else:
                    found = None
                if found:
                    return found
        elif isinstance(value, list):
            low, high = size(schema, "minItems"), size(schema, "maxItems")
            if low is not None and len(value) < low:
                return f"{path}: fewer than {low} items"
            if high is not None and len(value) > high:
                return f"{path}: more than {high} items"
            prefix = listed(schema, "prefixItems")
            for index, item in enumerate(value):
                node = prefix[index] if index < len(prefix) else schema.get("items")
                found = self.problem(item, node, f"{path}[{index}]", depth) if node is not None else None
                if found:
                    return found
        return None


def _number(schema: Mapping[str, Any], key: str) -> float | None:
    value = schema.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _bounds(value: float, schema: Mapping[str, Any], path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path}: not a finite number"
    if (bound := _number(schema, "minimum")) is not None and value < bound:
        return f"{path}: {value!r} is below {bound!r}"
    if (bound := _number(schema, "maximum")) is not None and value > bound:
        return f"{path}: {value!r} is above {bound!r}"
    if (bound := _number(schema, "exclusiveMinimum")) is not None and value <= bound:
        return f"{path}: {value!r} is not above {bound!r}"
    if (bound := _number(schema, "exclusiveMaximum")) is not None and value >= bound:
        return f"{path}: {value!r} is not below {bound!r}"
    return None


def problem(value: Any, schema: Any) -> str | None:
    """The first way `value` breaks `schema` (`$.city: expected string, got integer`), or None when it is valid."""
    return _Checker(schema).problem(value, schema, "$")
