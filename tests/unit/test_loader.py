import os
from pathlib import Path

import pytest
from helpers import problems

from mockserver.engine.ask import Ask, Message
from mockserver.engine.matching import Facts, miss
from mockserver.scenario.load import BUNDLED, load_data, load_paths, load_text
from mockserver.scenario.model import Answer, ErrorReply, Match


def holds(match: Match, model: str, user: str) -> bool:
    ask = Ask(model=model, last_user=user, prompt_tokens=1, stream=False, messages=(Message("user", user),))
    return miss(match, Facts(ask)) is None


def test_the_documented_example_loads() -> None:
    result = load_text(
        """
scenarios:
  - name: haiku                    # required, unique across all loaded files
    description: A short poem      # optional
    match:
      model: "gpt-4o*"
      contains: "poem"
      regex: "^write\\\\b"
    chunks: ["Autumn", " moon", "light", "\\n"]
    finish_reason: stop
    ttft_ms: 300
    interval_ms: 40
""",
        "s.yaml",
    )
    assert result.problems == []
    (scenario,) = result.scenarios
    assert scenario.where == "s.yaml:3"
    answer = scenario.steps[0]
    assert isinstance(answer, Answer)
    assert [c.content for c in answer.chunks] == ["Autumn", " moon", "light", "\n"]
    assert (answer.ttft_ms, answer.interval_ms, answer.finish_reason) == (300, 40, "stop")
    assert holds(scenario.match, "gpt-4o-mini", "write a POEM please")
    assert not holds(scenario.match, "gpt-4o-mini", "please write a poem")  # regex anchors at the start
    assert not holds(scenario.match, "gpt-3.5", "write a poem")


def test_unknown_keys_are_errors_with_a_hint_and_a_line() -> None:
    found = problems(
        """scenarios:
  - name: a
    text: hi
    finish_reson: length
    match:
      modle: gpt-4o
"""
    )
    assert found == [
        "s.yaml:4: unknown key 'finish_reson' in scenario 'a'; did you mean 'finish_reason'?",
        "s.yaml:6: unknown key 'modle' in 'match' of scenario 'a'; did you mean 'model'?",
    ]


def test_every_problem_in_a_file_is_reported_with_its_line() -> None:
    found = problems(
        """version: 1
scenarios:
  - name: one
    text: hi
    ttft_ms: 300ms
  - name: two
  - name: three
    text: a
    chunks: [b]
  - name: four
    chunks:
      - ok
      - {content: x, delay_ms: -5}
      - 42
    finish_reason: done
  - name: five
    error: {status: 200}
  - name: six
    match: {regex: "("}
    text: x
"""
    )
    assert found == [
        "s.yaml:5: 'ttft_ms' in scenario 'one' must be a number, got text '300ms' (write the number alone, without a unit)",
        "s.yaml:9: scenario 'three' has both 'text' and 'chunks'; give exactly one",
        "s.yaml:13: 'delay_ms' in chunk 2 of scenario 'four' must be zero or more, got -5",
        "s.yaml:14: chunk 3 of scenario 'four' must be text or a mapping, got a number 42",
        "s.yaml:15: unknown finish_reason 'done' in scenario 'four'; expected one of: stop, length, content_filter, tool_calls",
        "s.yaml:17: 'status' in 'error' of scenario 'five' must be an HTTP error status 400-599, got 200",
        "s.yaml:19: 'regex' in 'match' of scenario 'six' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
    ]


def test_structure_problems() -> None:
    assert problems("") == ["s.yaml: the file is empty; expected a 'scenarios:' list"]
    assert problems("- name: a\n  text: hi\n") == [
        "s.yaml:1: expected 'scenarios:' at the top of the file, with the list below it"
    ]
    assert problems("scenarios: {name: a}\n") == ["s.yaml:1: 'scenarios' must be a list, got a mapping"]
    assert problems("version: 2\nscenarios: []\n") == ["s.yaml:1: unsupported version 2; this server reads version 1"]
    assert problems("scenarios:\n  - just text\n") == [
        "s.yaml:2: a scenario must be a mapping (key: value lines), got text"
    ]
    assert problems("scenarios:\n  - text: hi\n") == ["s.yaml:2: scenario has no 'name'"]
    assert problems("scenarios:\n  - name: two words\n    text: hi\n") == [
        "s.yaml:2: 'name' must be one word of text (no spaces), got text 'two words'"
    ]


def test_yaml_syntax_errors_name_the_line() -> None:
    (found,) = problems("scenarios:\n  - name: a\n    text: [unclosed\n  - name: b\n")
    assert found.startswith("s.yaml:4: YAML syntax error:")


def test_duplicate_keys_are_not_silently_dropped() -> None:
    assert problems("scenarios:\n  - name: a\n    text: one\n    text: two\n") == [
        "s.yaml:4: duplicate key 'text' (first given on line 3)"
    ]


