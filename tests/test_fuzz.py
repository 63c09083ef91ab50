"""Fuzzing, on a fixed time budget: request bodies, headers and paths against a running server, and scenario files
against the loader and the renderers.

Each target runs twice: with a fixed seed (the same inputs every run) and with a random one, shown in the test's
id — `MOCKSERVER_FUZZ_SEED=N` replays it. A run fails on any 5xx, any answer that is not the API's error envelope
when it is an error, any logged traceback or error, and any loader exception or problem that is not a
`file:line: message`. `MOCKSERVER_FUZZ_SECONDS` sets the budget of each run (default 6 s).
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import os
import random
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from mockserver import load_text
from mockserver.engine.plan import make_plans
from mockserver.scenario.answers import STEP_KEYS
from mockserver.scenario.model import Answer, ErrorReply, Scenario
from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app
from mockserver.wire import chat, completions, responses
from mockserver.wire.errors import scripted_error

T = TypeVar("T")
BUDGET_S = float(os.environ.get("MOCKSERVER_FUZZ_SECONDS", "6"))
FIXED_SEED = 20_260_101
RANDOM_SEED = int(os.environ.get("MOCKSERVER_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
SEEDS = pytest.mark.parametrize("fuzz_seed", [FIXED_SEED, RANDOM_SEED], ids=["fixed", f"random-{RANDOM_SEED}"])


def fuzz(draw: Callable[[st.DataObject], T], act: Callable[[T], None], fuzz_seed: int) -> int:
    """Act on inputs drawn from `fuzz_seed` for about BUDGET_S seconds; the number of inputs acted on.

    Hypothesis has no time budget of its own: a short first run measures what an example costs, the second asks
    for as many as the budget holds (the same seed: the first examples come again, then new ones). Past the
    budget inputs are still drawn, so that generation stays the same from run to run, but not acted on — unless
    one has failed: shrinking it must act."""
    deadline = time.monotonic() + BUDGET_S
    acted = 0
    failed = False

    def example(data: st.DataObject) -> None:
        nonlocal acted, failed
        inputs = draw(data)
        if failed or time.monotonic() < deadline:
            acted += 1
            try:
                act(inputs)
            except BaseException:
                failed = True
                raise

    def run(examples: int) -> None:
        options = settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        )
        options(seed(fuzz_seed)(given(st.data())(example)))()

    started = time.monotonic()
    run(CALIBRATION)
    each = (time.monotonic() - started) / max(acted, 1)
    run(max(CALIBRATION, min(MAX_EXAMPLES, int(BUDGET_S / max(each, 1e-4)))))
    return acted


CALIBRATION = 30
MAX_EXAMPLES = 20_000

# Scenarios with no 5xx of their own: any 5xx the request fuzz sees is the server's.
SERVED = """
scenarios:
  - {name: default, text: "Hello there, fuzz."}
  - {name: tools, tool_calls: [{name: f, arguments: {a: 1}}, {name: g, arguments: "{}"}]}
  - {name: both, choices: [{text: one}, {refusal: "no"}], usage: {prompt_tokens: 3}}
  - {name: think, reasoning: "hmm", chunks: ["a", {content: "b", logprob: -0.5}, {keepalive: true}, {end: true}]}
  - name: limited
    sequence:
      - error: {status: 429, retry_after: 0.001}
      - text: recovered
"""
MODELS = ["default", "tools", "both", "think", "limited", "gpt-4o", "missing"]
PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/responses"]
ERROR_KEYS = ["message", "type", "param", "code"]


class Errors(logging.Handler):
    """Every record at ERROR or above, and every record with a traceback, of any logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(make_app(SERVED, speed=0, journal_size=200)) as running:
        yield running


@pytest.fixture
def errors() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# --- request bodies ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)
roles = st.sampled_from(["user", "system", "assistant", "tool", "developer", "function", "robot"]) | json_values
parts = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "input_text", "image_url"])}, optional={"text": json_values}
)
contents = st.text(max_size=40) | st.lists(parts | json_values, max_size=3) | json_values
messages = st.lists(
    st.fixed_dictionaries(
        {}, optional={"role": roles, "content": contents, "name": json_values, "tool_calls": json_values}
    )
    | json_values,
    max_size=4,
)
PARAMS = {
    "stream": st.booleans() | json_values,
    "stream_options": st.fixed_dictionaries(
        {}, optional={"include_usage": st.booleans(), "include_obfuscation": json_values}
    )
    | json_values,
    "n": st.integers(-2, 200) | json_values,
    "max_tokens": st.integers(-5, 50) | json_values,
    "max_completion_tokens": st.integers(-5, 50) | json_values,
    "max_output_tokens": st.integers(0, 50) | json_values,
    "logprobs": st.booleans() | st.integers(-1, 10) | json_values,
    "top_logprobs": st.integers(-1, 30) | json_values,
    "echo": st.booleans() | json_values,
    "prompt": st.text(max_size=30) | st.lists(st.text(max_size=10) | st.integers(0, 50000), max_size=4) | json_values,
    "input": st.text(max_size=30) | st.lists(json_values, max_size=3) | json_values,
    "instructions": st.text(max_size=20) | json_values,
    "tools": st.lists(
        st.fixed_dictionaries({"type": st.sampled_from(["function", "web_search"])}, optional={"name": json_values})
        | json_values,
        max_size=2,
    ),
    "include": st.lists(st.sampled_from(["message.output_text.logprobs", "x"]), max_size=2) | json_values,
    "reasoning": json_values,
    "text": json_values,
    "metadata": json_values,
    "temperature": json_values,
}
bodies = st.fixed_dictionaries(
    {},
    optional={"model": st.sampled_from(MODELS) | json_values, "messages": messages, **PARAMS},
)


