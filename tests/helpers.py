"""Helpers shared by the tests: strict SSE parsing, strict SDK-model validation, optional OpenAPI checks, a
session of a running server and its journal, scenario problems."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from mockserver import Settings, create_app, load_text

EVENT = re.compile(rb"data: ([^\n]*)\n\n")


def app_from_yaml(text: str, **settings: Any):
    result = load_text(text)
    result.raise_for_problems()
    return create_app(result.scenarios, Settings(**settings))


def problems(text: str) -> list[str]:
    """The problems of a YAML scenario text, as `s.yaml:LINE: message` lines."""
    return [str(problem) for problem in load_text(text, "s.yaml").problems]


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class Session:
    """A session of its own on a running server: its own sequence counts and journal, behind its own base URL."""

    root_url: str
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/session/{self.name}/v1"

    def control(self, route: str) -> Any:
        """GET `/_mock/ROUTE` for this session."""
        return get_json(f"{self.root_url}/_mock/{route}?{urllib.parse.urlencode({'session': self.name})}")

    def journal(self) -> list[dict[str, Any]]:
        return self.control("requests")["requests"]

    def ended_journal(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The journal once no entry is in progress: the server notices a client that left a moment later."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.journal()
            if all(entry["ended"] != "in progress" for entry in entries):
                return entries
            assert time.monotonic() < deadline, f"requests still in progress after {timeout} s: {entries}"
            time.sleep(0.05)

    def requests_to(self, scenario: str) -> list[dict[str, Any]]:
        return [entry for entry in self.journal() if entry["scenario"] == scenario]


def sse_payloads(body: bytes) -> list[str]:
    """The `data:` payloads of a chat stream, checking its framing: nothing but `data: ...` lines, each
    followed by a blank line, ending with `data: [DONE]`."""
    position = 0
    payloads = []
    for match in EVENT.finditer(body):
        assert match.start() == position, f"unexpected bytes at {position}: {body[position : match.start()]!r}"
        payloads.append(match.group(1).decode())
        position = match.end()
    assert position == len(body), f"trailing bytes: {body[position:]!r}"
    assert payloads and payloads[-1] == "[DONE]", "the stream must end with data: [DONE]"
    assert "[DONE]" not in payloads[:-1]
    return payloads


def sse_chunks(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(payload) for payload in sse_payloads(body)[:-1]]


def assert_known_fields(model: BaseModel, path: str = "$") -> None:
    """Every field we sent is one the SDK's model declares (pydantic keeps unknown ones in `model_extra`)."""
    extra = model.model_extra or {}
    assert not extra, f"{path}: fields unknown to {type(model).__name__}: {sorted(extra)}"
    for name in type(model).model_fields:
        _check_value(getattr(model, name), f"{path}.{name}")


def _check_value(value: Any, path: str) -> None:
    if isinstance(value, BaseModel):
        assert_known_fields(value, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]")


def validate_sdk(model_cls: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    model = model_cls.model_validate(data)
    assert_known_fields(model)
    return model


# --- the official OpenAPI document, when it is available ---------------------------------------------------


@cache
def _openapi() -> dict[str, Any] | None:
    path = os.environ.get("OPENAI_OPENAPI_SPEC")
    if not path or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text())


def validate_openapi(schema_name: str, data: Any) -> None:
    """Validate against a schema of the official OpenAPI document named by $OPENAI_OPENAPI_SPEC; skips the
    test when the document is not available."""
    spec = _openapi()
    if spec is None:
        pytest.skip("OPENAI_OPENAPI_SPEC does not name the official openapi.json")
    problems = _schema_problems(spec, {"$ref": f"#/components/schemas/{schema_name}"}, data, "$")
    assert not problems, "\n".join(problems)


def _schema_problems(spec: dict[str, Any], schema: dict[str, Any], data: Any, path: str) -> list[str]:
    """A small JSON-schema check: $ref, type, nullable, enum, properties, required, items, anyOf/oneOf/allOf."""
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    if data is None and (schema.get("nullable") or "null" in _types(schema)):
        return []
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [_schema_problems(spec, option, data, path) for option in schema[key]]
            if all(options):
                return [f"{path}: matches none of {key}: " + "; ".join(problem[0] for problem in options)]
    problems = []
    for part in schema.get("allOf", []):
        problems += _schema_problems(spec, part, data, path)
    types = _types(schema)
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    if types and not any(checks[t](data) for t in types if t in checks):
        return [*problems, f"{path}: expected {'/'.join(types)}, got {data!r:.80}"]
    if "enum" in schema and data not in schema["enum"]:
        problems.append(f"{path}: {data!r} not in {schema['enum']}")
    if isinstance(data, dict):
        for key in schema.get("required", []):
            if key not in data:
                problems.append(f"{path}: missing required '{key}'")
        properties = schema.get("properties", {})
        for key, value in data.items():
            if key in properties:
                problems += _schema_problems(spec, properties[key], value, f"{path}.{key}")
    if isinstance(data, list) and "items" in schema:
        for index, item in enumerate(data):
            problems += _schema_problems(spec, schema["items"], item, f"{path}[{index}]")
    return problems


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])