def test_sequence_steps_inherit_scenario_settings() -> None:
    result = load_text(
        """scenarios:
  - name: s
    interval_ms: 40
    model: gpt-4o-2024-08-06
    sequence:
      - error: {status: 429, retry_after: 0.5}
      - text: "ok then"
        interval_ms: 10
      - chunks: ["a"]
        finish_reason: length
"""
    )
    assert result.problems == []
    error, first, second = result.scenarios[0].steps
    assert isinstance(error, ErrorReply) and error.retry_after == 0.5
    assert (first.interval_ms, first.model, first.finish_reason) == (10, "gpt-4o-2024-08-06", "stop")
    assert (second.interval_ms, second.model, second.finish_reason) == (40, "gpt-4o-2024-08-06", "length")


def test_sequence_problems() -> None:
    assert problems("scenarios:\n  - name: s\n    sequence: []\n") == [
        "s.yaml:3: 'sequence' in scenario 's' must be a non-empty list, got a list"
    ]
    assert problems("scenarios:\n  - name: s\n    text: x\n    sequence:\n      - text: y\n") == [
        "s.yaml:3: scenario 's' has both 'sequence' and 'text'; the steps hold the answers"
    ]
    assert problems("scenarios:\n  - name: s\n    sequence:\n      - {ttft_ms: 5}\n      - {text: y, name: z}\n") == [
        "s.yaml:5: unknown key 'name' in step 2 of scenario 's'; expected one of: chunks, text, json, tool_calls, "
        "refusal, reasoning, choices, error, finish_reason, ttft_ms, interval_ms, usage, model, system_fingerprint, chaos, raw_reasoning, "
        "latency_ms, jitter_ms, embeddings, moderation",
    ]


def test_error_answers() -> None:
    result = load_text(
        """scenarios:
  - name: e
    error:
      status: 503
      code: null
      headers: {x-should-retry: "false", retry-after: 2}
"""
    )
    (reply,) = result.scenarios[0].steps
    assert reply == ErrorReply(
        status=503, code=None, headers=(("x-should-retry", "false"), ("retry-after", "2")), given=frozenset({"code"})
    )
    assert problems("scenarios:\n  - name: e\n    error: {message: hi}\n") == [
        "s.yaml:3: 'error' of scenario 'e' has no 'status'"
    ]
    assert problems("scenarios:\n  - name: e\n    error: {status: 500, headers: {x-should-retry: false}}\n") == [
        "s.yaml:3: header 'x-should-retry' must be text or a number, got a boolean (write \"true\" in quotes)"
    ]
    assert problems("scenarios:\n  - name: e\n    error: {status: 500}\n    ttft_ms: 5\n") == [
        "s.yaml:4: 'ttft_ms' has no effect on an error answer (scenario 'e')"
    ]


def test_empty_answers_are_valid() -> None:
    result = load_text("scenarios:\n  - {name: a, text: ''}\n  - {name: b, chunks: []}\n")
    assert result.problems == []
    assert [s.steps[0].chunks for s in result.scenarios] == [(), ()]


def test_text_is_split_into_token_pieces() -> None:
    (scenario,) = load_text("scenarios:\n  - {name: a, text: 'Hi, you.'}\n").scenarios
    assert [c.content for c in scenario.steps[0].chunks] == ["Hi", ",", " you", "."]


def test_usage_override() -> None:
    (scenario,) = load_text("scenarios:\n  - {name: a, text: x, usage: {prompt_tokens: 7}}\n").scenarios
    assert scenario.steps[0].usage.prompt_tokens == 7
    assert scenario.steps[0].usage.completion_tokens is None
    assert problems("scenarios:\n  - {name: a, text: x, usage: {completion_tokens: 1.5}}\n") == [
        "s.yaml:2: 'completion_tokens' in 'usage' of scenario 'a' must be a whole number, got a number 1.5"
    ]


def test_python_data_is_validated_like_files() -> None:
    result = load_data({"scenarios": [{"name": "a", "txt": "hi"}]}, "test")
    assert [str(p) for p in result.problems] == [
        "test: unknown key 'txt' in scenario 'a'; did you mean 'text'?",
    ]


def test_folders_load_recursively_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.yml").write_text("scenarios:\n  - {name: two, text: x}\n")
    (tmp_path / "a.yaml").write_text("scenarios:\n  - {name: one, text: x}\n")
    (tmp_path / "notes.txt").write_text("not a scenario file")
    result = load_paths([tmp_path])
    assert result.problems == []
    assert [s.name for s in result.scenarios] == ["one", "two"]
    assert [Path(f).name for f, _ in result.files] == ["a.yaml", "two.yml"]


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    """A Kubernetes ConfigMap mount: each file is a link into a hidden `..<timestamp>` folder holding them."""
    data = tmp_path / "..2026_11_24_01_00_00.123"
    data.mkdir()
    (data / "mocks.yaml").write_text("scenarios:\n  - {name: one, text: x}\n")
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "mocks.yaml").symlink_to("..data/mocks.yaml")
    (tmp_path / ".draft.yaml").write_text("not yaml: [")
    result = load_paths([tmp_path])
    assert result.problems == []
    assert [s.name for s in result.scenarios] == ["one"]


