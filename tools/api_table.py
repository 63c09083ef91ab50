"""Write `mockserver/wire/api_table.py`: the request parameters of each endpoint — JSON types, allowed values,
bounds — taken from the official OpenAPI document, so the request checks follow the API as it is published.

    python tools/api_table.py PATH/TO/openapi.json [OUTPUT]

Run it again when the API changes, and commit what it writes; a test checks that the committed table is what
the script makes of the document.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The request body of each endpoint, by the name the table gives it.
ENDPOINTS = {
    "CHAT": "CreateChatCompletionRequest",
    "COMPLETIONS": "CreateCompletionRequest",
    "RESPONSES": "CreateResponse",
}
OUTPUT = Path(__file__).resolve().parent.parent / "mockserver" / "wire" / "api_table.py"
_TYPES = ("boolean", "integer", "number", "string", "array", "object")


class Document:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.schemas: Mapping[str, Any] = spec["components"]["schemas"]

    def resolve(self, node: Any, seen: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The schema with its `$ref` and `allOf` merged in (keys given beside a `$ref` win)."""
        if not isinstance(node, Mapping):
            return {}
        node = dict(node)
        ref = node.pop("$ref", None)
        if isinstance(ref, str) and ref not in seen:
            node = {**self.resolve(self.schemas[ref.rsplit("/", 1)[-1]], seen | {ref}), **node}
        for part in node.pop("allOf", []):
            merged = self.resolve(part, seen)
            properties = {**merged.get("properties", {}), **node.get("properties", {})}
            required = [*merged.get("required", []), *node.get("required", [])]
            node = {**merged, **node, "properties": properties, "required": required}
        return node

    def branches(self, node: Mapping[str, Any], depth: int = 0) -> list[dict[str, Any]]:
        """The alternatives a value may take (anyOf / oneOf flattened), each resolved."""
        node = self.resolve(node)
        alternatives = node.get("anyOf") or node.get("oneOf")
        if not alternatives or depth > 4:
            return [node]
        shared = {key: value for key, value in node.items() if key not in ("anyOf", "oneOf")}
        found = []
        for branch in alternatives:
            found += self.branches({**shared, **self.resolve(branch)}, depth + 1)
        return found

    def param(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """What the checks need of one parameter: its types (null aside), values, bounds."""
        types: list[str] = []
        enums: list[str] = []
        open_string = False
        arrays: list[dict[str, Any]] = []
        entry: dict[str, Any] = {}
        for branch in self.branches(node):
            kinds = branch.get("type")
            kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
            if not kinds and "enum" in branch:
                kinds = ["string"]
            for kind in kinds:
                if kind in _TYPES and kind not in types:
                    types.append(kind)
            if "string" in kinds:
                values = [value for value in branch.get("enum", []) if isinstance(value, str)]
                if values:
                    enums += [value for value in values if value not in enums]
                else:
                    open_string = True
                if "maxLength" in branch:
                    entry["max_length"] = branch["maxLength"]
            if kinds and {"integer", "number"} & set(kinds):
                for key in ("minimum", "maximum"):
                    if key in branch:
                        entry[key] = branch[key]
            if "array" in kinds:
                arrays.append(branch)
        for key, name, pick in (("minItems", "min_items", min), ("maxItems", "max_items", max)):
            if arrays and all(key in branch for branch in arrays):  # a bound only when every array form has it
                entry[name] = pick(branch[key] for branch in arrays)
        if not types:  # any JSON value
            types = list(_TYPES)
        entry = {"types": tuple(types), **({"enum": tuple(enums)} if enums and not open_string else {}), **entry}
        return entry

    def properties(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """The properties of an object schema, each the union of what every branch that declares it says."""
        found: dict[str, list[Any]] = {}
        for branch in self.branches(node):
            for member, inner in branch.get("properties", {}).items():
                found.setdefault(member, []).append(inner)
        return {member: nodes[0] if len(nodes) == 1 else {"anyOf": nodes} for member, nodes in found.items()}

    def table(self, name: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Every parameter of a request body (`key`, and `key.member` one level down), and the required ones."""
        body = self.resolve(self.schemas[name])
        table: dict[str, dict[str, Any]] = {}
        for key, node in sorted(body.get("properties", {}).items()):
            table[key] = self.param(node)
            if table[key]["types"] == ("object",):
                for member, inner in sorted(self.properties(node).items()):
                    table[f"{key}.{member}"] = self.param(inner)
        return table, list(dict.fromkeys(body.get("required", [])))

    def items(self, name: str) -> dict[str, tuple[list[str], dict[str, dict[str, Any]]]]:
        """Each kind of input item of a union (by its `type`; messages aside, whose forms share one), with its
        required members (`type` aside) and its members' types."""
        found: dict[str, tuple[list[str], dict[str, dict[str, Any]]]] = {}
        for branch in self.branches(self.schemas[name]):
            kind = branch.get("properties", {}).get("type", {})
            kinds = [value for form in self.branches(kind) for value in form.get("enum", [])]
            if not kinds or kinds[0] == "message" or kinds[0] in found:
                continue
            members = {
                member: self.param(inner)
                for member, inner in sorted(branch.get("properties", {}).items())
                if member != "type"
            }
            # The document requires a few members it never defines (`request_id` of an MCP approval response):
            # only the members it describes are required.
            required = [member for member in branch.get("required", []) if member in members]
            found[kinds[0]] = (required, members)
        return dict(sorted(found.items()))


def _text(value: Any) -> str:
    """A value as Python source in the house style (double quotes, one-element tuples with their comma)."""
    if isinstance(value, tuple):
        inner = ", ".join(_text(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _literal(entry: Mapping[str, Any]) -> str:
    parts = [_text(entry["types"])]
    keys = ("enum", "minimum", "maximum", "min_items", "max_items", "max_length")
    parts += [f"{key}={_text(entry[key])}" for key in keys if key in entry]
    return f"P({', '.join(parts)})"


def _entry(key: str, entry: Mapping[str, Any]) -> str:
    """One line of a table, folded as the formatter folds it when it is too long."""
    line = f"    {json.dumps(key)}: {_literal(entry)},"
    if len(line) <= 120:
        return line
    return f"    {json.dumps(key)}: P(\n        {_literal(entry)[2:-1]}\n    ),"


def render(spec: Mapping[str, Any]) -> str:
    document = Document(spec)
    version = spec.get("info", {}).get("version", "?")
    lines = [
        f'"""The request parameters of each endpoint, from the official OpenAPI document (version {version}):',
        "their JSON types (null aside), allowed values and bounds, `key.member` one level into objects.",
        "",
        "Written by tools/api_table.py; run it again when the API changes, never edit this file by hand.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import NamedTuple",
        "",
        "",
        "class P(NamedTuple):",
        '    """One parameter: the JSON types it may have, and the rules of each."""',
        "",
        "    types: tuple[str, ...]",
        "    enum: tuple[str, ...] = ()  # the values a string may take (empty: any)",
        "    minimum: float | None = None",
        "    maximum: float | None = None",
        "    min_items: int | None = None",
        "    max_items: int | None = None",
        "    max_length: int | None = None",
        "",
    ]
    for label, name in ENDPOINTS.items():
        table, required = document.table(name)
        lines += ["", f"{label}_REQUIRED = {_text(tuple(required))}", f"{label}: dict[str, P] = {{"]
        lines += [_entry(key, entry) for key, entry in table.items()]
        lines.append("}")
    items = document.items("InputItem")
    lines += [
        "",
        "# The input items of Responses (and of a conversation) but messages (their forms share one type), by their",
        "# `type`: the members each kind requires, and the members' types.",
        "ITEM_REQUIRED: dict[str, tuple[str, ...]] = {",
    ]
    lines += [f"    {json.dumps(kind)}: {_text(tuple(required))}," for kind, (required, _) in items.items()]
    lines += ["}", "ITEMS: dict[str, P] = {"]
    for kind, (_, members) in items.items():
        lines += [_entry(f"{kind}.{member}", entry) for member, entry in members.items()]
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    output = Path(argv[1]) if len(argv) == 2 else OUTPUT
    output.write_text(render(spec), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
