"""JSON made from a JSON Schema is valid for it — every keyword structured output uses — deterministic for a
schema and seed, and bounded whatever the schema; the checker says where a value misses its schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockserver.engine.schema_check import problem
from mockserver.engine.schema_values import generate
from mockserver.wire.tools_request import strict_problem

SCHEMAS: dict[str, Any] = {
    "types": {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "n": {"type": "number"},
            "b": {"type": "boolean"},
            "z": {"type": "null"},
            "list": {"type": "array", "items": {"type": "integer"}},
        },
        "required": ["s", "i", "n", "b", "z", "list"],
    },
    "bounds": {
        "type": "object",
        "properties": {
            "age": {"type": "integer", "minimum": 18, "maximum": 21},
            "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "step": {"type": "integer", "multipleOf": 5, "minimum": 7, "maximum": 30},
            "code": {"type": "string", "minLength": 12, "maxLength": 14},
            "short": {"type": "string", "maxLength": 2},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
        },
        "required": ["age", "score", "step", "code", "short", "tags"],
    },
    "values": {
        "type": "object",
        "properties": {
            "unit": {"enum": ["c", "f"]},
            "kind": {"const": "report"},
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
            "mail": {"type": "string", "format": "email"},
        },
        "required": ["unit", "kind", "when", "id", "mail"],
    },
    "refs and choices": {
        "type": "object",
        "properties": {
            "where": {"$ref": "#/$defs/Place"},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 2},
        },
        "required": ["where", "maybe", "either", "both", "pair"],
        "additionalProperties": False,
        "$defs": {"Place": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}},
    },
    "recursive": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}, "parent": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
        "required": ["name", "children", "parent"],
    },
    "type list and dict": {
        "type": "object",
        "properties": {"t": {"type": ["string", "null"]}, "d": {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2}},
        "required": ["t", "d"],
    },
}  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS.values(), ids=SCHEMAS.keys())
def test_generated_values_are_valid(schema: Any) -> None:
    for seed in range(5):
        value = generate(schema, seed)
        assert problem(value, schema) is None, (seed, value)
        assert json.loads(json.dumps(value)) == value


def test_the_same_schema_and_seed_give_the_same_value() -> None:
    schema = SCHEMAS["types"]
    assert generate(schema, 3) == generate(dict(reversed(list(schema.items()))), 3)
    assert len({json.dumps(generate(schema, seed)) for seed in range(5)}) > 1


def test_members_keep_the_schema_order_and_optional_ones_are_made_near_the_top() -> None:
    schema = {"type": "object", "properties": {"z": {"type": "string"}, "a": {"type": "integer"}}}
    assert list(generate(schema)) == ["z", "a"]


def test_odd_schemas_give_a_bounded_answer() -> None:
    assert generate({"type": "array", "minItems": 10**9, "items": {"type": "integer"}}) is not None
    assert len(generate({"type": "array", "minItems": 10**9})) == 64
    assert len(generate({"type": "string", "minLength": 10**9})) <= 4200
    assert generate({"$ref": "#/nowhere"}) is not None  # a reference to nothing reads as any value
    endless = {"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]}
    depth, value = 0, generate(endless)
    while isinstance(value, dict):
        value, depth = value["next"], depth + 1
    assert depth < 60  # a schema that cannot end is cut off
    assert generate({"type": "integer", "minimum": 0.5, "maximum": 0.7}) == 1  # nothing fits: the nearest


def test_the_checker_names_the_first_problem() -> None:
    schema = SCHEMAS["refs and choices"]
    good = {"where": {"city": "x"}, "maybe": None, "either": 1, "both": {"a": "x", "b": 1}, "pair": ["x", 1]}
    assert problem(good, schema) is None
    assert problem({**good, "where": {"city": 1}}, schema) == "$.where.city: expected string, got integer"
    assert problem({**good, "where": {"city": "x", "zip": 1}}, schema) == "$.where: 'zip' is not allowed"
    assert problem({**good, "pair": ["x", "y"]}, schema) == "$.pair[1]: expected integer, got string"
    assert problem({"where": {"city": "x"}}, schema) == "$: 'maybe' is required"
    assert problem([], {"type": "array", "minItems": 1}) == "$: fewer than 1 items"
    assert problem(5, {"type": "integer", "maximum": 3}) == "$: 5 is above 3"
    assert problem("c", {"enum": ["a", "b"]}) == "$: 'c' is not one of ['a', 'b']"
    assert problem(1, {"anyOf": [{"type": "string"}, {"type": "null"}]}) == "$: matches none of the anyOf alternatives"


def test_strict_schemas_must_close_every_object_and_require_every_property() -> None:
    closed = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert strict_problem(closed) is None
    nested = {**closed, "properties": {"a": {"type": "array", "items": {"type": "object", "properties": {}}}}}
    assert (
        strict_problem(nested)
        == "In context=('properties', 'a', 'items'), 'additionalProperties' is required to be supplied and to be false."
    )
    defs = {
        **closed,
        "$defs": {"Place": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": False}},
    }
    assert (
        strict_problem(defs)
        == "In context=('$defs', 'Place'), 'required' is required to be supplied and to be an array including every key in properties. Missing 'x'."
    )