def test_names_are_unique_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("scenarios:\n  - {name: same, text: x}\n")
    (tmp_path / "b.yaml").write_text("scenarios:\n  - {name: other, text: x}\n  - {name: same, text: y}\n")
    assert [str(p) for p in load_paths([tmp_path]).problems] == [
        f"{tmp_path / 'b.yaml'}:3: duplicate scenario name 'same' (first defined at {tmp_path / 'a.yaml'}:2)"
    ]


def test_missing_paths_and_empty_folders(tmp_path: Path) -> None:
    found = [str(p) for p in load_paths([tmp_path / "nope.yaml", tmp_path]).problems]
    assert found == [
        f"{tmp_path / 'nope.yaml'}: no such file or folder",
        f"{tmp_path}: no scenario files (*.yaml, *.yml) in this folder",
    ]


def test_paths_that_are_neither_files_nor_folders_say_what_they_are(tmp_path: Path) -> None:
    # Each was "no such file or folder", though it is there.
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nothing.yaml")
    os.mkfifo(tmp_path / "pipe.yaml")
    paths = [tmp_path / name for name in ("loop.yaml", "gone.yaml", "pipe.yaml")] + [Path("/dev/zero")]
    assert [p.message for p in load_paths(paths).problems] == [
        "a symbolic link to nothing (or to a loop of links)",
        "a symbolic link to nothing (or to a loop of links)",
        "not a file or a folder (a device, a pipe or a socket)",
        "not a file or a folder (a device, a pipe or a socket)",
    ]


@pytest.mark.parametrize("required", ["default", "finish-stop", "finish-length", "finish-content-filter", "typewriter"])
def test_bundled_scenarios_load_cleanly(required: str) -> None:
    result = load_paths([BUNDLED])
    assert result.problems == []
    names = {s.name: s for s in result.scenarios}
    assert required in names
    assert all(s.description for s in result.scenarios), "every bundled scenario is described"


def test_yaml_aliases_cannot_loop_or_explode() -> None:
    # an alias of a node that holds itself, and the "billion laughs" fan-out: both answer quickly
    cyclic = problems("scenarios: &a\n  - *a\n")
    assert cyclic and all(problem.startswith("s.yaml:") for problem in cyclic)
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    laughs = "\n".join(levels) + "\nscenarios:\n  - {name: laughs, text: *a8}\n"
    found = problems(laughs)
    assert found == [
        "s.yaml:7: the document holds more than 2,000,000 values once its aliases (*name) are expanded; write "
        "fewer aliases, or split the file"
    ]


def test_a_document_too_large_without_aliases_is_told_to_split(monkeypatch: pytest.MonkeyPatch) -> None:
    # It was told to write fewer aliases, though it had none.
    from mockserver.scenario import marked_yaml

    monkeypatch.setattr(marked_yaml, "MAX_VALUES", 100)
    text = "scenarios:\n  - name: big\n    chunks: [&a x, " + "x, " * 100 + "x]\n"  # an anchor, but no alias
    assert problems(text) == ["s.yaml:3: the document holds more than 100 values: split it into files"]


def test_header_names_must_be_whole_tokens() -> None:
    found = problems('scenarios:\n  - name: h\n    error: {status: 429, headers: {"x-ok\\n": "1"}}\n')
    assert found == ["s.yaml:3: 'x-ok\\n' is not a valid HTTP header name"]


def test_a_merged_key_can_be_given_again_but_a_written_one_cannot() -> None:
    text = """
scenarios:
  - &base {name: base, text: hi, ttft_ms: 10}
  - &other {name: other, text: there, ttft_ms: 30}
  - <<: *base
    name: child
    ttft_ms: 20
  - <<: [*base, *other]
    name: both
"""
    result = load_text(text, "s.yaml")
    assert result.problems == []
    steps = {scenario.name: scenario.steps[0] for scenario in result.scenarios}
    assert (steps["child"].ttft_ms, steps["child"].content) == (20.0, "hi")
    assert (steps["both"].ttft_ms, steps["both"].content) == (10.0, "hi")  # the first merge wins, as in YAML
    assert problems("scenarios:\n  - name: a\n    name: b\n    text: x\n") == [
        "s.yaml:3: duplicate key 'name' (first given on line 2)"
    ]


def test_a_merge_of_something_else_than_a_mapping_is_a_problem() -> None:
    assert problems("scenarios:\n  - name: a\n    text: x\n    <<: [1]\n") == [
        "s.yaml:4: '<<' merges a mapping, or a list of mappings"
    ]