def mutate(data: st.DataObject, raw: bytes) -> tuple[bytes, dict[str, str]]:
    """Break a body in one of the ways clients and attackers do; the headers that go with it."""
    how = data.draw(
        st.sampled_from(["none", "none", "truncate", "insert", "duplicate", "gzip", "bad-gzip", "surrogate"])
    )
    if how == "truncate" and raw:
        return raw[: data.draw(st.integers(0, len(raw) - 1))], {}
    if how == "insert":
        at = data.draw(st.integers(0, len(raw)))
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=4)) + raw[at:], {}
    if how == "duplicate" and raw.startswith(b"{") and len(raw) > 2:
        return b'{"model": "default", ' + raw[1:], {}
    if how == "gzip":
        return gzip.compress(raw), {"Content-Encoding": "gzip"}
    if how == "bad-gzip":
        return gzip.compress(raw)[:-3], {"Content-Encoding": data.draw(st.sampled_from(["gzip", "deflate", "br", "x"]))}
    if how == "surrogate":
        return raw.replace(b"e", b"\xed\xa0\x80", 1), {}
    return raw, {}


# Header values HTTP allows (visible ASCII, space, tab and bytes of 0x80 and above): whether they are UTF-8 is up to us.
header_values = st.binary(max_size=12).map(lambda value: bytes(b for b in value if b == 9 or 32 <= b < 127 or b >= 128))
sessions = st.sampled_from(["", "s1", "s-2", "a%2Fb", "..", "%41", "x" * 130]) | st.from_regex(
    r"[A-Za-z0-9._~%-]{1,8}", fullmatch=True
)


def check_answer(status: int, headers: http.client.HTTPMessage, body: bytes, what: str) -> None:
    assert status < 500, f"{status} for {what}: {body[:300]!r}"
    if status >= 400:
        envelope = json.loads(body)
        assert list(envelope) == ["error"], what
        assert list(envelope["error"])[:4] == ERROR_KEYS, what
        assert isinstance(envelope["error"]["message"], str), what
    elif headers.get_content_type() == "application/json":
        json.loads(body)
    else:
        assert headers.get_content_type() == "text/event-stream", what


@dataclass
class Request:
    path: str
    headers: dict[str, str | bytes]
    body: bytes


def draw_request(data: st.DataObject) -> Request:
    body: Any = data.draw(bodies | json_values)
    raw, headers = mutate(data, json.dumps(body).encode())
    session = data.draw(sessions)
    path = (f"/session/{session}" if session else "") + data.draw(st.sampled_from(PATHS))
    names = st.sampled_from(["X-Mock-Scenario", "X-Mock-Session", "Authorization"])
    extra = data.draw(st.dictionaries(names, header_values, max_size=2))
    return Request(path, {"Content-Type": "application/json", **headers, **extra}, raw)


@SEEDS
def test_request_fuzz(server: BackgroundServer, errors: Errors, fuzz_seed: int) -> None:
    host, port = "127.0.0.1", server.port
    connection = http.client.HTTPConnection(host, port, timeout=10)

    def send(request: Request) -> None:
        nonlocal connection
        connection.putrequest("POST", request.path, skip_accept_encoding=True)
        for name, value in request.headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body)
        response = connection.getresponse()
        answer = response.read()
        check_answer(response.status, response.headers, answer, repr(request))
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=10)
        assert not errors.records, f"{request!r}: {errors.records[0].getMessage()}"

    assert fuzz(draw_request, send, fuzz_seed) > CALIBRATION
    connection.close()
    listing = http.client.HTTPConnection(host, port, timeout=10)
    listing.request("GET", "/_mock/requests")
    journal = listing.getresponse()
    assert journal.status == 200 and json.loads(journal.read())["requests"]  # the journal still renders
    listing.close()


