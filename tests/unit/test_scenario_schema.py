"""The JSON Schema for editors (scenarios/scenario.schema.json) agrees with the loader: it is a valid
draft-07 schema, it accepts every scenario file the repository ships or documents, and it rejects a corpus of bad
files that the loader rejects too.

What the schema cannot express, so the loader alone reports it and the corpus leaves it out:

- duplicate scenario names, within a file or across files;
- duplicate keys in one mapping (a YAML matter: PyYAML keeps the last one; yaml-language-server reports them itself);
- anything after a chunk that ends the stream (error, disconnect, end), and tool_calls after such a chunk;
- chaos probabilities that add up to more than 1;
- a `match.regex` that is not a valid Python regular expression;
- a `retry_after` text that is not an HTTP date;
- a close `reason` longer than 123 bytes of UTF-8, or given with 1005 or 1006 (which send no reason);
- a whole number written with a fraction (`status: 429.0`, `prompt_tokens: 3.0`): draft-07's integer allows it;
- a rate-limit window of no time at all (`5/0s`);
- YAML values JSON has no form for (a date, binary data) inside tool-call arguments;
- a file nested more than 100 levels deep, or whose aliases expand it past 2,000,000 values.
- a `continues` item that names no scenario above it in its list;
- an `arguments` item with no `tool_call` item before it, and `tool_call` items beside `tool_calls`.

`test_what_only_the_loader_catches` holds one file for each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from mockserver.scenario.load import BUNDLED, load_paths, load_text

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = ROOT / "scenarios" / "scenario.schema.json"
MODELINE = "# yaml-language-server: $schema=./scenario.schema.json"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCED_YAML = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema.Draft7Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def schema_errors(validator: Any, text: str) -> list[str]:
    """What the schema finds wrong in a YAML text, one line per error."""
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(file)'}: {error.message}"
        for error in validator.iter_errors(yaml.safe_load(text))
    ]


def loader_problems(text: str) -> list[str]:
    return [str(problem) for problem in load_text(text, "s.yaml").problems]


def test_the_schema_is_a_valid_draft_7_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


def test_every_property_has_a_description() -> None:
    """Editors show a property's description on hover; a property that only refers elsewhere gets its
    description from there."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

    def walk(node: Any, path: str) -> list[str]:
        missing = []
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
                    missing.append(f"{path}/properties/{name}")
            for key, sub in node.items():
                missing += walk(sub, f"{path}/{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                missing += walk(sub, f"{path}/{index}")
        return missing

    assert walk(schema, "#") == []


BUNDLED_FILES = sorted(BUNDLED.glob("*.yaml"))


def test_there_are_bundled_files() -> None:
    assert len(BUNDLED_FILES) >= 5


@pytest.mark.parametrize("path", [*BUNDLED_FILES, ROOT / "bench" / "scenarios.yaml"], ids=lambda path: path.name)
def test_repository_files_validate_and_load(validator: Any, path: Path) -> None:
    assert schema_errors(validator, path.read_text(encoding="utf-8")) == []
    result = load_paths([path])
    assert result.problems == []
    assert result.scenarios


@pytest.mark.parametrize("path", BUNDLED_FILES, ids=lambda path: path.name)
def test_bundled_files_name_the_schema(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == MODELINE
    assert (path.parent / first_line.partition("$schema=")[2]).resolve() == SCHEMA_PATH


def documented_files() -> list[Any]:
    """The fenced YAML blocks of the documentation that are scenario files (they have `scenarios:`), and the
    lists of scenarios that the loader accepts as a snippet, put into a file."""
    found = []
    for document in DOCUMENTS:
        for index, block in enumerate(FENCED_YAML.findall(document.read_text(encoding="utf-8"))):
            data = yaml.safe_load(block)
            if isinstance(data, dict) and "scenarios" in data:
                text = block
            elif isinstance(data, list) and not load_text(block, snippet=True).problems:
                text = yaml.safe_dump({"scenarios": data}, allow_unicode=True)
            else:
                continue
            found.append(pytest.param(text, id=f"{document.name}-{index + 1}"))
    return found


DOCUMENTED = documented_files()


def test_the_documentation_shows_scenario_files() -> None:
    assert len(DOCUMENTED) >= 8


@pytest.mark.parametrize("text", DOCUMENTED)
def test_documented_files_validate_and_load(validator: Any, text: str) -> None:
    assert schema_errors(validator, text) == []
    assert loader_problems(text) == []


# Files the loader accepts at the edges of the format, which the schema must not reject.
GOOD = {
    "empty list": "scenarios: []\n",
    "version as 1.0": "version: 1.0\nscenarios: []\n",
    "empty answers": "scenarios:\n  - {name: a, text: ''}\n  - {name: b, chunks: []}\n",
    "match holding for every request": "scenarios:\n  - {name: a, text: x, match: {}}\n",
    "every chunk kind": """scenarios:
  - name: a
    chunks:
      - plain
      - {content: x, delay_ms: 0, logprob: 0}
      - {keepalive: true, delay_ms: 100}
      - {stall_ms: 0}
      - {raw: "data: x\\n\\n", delay_ms: 5}
      - {error: true, standalone: true, delay_ms: 1}
  - {name: b, chunks: [{disconnect: true}]}
  - {name: c, chunks: [{end: true, delay_ms: 2}]}
  - {name: d, chunks: [{error: {message: m, type: t, code: null, param: null}}]}
  - {name: e, chunks: [{error: {status: 429, code: insufficient_quota}}], raw_reasoning: true}
""",
    "every error field": """scenarios:
  - name: a
    latency_ms: 10
    jitter_ms: 5
    error:
      status: 599
      message: m
      type: t
      code: null
      param: p
      retry_after: "Wed, 21 Oct 2026 07:28:00 GMT"
      retry_after_ms: 0
      headers: {x-should-retry: "false", retry-after: 2, X-Odd_Name.1: "1.5"}
""",
    "sequence with inherited settings": """scenarios:
  - name: a
    finish_reason: length
    ttft_ms: 5
    usage: {}
    model: gpt-4o-2024-08-06
    chaos: {rate_limit: 0.5, error_event: 0.5, stall_ms: 0, retry_after: 0}
    sequence:
      - error: {status: 429}
        latency_ms: 1
      - {choices: [{text: a, finish_reason: stop}, {reasoning: r, tool_calls: [{name: f}]}], interval_ms: 1}
      - {refusal: "no", reasoning: r, usage: {prompt_tokens: 0, completion_tokens: 3}}
""",
    "tool calls": """scenarios:
  - name: a
    text: first
    tool_calls:
      - {name: f, arguments: {a: [1, {b: null}]}, id: ""}
      - {name: g, arguments: '{"x": 1}'}
""",
    "endpoint answers and a quota": """scenarios:
  - name: a
    rate_limit: {requests: 5/min, tokens: 40000/10s}
    embeddings: [0.1, -2, 0]
    moderation: {flagged: [violence, self-harm/intent], scores: {violence: 0.9, hate: 0}}
  - name: b
    rate_limit: {requests: 100/day, tokens: null}
    embeddings: [[1, 0], [0, 1.5]]
    moderation: [{}, {flagged: []}, {scores: {illicit/violent: 1}}]
    sequence:
      - text: a
      - embeddings: [1]
      - moderation: {flagged: [hate]}
  - {name: c, rate_limit: {}, text: x}
""",
    "no body: what the request requires": "scenarios:\n  - name: s\n  - {name: t, ttft_ms: 5, match: {}}\n",
    "a step without a body": "scenarios:\n  - name: s\n    sequence:\n      - ttft_ms: 5\n      - text: b\n",
    "agent rules": """scenarios:
  - name: a
    accept_unknown_params: true
    match:
      model: gpt-4o*
      last_role: tool
      tool_result: {name: get_*, contains: sunny, regex: "\\\\d+"}
      turn: {min: 1, max: 3}
      system: {contains: weather}
      tools: [get_weather, get_time]
      tool_choice: required
      response_format: {type: json_schema, name: Weather*}
      headers: {X-Agent: "planner*", x-retry: 2}
      metadata: {user: alice}
    json: auto
    tool_calls: auto
  - name: b
    match: {turn: 0, system: be brief, tools: get_weather, response_format: json_object, tool_result: {}}
    json: {city: Paris, tags: [a, b]}
    tool_calls: [{name: f, arguments: auto}]
  - {name: c, json: [1, 2], match: {last_role: system, turn: {max: 0}}}
""",
    "websocket closes and refusals": """scenarios:
  - name: a
    chunks:
      - x
      - {close: 1011, reason: "internal error", delay_ms: 5, refuse: 2}
  - {name: b, chunks: [{close: 1005}]}
  - {name: c, chunks: [{disconnect: true, refuse: {times: 1, status: 426}}]}
  - {name: d, chunks: [{close: 4999, refuse: {times: 3}}]}
  - {name: e, text: x, chaos: {close: 0.5, close_code: 1012}}
""",
    "a stream written delta by delta, as recorded": """scenarios:
  - name: a
    model: gpt-4o-2024-08-06
    system_fingerprint: fp_0123456789
    latency_ms: 210.5
    raw_reasoning: true
    chunks:
      - {reasoning: Six sevens, delay_ms: 120.3}
      - {content: Hi, delay_ms: 1, logprob: -0.1}
      - {refusal: "no", delay_ms: 0}
      - {tool_call: {name: f, id: call_1}, delay_ms: 4}
      - {arguments: '{"a"'}
      - {arguments: ": 1}", delay_ms: 2.5}
      - {tool_call: {name: g}}
    usage: {prompt_tokens: 9, completion_tokens: 7, reasoning_tokens: 2, cached_tokens: 0}
  - continues: a
    error: {status: 429, retry_after_ms: 20, headers: {retry-after: "1"}}
    latency_ms: 3
  # a later step, after other scenarios
  - {name: b, text: x}
  - continues: a
    choices:
      - chunks: [{tool_call: {name: f}}, {arguments: "{}"}]
      - text: y
""",
    "merge keys": """scenarios:
  - &base {name: a, text: x, ttft_ms: 3}
  - <<: *base
    name: b
""",
}


@pytest.mark.parametrize("text", GOOD.values(), ids=GOOD.keys())
def test_the_schema_accepts_what_the_loader_accepts(validator: Any, text: str) -> None:
    assert loader_problems(text) == []
    assert schema_errors(validator, text) == []


def one(body: str) -> str:
    """A file with one scenario `s`, given the lines of its body (indented by four spaces)."""
    return "scenarios:\n  - name: s\n" + "".join(f"    {line}\n" for line in body.strip("\n").splitlines())


BAD = {
    # the file
    "empty file": "",
    "a list at the top": "- name: s\n  text: hi\n",
    "missing scenarios": "version: 1\n",
    "misspelled scenarios": "scenario:\n  - {name: s, text: hi}\n",
    "unknown key at the top": "scenarios: []\nextra: 1\n",
    "version 2": "version: 2\nscenarios: []\n",
    "version as text": "version: '1'\nscenarios: []\n",
    "a name longer than a URL takes": f"scenarios:\n  - {{name: {'n' * 257}, text: hi}}\n",
    "version true": "version: true\nscenarios: []\n",
    "scenarios a mapping": "scenarios: {name: s, text: hi}\n",
    "a scenario that is text": "scenarios:\n  - just text\n",
    # the scenario
    "missing name": "scenarios:\n  - text: hi\n",
    "name with a space": "scenarios:\n  - {name: two words, text: hi}\n",
    "name empty": "scenarios:\n  - {name: '', text: hi}\n",
    "name a number": "scenarios:\n  - {name: 42, text: hi}\n",
    "name with a control character": 'scenarios:\n  - {name: "bell\\a", text: hi}\n',
    "a delay of more than a day": one("text: hi\nttft_ms: 86400001"),
    "an infinite delay": one("text: hi\nttft_ms: .inf"),
    "a retry_after of more than a day": one("error: {status: 429, retry_after: 86401}"),
    "description a number": one("description: 5\ntext: hi"),
    "misspelled key": one("text: hi\nfinish_reson: length"),
    "unknown key": one("text: hi\ncolor: blue"),
    # match
    "match a text": one("text: hi\nmatch: poem"),
    "misspelled match key": one("text: hi\nmatch: {modle: gpt-4o}"),
    "unknown last_role": one("text: hi\nmatch: {last_role: bot}"),
    "turn negative": one("text: hi\nmatch: {turn: -1}"),
    "turn a text": one("text: hi\nmatch: {turn: first}"),
    "turn with an unknown bound": one("text: hi\nmatch: {turn: {least: 1}}"),
    "turn empty": one("text: hi\nmatch: {turn: {}}"),
    "tool_result a text": one("text: hi\nmatch: {tool_result: sunny}"),
    "tool_result with an unknown key": one("text: hi\nmatch: {tool_result: {function: f}}"),
    "tool_result contains empty": one("text: hi\nmatch: {tool_result: {contains: ''}}"),
    "system empty": one("text: hi\nmatch: {system: ''}"),
    "system empty mapping": one("text: hi\nmatch: {system: {}}"),
    "tools empty": one("text: hi\nmatch: {tools: []}"),
    "tools a number": one("text: hi\nmatch: {tools: 5}"),
    "tool_choice empty": one("text: hi\nmatch: {tool_choice: ''}"),
    "unknown response_format": one("text: hi\nmatch: {response_format: xml}"),
    "response_format empty mapping": one("text: hi\nmatch: {response_format: {}}"),
    "match headers a list": one("text: hi\nmatch: {headers: [x-a]}"),
    "match header name with a space": one("text: hi\nmatch: {headers: {'x a': b}}"),
    "metadata value a mapping": one("text: hi\nmatch: {metadata: {a: {b: c}}}"),
    "accept_unknown_params a text": one("text: hi\naccept_unknown_params: 'yes'"),
    "json a text": one("json: hello"),
    "json a number": one("json: 5"),
    "json and text": one("json: auto\ntext: a"),
    "json and chunks": one("json: {a: 1}\nchunks: [b]"),
    "refusal with json": one("refusal: 'no'\njson: auto"),
    "tool_calls a text": one("tool_calls: some"),
    "match contains empty": one("text: hi\nmatch: {contains: ''}"),
    "match model a number": one("text: hi\nmatch: {model: 4}"),
    # the answer
    "text a list": one("text: [a, b]"),
    "chunks a text": one("chunks: abc"),
    "chunks and text": one("text: a\nchunks: [b]"),
    "refusal with text": one("refusal: 'no'\ntext: a"),
    "refusal with tool calls": one("refusal: 'no'\ntool_calls: [{name: f}]"),
    "reasoning a number": one("reasoning: 5"),
    "error with text": one("error: {status: 500}\ntext: a"),
    "error with ttft_ms": one("error: {status: 500}\nttft_ms: 5"),
    "error with finish_reason": one("error: {status: 500}\nfinish_reason: stop"),
    "choices with text": one("choices: [{text: a}]\ntext: b"),
    "choices empty": one("choices: []"),
    "choice without an answer": one("choices: [{finish_reason: stop}]"),
    "choice with a setting": one("choices: [{text: a, ttft_ms: 5}]"),
    "choice with chunks and text": one("choices: [{text: a, chunks: [b]}]"),
    # settings
    "unknown finish_reason": one("text: hi\nfinish_reason: done"),
    "finish_reason in capitals": one("text: hi\nfinish_reason: STOP"),
    "ttft_ms with a unit": one("text: hi\nttft_ms: 300ms"),
    "negative interval_ms": one("text: hi\ninterval_ms: -1"),
    "negative latency_ms": one("text: hi\nlatency_ms: -0.5"),
    "jitter_ms a boolean": one("text: hi\njitter_ms: true"),
    "model empty": one("text: hi\nmodel: ''"),
    "usage a number": one("text: hi\nusage: 5"),
    "usage total_tokens": one("text: hi\nusage: {total_tokens: 5}"),
    "usage with a fraction": one("text: hi\nusage: {completion_tokens: 1.5}"),
    "usage negative": one("text: hi\nusage: {prompt_tokens: -1}"),
    # chaos
    "bad chaos key": one("text: hi\nchaos: {rate_limt: 0.1}"),
    "chaos probability above 1": one("text: hi\nchaos: {disconnect: 1.5}"),
    "chaos negative": one("text: hi\nchaos: {stall: -0.1}"),
    "chaos a text": one("text: hi\nchaos: 'rate_limit=0.1'"),
    "chaos stall_ms a text": one("text: hi\nchaos: {stall: 0.1, stall_ms: 10s}"),
    # chunks
    "chunk a number": one("chunks: [ok, 42]"),
    "chunk a list": one("chunks: [[a]]"),
    "two chunk kinds in one item": one("chunks: [{content: a, end: true}]"),
    "chunk without a kind": one("chunks: [{delay_ms: 5}]"),
    "unknown chunk key": one("chunks: [{content: a, wait_ms: 5}]"),
    "negative delay_ms": one("chunks: [{content: a, delay_ms: -5}]"),
    "content a number": one("chunks: [{content: 5}]"),
    "logprob above 0": one("chunks: [{content: a, logprob: 0.5}]"),
    "logprob on a fault": one("chunks: [a, {keepalive: true, logprob: -1}]"),
    "standalone on content": one("chunks: [{content: a, standalone: true}]"),
    "standalone not a boolean": one("chunks: [{error: true, standalone: 'yes'}]"),
    "stall_ms with delay_ms": one("chunks: [{stall_ms: 100, delay_ms: 5}]"),
    "negative stall_ms": one("chunks: [{stall_ms: -100}]"),
    "disconnect false": one("chunks: [a, {disconnect: false}]"),
    "end a text": one("chunks: [a, {end: 'yes'}]"),
    "keepalive 1": one("chunks: [{keepalive: 1}]"),
    "raw empty": one("chunks: [{raw: ''}]"),
    "error event a text": one("chunks: [{error: boom}]"),
    "error event false": one("chunks: [{error: false}]"),
    "error event with a status out of range": one("chunks: [{error: {status: 200}}]"),
    "error event with a status as text": one("chunks: [{error: {status: '429'}}]"),
    "raw_reasoning as text": one("text: a\nraw_reasoning: yes please"),
    "raw_reasoning beside an error": one("error: {status: 500}\nraw_reasoning: true"),
    "error event message null": one("chunks: [{error: {message: null}}]"),
    "close below 1000": one("chunks: [a, {close: 999}]"),
    "close above 4999": one("chunks: [a, {close: 5000}]"),
    "close a text": one("chunks: [a, {close: internal}]"),
    "close true": one("chunks: [a, {close: true}]"),
    "reason a number": one("chunks: [a, {close: 1011, reason: 5}]"),
    "reason on content": one("chunks: [{content: a, reason: b}]"),
    "reason on a disconnect": one("chunks: [a, {disconnect: true, reason: b}]"),
    "refuse on an error": one("chunks: [a, {error: true, refuse: 1}]"),
    "refuse zero": one("chunks: [a, {close: 1011, refuse: 0}]"),
    "refuse a text": one("chunks: [a, {close: 1011, refuse: twice}]"),
    "refuse with a success status": one("chunks: [a, {close: 1011, refuse: {times: 1, status: 200}}]"),
    "refuse without times": one("chunks: [a, {close: 1011, refuse: {status: 503}}]"),
    "refuse with an unknown key": one("chunks: [a, {close: 1011, refuse: {times: 1, for_ms: 5}}]"),
    "chaos close_code out of range": one("text: hi\nchaos: {close: 0.1, close_code: 999}"),
    "chaos refuse in a scenario": one("text: hi\nchaos: {refuse: 0.1}"),
    "chaos refuse_status in a scenario": one("text: hi\nchaos: {refuse_status: 429}"),
    "tool_call a text": one("chunks: [{tool_call: f}]"),
    "tool_call without a name": one("chunks: [{tool_call: {id: call_1}}]"),
    "tool_call with an unknown key": one("chunks: [{tool_call: {name: f, type: function}}]"),
    "arguments a mapping": one("chunks: [{tool_call: {name: f}}, {arguments: {a: 1}}]"),
    "reasoning item a number": one("chunks: [{reasoning: 5}]"),
    "refusal item with a logprob": one("chunks: [{refusal: 'no', logprob: -1}]"),
    "system_fingerprint a number": one("text: a\nsystem_fingerprint: 5"),
    "system_fingerprint beside an error": one("error: {status: 500}\nsystem_fingerprint: fp_1"),
    "usage reasoning_tokens negative": one("text: hi\nusage: {reasoning_tokens: -1}"),
    "usage cached_tokens a text": one("text: hi\nusage: {cached_tokens: many}"),
    # continuations
    "continues a number": "scenarios:\n  - {name: a, text: x}\n  - {continues: 5, text: y}\n",
    "continues with a name": "scenarios:\n  - {name: a, text: x}\n  - {continues: a, name: b, text: y}\n",
    "continues with match": "scenarios:\n  - {name: a, text: x}\n  - {continues: a, match: {}, text: y}\n",
    "continues with text and chunks": "scenarios:\n  - {name: a, text: x}\n  - {continues: a, text: y, chunks: [z]}\n",
    # error answers
    "error a number": one("error: 500"),
    "error without status": one("error: {message: slow down}"),
    "status 200": one("error: {status: 200}"),
    "status 600": one("error: {status: 600}"),
    "status as text": one("error: {status: '429'}"),
    "status true": one("error: {status: true}"),
    "misspelled error key": one("error: {status: 429, retry_afer: 1}"),
    "error message null": one("error: {status: 429, message: null}"),
    "error code a number": one("error: {status: 429, code: 5}"),
    "negative retry_after": one("error: {status: 429, retry_after: -1}"),
    "retry_after a boolean": one("error: {status: 429, retry_after: true}"),
    "negative retry_after_ms": one("error: {status: 429, retry_after_ms: -1}"),
    "headers a list": one("error: {status: 500, headers: [x-should-retry]}"),
    "header name with a space": one("error: {status: 500, headers: {'x should': 'a'}}"),
    "header value a boolean": one("error: {status: 500, headers: {x-should-retry: false}}"),
    "header value a mapping": one("error: {status: 500, headers: {x-a: {b: c}}}"),
    "header value on two lines": one('error: {status: 500, headers: {x-a: "one\\ntwo"}}'),
    "header value ending in a line break": one('error: {status: 500, headers: {x-a: "one\\n"}}'),
    "header value with a control character": one('error: {status: 500, headers: {x-a: "a\\x00b"}}'),
    "header value with a delete": one('error: {status: 500, headers: {x-a: "a\\x7fb"}}'),
    "header value too long for a client": one("error: {status: 500, headers: {x-a: " + "a" * 5000 + "}}"),
    # endpoint answers and quotas
    "embeddings empty": one("embeddings: []"),
    "embeddings a mapping": one("embeddings: {a: 1}"),
    "an empty vector": one("embeddings: [[1], []]"),
    "a vector of text": one("embeddings: [a, b]"),
    "a vector with an exponent YAML reads as text": one("embeddings: [1e-9]"),
    "vectors mixed with numbers": one("embeddings: [1, [2]]"),
    "embeddings with an error": one("error: {status: 500}\nembeddings: [1]"),
    "a vector value beyond float32": one("embeddings: [[1], [0.5, -1.0e+39]]"),
    "an infinite vector value": one("embeddings: [1, .inf]"),
    "a vector value of 401 digits": one("embeddings: [1" + "0" * 400 + ", 0.5]"),
    "a score of 401 digits": one("moderation: {scores: {violence: 1" + "0" * 400 + "}}"),
    "moderation a list of names": one("moderation: [violence]"),
    "moderation empty list": one("moderation: []"),
    "unknown moderation key": one("moderation: {flaged: [hate]}"),
    "unknown moderation category": one("moderation: {flagged: [violance]}"),
    "flagged a text": one("moderation: {flagged: hate}"),
    "score above 1": one("moderation: {scores: {hate: 1.5}}"),
    "score of an unknown category": one("moderation: {scores: {hat: 0.5}}"),
    "moderation with an error": one("error: {status: 500}\nmoderation: {}"),
    "rate_limit a text": one("text: x\nrate_limit: requests=5/min"),
    "rate_limit unknown key": one("text: x\nrate_limit: {request: 5/min}"),
    "rate_limit without a window": one("text: x\nrate_limit: {requests: '5'}"),
    "rate_limit a number": one("text: x\nrate_limit: {requests: 5}"),
    "rate_limit unknown unit": one("text: x\nrate_limit: {tokens: 5/mn}"),
    "rate_limit of nothing": one("text: x\nrate_limit: {requests: 0/min}"),
    "rate_limit in a step": one("sequence:\n  - {text: a, rate_limit: {requests: 1/s}}"),
    # tool calls
    "tool_calls empty": one("tool_calls: []"),
    "tool_calls a mapping": one("tool_calls: {name: f}"),
    "tool call without a name": one("tool_calls: [{arguments: {a: 1}}]"),
    "tool call name empty": one("tool_calls: [{name: ''}]"),
    "tool call arguments a list": one("tool_calls: [{name: f, arguments: [1, 2]}]"),
    "tool call id a number": one("tool_calls: [{name: f, id: 7}]"),
    "unknown tool call key": one("tool_calls: [{name: f, type: function}]"),
    # sequences
    "sequence with text": one("text: a\nsequence:\n  - text: b"),
    "sequence with error": one("error: {status: 500}\nsequence:\n  - text: b"),
    "sequence with choices": one("choices: [{text: a}]\nsequence:\n  - text: b"),
    "sequence empty": one("sequence: []"),
    "sequence a mapping": one("sequence: {text: a}"),
    "step with a name": one("sequence:\n  - {text: a, name: b}"),
    "step with match": one("sequence:\n  - {text: a, match: {}}"),
    "step error with interval_ms": one("sequence:\n  - {error: {status: 500}, interval_ms: 5}"),
    "step with chunks and text": one("sequence:\n  - {text: a, chunks: [b]}"),
    "step a text": one("sequence:\n  - hello"),
}


def test_the_bad_corpus_is_large() -> None:
    assert len(BAD) >= 25


@pytest.mark.parametrize("text", BAD.values(), ids=BAD.keys())
def test_the_loader_and_the_schema_both_reject(validator: Any, text: str) -> None:
    assert loader_problems(text), "the loader accepts this file"
    assert schema_errors(validator, text), "the schema accepts this file"


# One file for each rule the schema cannot express (see the top of this module): the loader rejects it, the schema
# lets it through. A case the schema learns to reject belongs in BAD.
ONLY_THE_LOADER = {
    "duplicate names": "scenarios:\n  - {name: a, text: x}\n  - {name: a, text: y}\n",
    "duplicate keys": one("text: a\ntext: b"),
    "a chunk after the end": one("chunks: [{end: true}, more]"),
    "tool calls after a disconnect": one("chunks: [{disconnect: true}]\ntool_calls: [{name: f}]"),
    "chaos probabilities above 1 in total": one("text: hi\nchaos: {rate_limit: 0.6, disconnect: 0.6}"),
    "a regex Python cannot compile": one("text: hi\nmatch: {regex: '('}"),
    "retry_after text that is not a date": one("error: {status: 429, retry_after: soon}"),
    "status with a fraction": one("error: {status: 429.0}"),
    "a window of no time": one("text: x\nrate_limit: {requests: 5/0s}"),
    "a date in tool-call arguments": one("tool_calls: [{name: f, arguments: {when: 2024-01-01}}]"),
    "nesting deeper than 100": one("tool_calls: [{name: f, arguments: " + "{a: " * 101 + "1" + "}" * 101 + "}]"),
    "a close reason too long": one("chunks: [a, {close: 1011, reason: '" + "é" * 62 + "'}]"),
    "a reason with 1006": one("chunks: [a, {close: 1006, reason: dropped}]"),
    "a close code with a fraction": one("chunks: [a, {close: 1011.0}]"),
    "continues a scenario below it": "scenarios:\n  - {continues: a, text: y}\n  - {name: a, text: x}\n",
    "continues a scenario of no file": "scenarios:\n  - {name: a, text: x}\n  - {continues: b, text: y}\n",
    "arguments before any tool_call": one("chunks: [{arguments: '{}'}, {tool_call: {name: f}}]"),
    "tool_call items beside tool_calls": one("chunks: [{tool_call: {name: f}}]\ntool_calls: [{name: g}]"),
    "a header that frames the answer": one("error: {status: 429, headers: {Content-Type: text/html}}"),
    "a length the body does not have": one("error: {status: 429, headers: {content-length: '5'}}"),
}


@pytest.mark.parametrize("text", ONLY_THE_LOADER.values(), ids=ONLY_THE_LOADER.keys())
def test_what_only_the_loader_catches(validator: Any, text: str) -> None:
    assert loader_problems(text)
    assert schema_errors(validator, text) == []
