"""Scenario files written to hurt: every one ends as `file:line: message` problems, quickly, in little memory —
never a traceback, a hang or a crash of `validate`, `serve`, the control API or the watcher."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from helpers import LAUGHS, problems

from mockserver.cli import main
from mockserver.scenario import marked_yaml
from mockserver.scenario.load import load_data, load_paths, load_text
from mockserver.scenario.marked_yaml import MarkedList
from mockserver.scenario.problems import short
from mockserver.scenario.tokens import count_tokens, split_tokens

# libyaml's parser when PyYAML has it, and PyYAML's own.
PARSERS = [parser for parser in (getattr(yaml, "CSafeLoader", None), yaml.SafeLoader) if parser is not None]


def timed_problems(text: str, limit_s: float = 5.0) -> list[str]:
    started = time.monotonic()
    found = problems(text)
    assert time.monotonic() - started < limit_s
    return found


def test_the_billion_laughs_are_refused_at_once_in_little_memory() -> None:
    assert len(LAUGHS.encode()) < 400
    tracemalloc.start()
    try:
        found = timed_problems(LAUGHS, 2.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000
    assert found == [
        "s.yaml:7: the document holds more than 2,000,000 values once its aliases (*name) are expanded; write "
        "fewer aliases, or split the file"
    ]


def test_a_message_shows_a_short_value_however_large_the_yaml_list() -> None:
    nested = MarkedList(["x"] * 9)
    for _ in range(8):
        nested = MarkedList([nested] * 9)
    started = time.monotonic()
    shown = short(nested)
    assert time.monotonic() - started < 2.0  # walking every value would take minutes
    assert len(shown) < 200


def test_chunks_that_are_lists_get_a_short_message() -> None:
    levels = "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\n"
    found = [
        line for line in timed_problems(levels + "scenarios:\n  - name: l\n    chunks: *c\n", 2.0) if "chunk" in line
    ]
    assert len(found) == 4 and all(len(line) < 300 for line in found)
    assert found[0].startswith("s.yaml:3: chunk 1 of scenario 'l' must be text or a mapping, got a list [[")


def test_a_step_an_alias_repeats_is_built_once() -> None:
    chunks = ", ".join(f'"w{i} "' for i in range(200))
    steps = ", ".join([f"&s {{chunks: [{chunks}]}}"] + ["*s"] * 4999)
    text = f"scenarios:\n  - name: many\n    sequence: [{steps}]\n"
    assert len(text) < 40_000
    # A file of a few tens of KB whose steps are all one: checked and built once, not 5000 times.
    started = time.monotonic()
    result = load_text(text, "s.yaml")
    assert time.monotonic() - started < 2.0
    assert result.problems == []
    (scenario,) = result.scenarios
    assert len(scenario.steps) == 5000
    assert all(step is scenario.steps[0] for step in scenario.steps)


def test_too_many_chunks_in_all_is_one_clear_problem() -> None:
    long_text = " w" * 250_000
    found = timed_problems(f"scenarios:\n  - name: huge\n    text: '{long_text}'\n", 10.0)
    assert found == [
        "s.yaml:3: too large: the answers hold more than 200,000 chunks, steps, choices and tool calls in all (text "
        "counts one chunk per token; a part reached through an alias counts each time it is built)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'scenarios:\n  - name: a\n    text: "\x00"\n',
            'the character #x0000 is not allowed in YAML text; write it as an escape inside double quotes ("\\u0000")',
        ),
        ("scenarios:\n  - name: a\n    text: x\x07y\n", "the character #x0007 is not allowed"),
        ("# a comment with \x1b[31m colour\nscenarios: []\n", "the character #x001B is not allowed"),
        ("scenarios:\n  - name: a\n    ttft_ms: " + "9" * 4301 + "\n    text: x\n", "cannot be read as a whole number"),
        (
            "scenarios:\n  - name: a\n    ttft_ms: 0x" + "f" * 400 + "\n    text: x\n",
            "must be at most 86,400,000 (a day)",
        ),
        ("scenarios:\n  - name: a\n    text: x\n    ttft_ms: .inf\n", "must be at most 86,400,000 (a day), got inf"),
        (
            "scenarios:\n  - name: a\n    text: x\n    match: {regex: 'a{99999999999}'}\n",
            "not a valid regular expression",
        ),
        ('scenarios:\n  - name: a\n    chunks: [{raw: "\\udc80"}]\n', ""),
        ('scenarios:\n  - name: a\n    text: "\\ud800 alone"\n', ""),
        (
            "scenarios:\n  - name: a\n    error: {status: 429, retry_after: 1.0e+308}\n",
            "must be at most 86,400 (a day)",
        ),
        ("scenarios:\n  - name: a\n    error: {status: 429, retry_after_ms: 1.0e+300}\n", "must be at most 86,400,000"),
        ("scenarios:\n  - name: a\n    text: x\n    chaos: {stall: 0.1, stall_ms: .inf}\n", "at most 86,400,000"),
        ("scenarios:\n  - name: a\n    error: {status: 400, headers: {x-big: " + "9" * 400 + "}}\n", "header 'x-big'"),
        ("scenarios:\n  - name: a\n    text: x\n    usage: {prompt_tokens: " + "9" * 40 + "}\n", "at most"),
        ("scenarios:\n  - name: a\n    tool_calls: [{name: f, arguments: {when: 2024-01-01}}]\n", "a date"),
        (
            "scenarios:\n  - name: a\n    tool_calls: [{name: f, arguments: {at: 2001-12-14t21:59:43.10-05:00}}]\n",
            "a datetime",
        ),
        ("scenarios:\n  - name: a\n    tool_calls: [{name: f, arguments: {b: !!binary aGk=}}]\n", "a bytes"),
        ("scenarios:\n  - name: a\n    tool_calls: [{name: f, arguments: {n: .nan}}]\n", "(.inf or .nan)"),
        ("scenarios:\n  - name: a\n    text: !!timestamp 2024-13-45\n", "cannot be read as a date"),
        ("scenarios:\n  - name: a\n    text: *nowhere\n", "the alias *nowhere has no anchor &nowhere"),
        ("a: &x 1\nb: &x 2\n", "the anchor &x is defined twice"),
        ("scenarios: &s\n  - *s\n", "the alias *s is inside the value it stands for"),
        ("scenarios: []\n---\nscenarios: []\n", "expected one YAML document"),
    ],
)
def test_hostile_values_are_problems_with_a_line(text: str, expected: str) -> None:
    found = timed_problems(text)
    assert found, text
    assert all(line.startswith("s.yaml:") and line.split(":")[1].isdigit() for line in found), found
    assert expected in "\n".join(found)


@pytest.mark.parametrize("depth", [101, 1_000, 100_000])
@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_is_refused(depth: int, style: str) -> None:
    text = "[" * depth + "]" * depth if style == "flow" else "- " * depth + "x\n"
    (found,) = timed_problems(text)
    # libyaml may stop a very deep flow first, in its own words
    assert found in (
        "s.yaml:1: mappings and lists are nested more than 100 deep",
        "s.yaml:1: YAML syntax error: while increasing flow level; exceeded maximum nesting depth",
    )


def test_a_lone_surrogate_in_python_data_is_a_problem() -> None:
    result = load_data({"name": "a", "chunks": [{"raw": "\udc80"}]})
    assert [str(problem) for problem in result.problems] == [
        "<inline>: the text '\\udc80' holds half of a surrogate pair"
    ]


def test_a_surrogate_pair_written_as_json_escapes_is_one_character() -> None:
    for loader in PARSERS:
        original = marked_yaml.LOADER
        marked_yaml.LOADER = loader
        try:
            result = load_text('{"name": "smile", "text": "\\ud83d\\ude00 \\\\ud83d"}', snippet=True)
        finally:
            marked_yaml.LOADER = original
        assert result.problems == []
        assert result.scenarios[0].steps[0].content == "😀 \\ud83d"


def test_names_cannot_forge_lines_or_colour_a_terminal() -> None:
    found = problems('scenarios:\n  - name: "evil\\e[31m"\n    text: x\n  - name: "two\\nlines"\n    text: x\n')
    assert found == [
        "s.yaml:2: 'name' holds a control or invisible character: 'evil\\x1b[31m'",
        "s.yaml:4: 'name' must be one word of text (no spaces), got text 'two\\nlines'",
    ]
    # keys are echoed escaped too
    (line,) = problems('scenarios:\n  - name: a\n    text: x\n    "bad\\nkey\\e[0m": 1\n')
    assert "\n" not in line and "\x1b" not in line and "bad\\nkey\\x1b[0m" in line


def test_a_name_fits_in_a_url() -> None:
    # 100,000 characters were taken over the control API: the name could not be deleted (its URL was too long).
    (line,) = problems(f"scenarios:\n  - name: {'n' * 257}\n    text: x\n")
    assert line.startswith("s.yaml:2: 'name' is 257 characters long, more than 256 (it goes in URLs and headers)")
    assert problems(f"scenarios:\n  - name: {'n' * 256}\n    text: x\n") == []


def test_the_c_and_python_parsers_give_the_same_lines() -> None:
    texts = [
        (Path(__file__).parent.parent.parent / "scenarios" / "faults.yaml").read_text(),
        "scenarios:\n  - name: a\n    text: x\n    bogus: 1\n  - &b {name: b, text: y}\n  - <<: *b\n    name: c\n    ttft_ms: -1\n",
        "scenarios:\n  - name: a\n    chunks:\n      - hello\n      - {content: x, delay_ms: 'ten'}\n      - {error: true}\n",
        "scenarios:\n  - name: a\n    text: [\n",
    ]
    for text in texts:
        lines = []
        for loader in PARSERS:
            original = marked_yaml.LOADER
            marked_yaml.LOADER = loader
            try:
                result = load_text(text, "s.yaml")
            finally:
                marked_yaml.LOADER = original
            lines.append(([(p.line, p.message[:25]) for p in result.problems], [s.where for s in result.scenarios]))
        assert lines[0] == lines[1]


def test_request_text_is_counted_without_keeping_its_pieces() -> None:
    text = "a prompt of many distinct words " + " ".join(f"w{i}" for i in range(50_000))
    before = split_tokens.cache_info().currsize
    assert count_tokens(text) == len(split_tokens.__wrapped__(text))
    assert split_tokens.cache_info().currsize == before


@pytest.mark.parametrize(
    "text",
    [
        'scenarios:\n  - name: a\n    text: "\x00"\n',
        "scenarios:\n  - name: a\n    ttft_ms: " + "9" * 5000 + "\n    text: x\n",
        "[" * 5000 + "]" * 5000,
        LAUGHS,
    ],
    ids=["nul", "long-int", "deep", "laughs"],
)
def test_validate_and_serve_report_lines_and_exit_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:") and "Traceback" not in out
    assert main(["serve", "--port", "0", "--scenarios", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"{path}:")
    assert load_paths([path]).problems
