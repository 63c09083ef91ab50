"""Helpers shared by the tests: strict SSE parsing, strict SDK-model validation, optional OpenAPI checks, a
session of a running server and its journal, scenario problems, a headless browser."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
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

# --- request bodies ------------------------------------------------------------------------------------------

USER = [{"role": "user", "content": "hi"}]


def chat(model: str, stream: bool = True, **extra: Any) -> dict[str, Any]:
    """A chat request: one user message, "hi"."""
    return {"model": model, "messages": USER, "stream": stream, **extra}


def completion(model: str, stream: bool = True, **extra: Any) -> dict[str, Any]:
    """A legacy completions request."""
    return {"model": model, "prompt": "Say hello", "stream": stream, **extra}


def response_request(model: str, stream: bool = True, **extra: Any) -> dict[str, Any]:
    """A Responses request with a string input."""
    return {"model": model, "input": "hi", "stream": stream, **extra}


# Nine alias levels of nine-element lists: 341 bytes that stand for 387 million values.
LAUGHS = (
    "".join(
        f"{chr(97 + level)}: &{chr(97 + level)} [{','.join([f'*{chr(96 + level)}' if level else 'x'] * 9)}]\n"
        for level in range(9)
    )
    + "scenarios:\n  - {name: laughs, chunks: *i}\n"
)


def app_from_yaml(text: str, **settings: Any):
    result = load_text(text)
    result.raise_for_problems()
    return create_app(result.scenarios, Settings(**settings))


def problems(text: str) -> list[str]:
    """The problems of a YAML scenario text, as `s.yaml:LINE: message` lines."""
    return [str(problem) for problem in load_text(text, "s.yaml").problems]


async def error_of(response: Any, status: int | None = None, more: bool = False) -> dict[str, Any]:
    """The error object of an answer in the API's envelope, `{"error": {message, type, param, code}}` — with
    nothing else, or `more` keys after those four (the control API's `problems`); its status checked when given."""
    if status is not None:
        assert response.status == status, await response.text()
    data = await response.json()
    keys = list(data["error"]) if list(data) == ["error"] else []
    assert (keys[:4] if more else keys) == ["message", "type", "param", "code"], data
    error: dict[str, Any] = data["error"]
    return error


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
    return _without_nullable(json.loads(Path(path).read_text()))


def _without_nullable(node: Any) -> Any:
    """The document with OpenAPI 3.0's `nullable: true` (still used in places of this 3.1 document) written as
    JSON Schema says it: null among the allowed types."""
    if isinstance(node, list):
        return [_without_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _without_nullable(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            node["type"] = [*kind, "null"]
        elif kind is None:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _validator(schema_name: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = _openapi()
    assert spec is not None
    document = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", document)
    schema = {"$ref": f"urn:openapi#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry)


def validate_openapi(schema_name: str, data: Any) -> None:
    """Validate against a schema of the official OpenAPI document named by $OPENAI_OPENAPI_SPEC — every keyword
    JSON Schema has (additionalProperties, bounds, patterns, ...); skips the test when the document is not
    available."""
    if _openapi() is None:
        pytest.skip("OPENAI_OPENAPI_SPEC does not name the official openapi.json")
    errors = sorted(_validator(schema_name).iter_errors(data), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{error.json_path}: {error.message[:300]}" for error in errors[:10])


# --- a real browser ---------------------------------------------------------------------------------------------

# Debian's Chromium, headless, and quiet: without the background-networking flags it keeps trying to reach
# outside hosts. Playwright adds --headless and --user-data-dir itself (a fresh profile folder, below).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser() -> Any:
    """Playwright's sync API with Debian's Chromium at hand; otherwise a skip, or a failure when the
    environment says the browser must be there (MOCKSERVER_REQUIRE_BROWSER=1, as in CI)."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[browser]')")
    if shutil.which("chromium") is None:
        missing.append("Debian's chromium (apt-get install chromium)")
    if missing:
        reason = f"the page test needs {' and '.join(missing)}"
        if os.environ.get("MOCKSERVER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; MOCKSERVER_REQUIRE_BROWSER=1 says it must run")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    return sync_playwright