# --- scenario files ------------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 2000)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.dates()
    | st.sampled_from(["stop", "length", "tool_calls", "content_filter", "gpt-4o*", "poem"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
CHUNK_ITEMS = st.one_of(
    st.text(max_size=8),
    st.fixed_dictionaries(
        {},
        optional={
            key: values
            for key in (
                "content",
                "delay_ms",
                "logprob",
                "stall_ms",
                "raw",
                "error",
                "disconnect",
                "end",
                "keepalive",
                "standalone",
            )
        },
    ),
)
STEP_VALUES: dict[str, Any] = {
    "text": st.text(max_size=30),
    "chunks": st.lists(CHUNK_ITEMS, max_size=5),
    "tool_calls": st.lists(
        st.fixed_dictionaries({"name": st.text(min_size=1, max_size=5)}, optional={"arguments": values, "id": values}),
        max_size=2,
    ),
    "error": st.fixed_dictionaries(
        {"status": st.integers(390, 610) | values},
        optional={
            key: values for key in ("message", "type", "code", "param", "retry_after", "retry_after_ms", "headers")
        },
    ),
    "usage": st.fixed_dictionaries({}, optional={"prompt_tokens": values, "completion_tokens": values}),
    "chaos": st.dictionaries(
        st.sampled_from(["rate_limit", "stall", "stall_ms", "retry_after", "bogus"]), values, max_size=2
    ),
}
steps = st.fixed_dictionaries({}, optional={key: STEP_VALUES.get(key, values) for key in STEP_KEYS})
scenario_items = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=8) | values},
    optional={
        "description": values,
        "match": st.dictionaries(st.sampled_from(["model", "contains", "regex"]), values, max_size=2),
        "sequence": st.lists(steps, max_size=3),
    },
).flatmap(lambda head: steps.map(lambda step: {**head, **step}))
HOSTILE = [
    "&a [x, x, x]",
    "*a",
    "[" * 150,
    "- " * 120,
    "9" * 4400,
    "0x" + "f" * 400,
    '"\\ud800"',
    '"\\ud83d\\ude00"',
    "!!binary aGk=",
    "!!timestamp 2024-13-45",
    "<<: *a",
    "{a: 1, a: 2}",
    ".inf",
    "1.0e+308",
    "!!python/object:os.system {}",
    "? [a]\n: b",
    "\x00",
    "\x1b[31m",
    "\ufeff",
    "'a{99999999999}'",
    "---",
    "&a x\nb: &a y",
    "*nowhere",
    "\t",
    "%YAML 1.1",
]


def scenario_text(data: st.DataObject) -> str:
    document = {"scenarios": data.draw(st.lists(scenario_items, max_size=3))}
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    for _ in range(data.draw(st.integers(0, 3))):
        how = data.draw(st.sampled_from(["hostile", "char", "truncate"]))
        at = data.draw(st.integers(0, len(text)))
        if how == "hostile":
            text = text[:at] + data.draw(st.sampled_from(HOSTILE)) + text[at:]
        elif how == "char":
            text = (
                text[:at]
                + data.draw(st.characters(codec="utf-8") | st.sampled_from(list(string.printable)))
                + text[at:]
            )
        else:
            text = text[:at]
    return text


def render(scenario: Scenario) -> None:
    """Every step of a loaded scenario rendered by every wire format, streamed and whole, without the clock."""
    for step in scenario.steps:
        if isinstance(step, ErrorReply):
            scripted_error(step, scenario.name).body()
            continue
        assert isinstance(step, Answer)
        for wire, body in (
            (chat, {"model": scenario.name, "messages": [{"role": "user", "content": "hi"}], "n": 2, "logprobs": True}),
            (completions, {"model": scenario.name, "prompt": "hi", "echo": True, "logprobs": 2}),
            (responses, {"model": scenario.name, "input": "hi"}),
        ):
            for stream in (True, False):
                ask = wire.parse_request({**body, "stream": stream})
                plans = make_plans(step, ask, 0, random.Random(0))
                envelope = wire.make_envelope(plans, random.Random(0))
                b"".join(due.data for due in wire.stream_events(plans, ask, envelope))
                wire.completion_body(plans, ask, envelope)


@SEEDS
def test_scenario_file_fuzz(fuzz_seed: int) -> None:
    def draw(data: st.DataObject) -> tuple[str, bool]:
        return scenario_text(data), data.draw(st.booleans())

    def load(inputs: tuple[str, bool]) -> None:
        text, snippet = inputs
        started = time.monotonic()
        result = load_text(text, "f.yaml", snippet=snippet)
        assert time.monotonic() - started < 5, text
        for problem in result.problems:
            assert str(problem).startswith("f.yaml") and problem.line >= 0, (text, problem)
            assert problem.message.isprintable(), (text, problem)
        if not result.problems:
            for scenario in result.scenarios:
                render(scenario)

    assert fuzz(draw, load, fuzz_seed) > CALIBRATION
