"""Loading and validating scenario files.

Every problem is reported as `file:line: message`, and all problems of a load are collected, not only the
first: a person fixing a file wants the whole list. Nothing is silently dropped: unknown keys, duplicate keys
and duplicate names are all errors.
"""

from __future__ import annotations

import difflib
import email.utils
import json
import math
import re
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ..engine import chaos
from .model import (
    ARGUMENTS,
    ENDINGS,
    FINISH_REASONS,
    KEEPALIVE,
    MID_STREAM_ERROR,
    REASONING,
    REFUSAL,
    TOOL_CALL,
    Answer,
    Chunk,
    ErrorReply,
    Fault,
    Match,
    Scenario,
    Step,
    ToolCall,
    Usage,
)
from .tokens import split_tokens

SCENARIO_SUFFIXES = (".yaml", ".yml")
_PACKAGE = Path(__file__).resolve().parent.parent
BUNDLED = _PACKAGE / "scenarios"
if not BUNDLED.is_dir():  # a source checkout or editable install: the top-level folder
    BUNDLED = _PACKAGE.parent / "scenarios"

_ANSWER_KEYS = ("finish_reason", "ttft_ms", "interval_ms", "usage", "model", "chaos")  # streamed answers only
_TIMING_KEYS = ("latency_ms", "jitter_ms")  # error answers too
# What an answer says. `error` and `choices` stand alone; the others combine (see _Checker.answer).
_BODY_KEYS = ("chunks", "text", "tool_calls", "refusal", "reasoning", "choices", "error")
_STEP_KEYS = (*_BODY_KEYS, *_ANSWER_KEYS, *_TIMING_KEYS)
_CHOICE_KEYS = ("chunks", "text", "tool_calls", "refusal", "reasoning", "finish_reason")
_TOOL_KEYS = ("name", "arguments", "id")
_SCENARIO_KEYS = ("name", "description", "match", "sequence", *_STEP_KEYS)
_MATCH_KEYS = ("model", "contains", "regex")
_CHUNK_KINDS = ("content", "error", "disconnect", "end", "stall_ms", "raw", "keepalive")
_CHUNK_KEYS = (*_CHUNK_KINDS, "delay_ms", "logprob", "standalone")
_ERROR_KEYS = ("status", "message", "type", "code", "param", "retry_after", "retry_after_ms", "headers")
_ERROR_FIELDS = ("message", "type", "code", "param")
_USAGE_KEYS = ("prompt_tokens", "completion_tokens")
_FILE_KEYS = ("version", "scenarios")
_MERGE = "tag:yaml.org,2002:merge"
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token, used with fullmatch


@dataclass(frozen=True)
class Problem:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}" if self.line else f"{self.source}: {self.message}"


class ScenarioError(Exception):
    """Raised when scenarios do not load; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))


@dataclass
class LoadResult:
    scenarios: list[Scenario] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # (file, number of scenarios it holds), in load order
    files: list[tuple[str, int]] = field(default_factory=list)

    def raise_for_problems(self) -> None:
        if self.problems:
            raise ScenarioError(self.problems)


# --- YAML with line numbers -------------------------------------------------------------------------------


class _Map(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of each key."""

    line = 0
    key_lines: dict[Any, int]


class _List(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers the line of each item."""

    line = 0
    item_lines: list[int]


def _line_of(value: Any, key: Any = None) -> int:
    if key is not None and isinstance(value, _Map):
        return value.key_lines.get(key, value.line)
    if key is not None and isinstance(value, _List) and isinstance(key, int) and key < len(value.item_lines):
        return value.item_lines[key]
    return getattr(value, "line", 0)


def _parse_yaml(text: str, source: str, problems: list[Problem]) -> tuple[Any, bool]:
    """The document as Python data with line numbers, and whether it parsed at all."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return (None if node is None else _convert(loader, node, source, problems, {})), True
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        problems.append(Problem(source, mark.line + 1 if mark else 0, f"YAML syntax error: {what}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(source, 0, f"YAML error: {exc}"))
    finally:
        loader.dispose()
    return None, False


def _convert(
    loader: yaml.SafeLoader, node: yaml.Node, source: str, problems: list[Problem], done: dict[int, Any]
) -> Any:
    """A node as Python data. Each node is converted once (`done`): an alias shares its anchor's value, so a
    document that refers to itself, or nests aliases to blow up in size, costs no more than it is long."""
    if id(node) in done:
        return done[id(node)]
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = done[id(node)] = _Map()
        result.line, result.key_lines = line, {}
        merged: list[_Map] = []
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:  # `<<: *base` or `<<: [*a, *b]`
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for merge_node in sources:
                    base = _convert(loader, merge_node, source, problems, done)
                    if isinstance(base, _Map):
                        merged.append(base)
                    else:
                        problems.append(Problem(source, key_line, "'<<' merges a mapping, or a list of mappings"))
                continue
            key = _convert(loader, key_node, source, problems, done)
            if not isinstance(key, str):
                problems.append(Problem(source, key_line, f"keys must be text, got {_kind(key)} {_short(key)}"))
                continue
            if key in result:
                problems.append(
                    Problem(source, key_line, f"duplicate key '{key}' (first given on line {result.key_lines[key]})")
                )
                continue
            result[key] = _convert(loader, value_node, source, problems, done)
            result.key_lines[key] = key_line
        # As YAML has it: a key written in the mapping wins over a merged one, and an earlier merge over a later.
        for base in merged:
            for key, value in base.items():
                if key not in result:
                    result[key] = value
                    result.key_lines[key] = base.key_lines.get(key, line)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = done[id(node)] = _List()
        items.line, items.item_lines = line, [item.start_mark.line + 1 for item in node.value]
        items.extend(_convert(loader, item, source, problems, done) for item in node.value)
        return items
    return loader.construct_object(node, deep=True)


# --- validation -------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 60, 60


def _short(value: Any) -> str:
    """A value as it appears in a message: cut short, whatever its size or depth."""
    return _REPR.repr(value)


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return "; expected one of: " + ", ".join(choices)


class _Checker:
    """Validates one document and builds its scenarios, collecting every problem."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems

    def fail(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message))

    def keys(self, data: Mapping[str, Any], allowed: Sequence[str], where: str) -> bool:
        ok = True
        for key in data:
            if key not in allowed:
                self.fail(_line_of(data, key), f"unknown key '{key}' in {where}{_hint(str(key), allowed)}")
                ok = False
        return ok

    def mapping(self, value: Any, line: int, what: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.fail(line, f"{what} must be a mapping (key: value lines), got {_kind(value)}")
        return None

    def text(self, data: Mapping[str, Any], key: str, where: str, *, nullable: bool = False) -> str | None:
        value = data.get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.fail(_line_of(data, key), f"'{key}' in {where} must be text, got {_kind(value)}")
            return None
        return value

    def number(self, data: Mapping[str, Any], key: str, where: str, *, integer: bool = False) -> float | None:
        value = data[key]
        line = _line_of(data, key)
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            unit = "a whole number" if integer else "a number"
            extra = ""
            if isinstance(value, str) and re.fullmatch(r"\s*[\d.]+\s*m?s\s*", value):
                extra = " (write the number alone, without a unit)"
            self.fail(line, f"'{key}' in {where} must be {unit}, got {_kind(value)} {_short(value)}{extra}")
            return None
        if not math.isfinite(value) or value < 0:
            self.fail(line, f"'{key}' in {where} must be zero or more, got {_short(value)}")
            return None
        return value

    # --- file ---

    def document(self, data: Any) -> list[Scenario]:
        if data is None:
            self.fail(0, "the file is empty; expected a 'scenarios:' list")
            return []
        if isinstance(data, list):
            self.fail(_line_of(data), "expected 'scenarios:' at the top of the file, with the list below it")
            return []
        if not isinstance(data, Mapping):
            self.fail(_line_of(data), f"expected a mapping with a 'scenarios:' list, got {_kind(data)}")
            return []
        self.keys(data, _FILE_KEYS, "the file")
        if "version" in data and (data["version"] != 1 or isinstance(data["version"], bool)):
            self.fail(
                _line_of(data, "version"), f"unsupported version {_short(data['version'])}; this server reads version 1"
            )
        if "scenarios" not in data:
            self.fail(_line_of(data), "missing 'scenarios:' list")
            return []
        items = data["scenarios"]
        if not isinstance(items, list):
            self.fail(_line_of(data, "scenarios"), f"'scenarios' must be a list, got {_kind(items)}")
            return []
        return self.scenario_list(items, _line_of(data, "scenarios"))

    def snippet(self, data: Any) -> list[Scenario]:
        """What a test or the control API may send: a whole file, one scenario, or a list of scenarios."""
        if isinstance(data, Mapping) and ("scenarios" in data or "version" in data):
            return self.document(data)
        if isinstance(data, Mapping):
            scenario = self.scenario(data, _line_of(data) or 1)
            return [scenario] if scenario is not None else []
        if isinstance(data, list):
            return self.scenario_list(data, _line_of(data))
        self.fail(_line_of(data), f"expected a scenario, a list of scenarios or a 'scenarios:' file, got {_kind(data)}")
        return []

    def scenario_list(self, items: list[Any], line: int) -> list[Scenario]:
        scenarios = []
        for index, item in enumerate(items):
            scenario = self.scenario(item, _line_of(items, index) or line)
            if scenario is not None:
                scenarios.append(scenario)
        return scenarios

    # --- scenario ---

    def scenario(self, item: Any, line: int) -> Scenario | None:
        data = self.mapping(item, line, "a scenario")
        if data is None:
            return None
        problems_before = len(self.problems)
        name = data.get("name")
        if "name" not in data:
            self.fail(line, "scenario has no 'name'")
        elif not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
            self.fail(
                _line_of(data, "name"), f"'name' must be one word of text (no spaces), got {_kind(name)} {_short(name)}"
            )
        where = f"scenario '{name}'" if isinstance(name, str) and name else "scenario"
        self.keys(data, _SCENARIO_KEYS, where)
        description = self.text(data, "description", where) if "description" in data else None
        match = self.match(data, where) if "match" in data else None
        if "sequence" in data:
            for key in _BODY_KEYS:
                if key in data:
                    self.fail(
                        _line_of(data, key), f"{where} has both 'sequence' and '{key}'; the steps hold the answers"
                    )
            steps = self.sequence(data, where)
        else:
            step = self.step(data, line, where, inherited={})
            steps = [step] if step is not None else []
        if len(self.problems) > problems_before:
            return None
        return Scenario(
            name=name,
            steps=tuple(steps),
            is_sequence="sequence" in data,
            description=description,
            match=match,
            source=self.source,
            line=line,
        )

    def match(self, data: Mapping[str, Any], where: str) -> Match | None:
        where = f"'match' of {where}"
        rules = self.mapping(data["match"], _line_of(data, "match"), where)
        if rules is None:
            return None
        self.keys(rules, _MATCH_KEYS, where)
        model = self.text(rules, "model", where) if "model" in rules else None
        contains = self.text(rules, "contains", where) if "contains" in rules else None
        if contains == "":
            self.fail(_line_of(rules, "contains"), f"'contains' in {where} is empty, which would match everything")
        regex = None
        if "regex" in rules:
            pattern = self.text(rules, "regex", where)
            if pattern is not None:
                try:
                    regex = re.compile(pattern)
                except re.error as exc:
                    self.fail(_line_of(rules, "regex"), f"'regex' in {where} is not a valid regular expression: {exc}")
        return Match(model=model, contains=contains, regex=regex)

    def listed(
        self, data: Mapping[str, Any], key: str, where: str, label: str, allowed: Sequence[str]
    ) -> list[tuple[Mapping[str, Any], int, str]] | None:
        """The mappings of the non-empty list `data[key]` (its keys checked against `allowed`), each with its
        line and its name in messages ("step 2 of scenario 'x'"); None when the list itself is wrong. An item
        that is not a mapping is reported and left out."""
        items = data[key]
        if not isinstance(items, list) or not items:
            self.fail(_line_of(data, key), f"'{key}' in {where} must be a non-empty list, got {_kind(items)}")
            return None
        result = []
        for index, item in enumerate(items):
            line = _line_of(items, index) or _line_of(data, key)
            item_where = f"{label} {index + 1} of {where}"
            mapping = self.mapping(item, line, item_where)
            if mapping is not None:
                self.keys(mapping, allowed, item_where)
                result.append((mapping, line, item_where))
        return result

    def sequence(self, data: Mapping[str, Any], where: str) -> list[Step]:
        listed = self.listed(data, "sequence", where, "step", _STEP_KEYS)
        if listed is None:
            return []
        inherited = self.settings(data, where)
        steps = (self.step(step, line, step_where, inherited) for step, line, step_where in listed)
        return [step for step in steps if step is not None]

    # --- step: a scenario's own answer, or one step of a sequence ---

    def step(self, data: Mapping[str, Any], line: int, where: str, inherited: Mapping[str, Any]) -> Step | None:
        bodies = sorted((key for key in _BODY_KEYS if key in data), key=lambda key: _line_of(data, key))
        if not bodies:
            more = "" if where.startswith("step") else " or sequence"
            self.fail(line, f"{where} has no answer; give one of {', '.join(_BODY_KEYS[:-1])}, error{more}")
            return None
        for alone in ("error", "choices"):
            if alone in bodies and len(bodies) > 1:
                other = next(key for key in bodies if key != alone)
                self.fail(
                    _line_of(data, bodies[1]),
                    f"{where} has both '{alone}' and '{other}'; "
                    + ("an error is the whole answer" if alone == "error" else f"put '{other}' inside each choice"),
                )
                return None
        settings = {**inherited, **self.settings(data, where)}
        if bodies[0] == "error":
            for key in _ANSWER_KEYS:
                if key in data:
                    self.fail(_line_of(data, key), f"'{key}' has no effect on an error answer ({where})")
            timing = {key: value for key, value in settings.items() if key in _TIMING_KEYS}
            return self.error(data, where, timing)
        if bodies[0] == "choices":
            return self.choices(data, where, settings)
        return self.answer(data, where, settings)

    def answer(self, data: Mapping[str, Any], where: str, settings: Mapping[str, Any]) -> Answer | None:
        """An answer from its parts, streamed in this order: reasoning, content (`chunks` or `text`), a refusal,
        tool calls."""
        if "chunks" in data and "text" in data:
            first, second = sorted(("chunks", "text"), key=lambda key: _line_of(data, key))
            self.fail(_line_of(data, second), f"{where} has both '{first}' and '{second}'; give exactly one")
            return None
        for other in ("chunks", "text", "tool_calls"):
            if "refusal" in data and other in data:
                self.fail(
                    _line_of(data, "refusal"), f"a refusal is the whole answer: {where} has 'refusal' and '{other}'"
                )
                return None
        items: list[Chunk | Fault] = []
        if "reasoning" in data and (reasoning := self.text(data, "reasoning", where)) is not None:
            items += [Chunk(piece, kind=REASONING) for piece in split_tokens(reasoning)]
        content = (
            self.chunks(data, where) if "chunks" in data else self.text_chunks(data, where) if "text" in data else []
        )
        if content is None:
            return None
        items += content
        if "refusal" in data and (refusal := self.text(data, "refusal", where)) is not None:
            items += [Chunk(piece, kind=REFUSAL) for piece in split_tokens(refusal)]
        calls: tuple[ToolCall, ...] = ()
        if "tool_calls" in data:
            ending = next((item.kind for item in items if isinstance(item, Fault) and item.kind in ENDINGS), None)
            if ending is not None:
                self.fail(
                    _line_of(data, "tool_calls"),
                    f"{where}: the tool calls come after '{ending}', which ends the stream",
                )
            calls = self.tool_calls(data, where)
            for call in calls:
                items.append(Chunk("", kind=TOOL_CALL, tool=call.index))
                items += [Chunk(piece, kind=ARGUMENTS, tool=call.index) for piece in split_tokens(call.arguments)]
        finish = settings.get("finish_reason", "tool_calls" if calls else "stop")
        return Answer(items=tuple(items), tool_calls=calls, **{**settings, "finish_reason": finish})

    def choices(self, data: Mapping[str, Any], where: str, settings: Mapping[str, Any]) -> Answer | None:
        """Per-choice answers for requests with n > 1; the first also answers n = 1."""
        listed = self.listed(data, "choices", where, "choice", _CHOICE_KEYS)
        if listed is None:
            return None
        answers = []
        for choice, _, choice_where in listed:
            if not any(key in choice for key in _CHOICE_KEYS[:-1]):
                self.fail(_line_of(choice), f"{choice_where} has no answer; give {', '.join(_CHOICE_KEYS[:-1])}")
                continue
            answer = self.answer(choice, choice_where, {**settings, **self.settings(choice, choice_where)})
            if answer is not None:
                answers.append(answer)
        if len(answers) != len(data["choices"]):
            return None
        return replace(answers[0], choices=tuple(answers), cache={})

    def tool_calls(self, data: Mapping[str, Any], where: str) -> tuple[ToolCall, ...]:
        calls: list[ToolCall] = []
        for call, _, call_where in self.listed(data, "tool_calls", where, "tool call", _TOOL_KEYS) or ():
            name = self.text(call, "name", call_where) if "name" in call else None
            if not name:
                self.fail(_line_of(call, "name"), f"{call_where} needs a 'name': the function called")
                continue
            arguments = call.get("arguments", {})
            if isinstance(arguments, Mapping):
                arguments = json.dumps(arguments, ensure_ascii=False)
            elif not isinstance(arguments, str):
                self.fail(
                    _line_of(call, "arguments"),
                    f"'arguments' in {call_where} must be a mapping, or the JSON text as a string; "
                    f"got {_kind(arguments)}",
                )
                continue
            call_id = self.text(call, "id", call_where) if "id" in call else None
            calls.append(ToolCall(index=len(calls), name=name, arguments=arguments, id=call_id or None))
        return tuple(calls)

    def settings(self, data: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The answer settings given in `data` (finish_reason, timing, usage, model, chaos), checked and typed."""
        result: dict[str, Any] = {}
        if "finish_reason" in data:
            value = data["finish_reason"]
            if value in FINISH_REASONS:
                result["finish_reason"] = value
            else:
                hint = (
                    _hint(value, FINISH_REASONS)
                    if isinstance(value, str)
                    else "; expected one of: " + ", ".join(FINISH_REASONS)
                )
                self.fail(_line_of(data, "finish_reason"), f"unknown finish_reason {_short(value)} in {where}{hint}")
        for key in ("ttft_ms", "interval_ms", *_TIMING_KEYS):
            if key in data and (value := self.number(data, key, where)) is not None:
                result[key] = float(value)
        if "usage" in data and (usage := self.usage(data, where)) is not None:
            result["usage"] = usage
        if "model" in data and (model := self.text(data, "model", where)) is not None:
            if model:
                result["model"] = model
            else:
                self.fail(_line_of(data, "model"), f"'model' in {where} is empty")
        if (
            "chaos" in data
            and (rates := self.mapping(data["chaos"], _line_of(data, "chaos"), f"'chaos' in {where}")) is not None
        ):
            try:
                result["chaos"] = chaos.from_mapping(rates)
            except chaos.ChaosError as exc:
                self.fail(_line_of(rates), f"{exc} ({where})")
        return result

    def text_chunks(self, data: Mapping[str, Any], where: str) -> list[Chunk] | None:
        text = self.text(data, "text", where)
        return None if text is None else [Chunk(piece) for piece in split_tokens(text)]

    def chunks(self, data: Mapping[str, Any], where: str) -> list[Chunk | Fault] | None:
        items = data["chunks"]
        if not isinstance(items, list):
            self.fail(_line_of(data, "chunks"), f"'chunks' in {where} must be a list, got {_kind(items)}")
            return None
        result: list[Chunk | Fault] = []
        ended_by = None
        for index, item in enumerate(items):
            line = _line_of(items, index) or _line_of(data, "chunks")
            item_where = f"chunk {index + 1} of {where}"
            if ended_by is not None:
                self.fail(line, f"{item_where} comes after '{ended_by}', which ends the stream; it would never be sent")
                break
            if isinstance(item, str):
                result.append(Chunk(item))
                continue
            if not isinstance(item, Mapping):
                self.fail(line, f"{item_where} must be text or a mapping, got {_kind(item)} {_short(item)}")
                continue
            self.keys(item, _CHUNK_KEYS, item_where)
            kinds = [key for key in _CHUNK_KINDS if key in item]
            if len(kinds) != 1:
                found = " and ".join(f"'{kind}'" for kind in kinds)
                self.fail(
                    line,
                    f"{item_where} needs exactly one of {', '.join(_CHUNK_KINDS)}"
                    + (f"; it has {found}" if kinds else ""),
                )
                continue
            entry = self.chunk_item(item, kinds[0], item_where)
            if entry is not None:
                result.append(entry)
                if isinstance(entry, Fault) and entry.kind in ENDINGS:
                    ended_by = entry.kind
        return result

    def chunk_item(self, item: Mapping[str, Any], kind: str, where: str) -> Chunk | Fault | None:
        """One mapping item of `chunks`: content with its own delay, or a fault."""
        line = _line_of(item, kind)
        delay = self.number(item, "delay_ms", where) if "delay_ms" in item else None
        delay = None if delay is None else float(delay)
        standalone = False
        if "standalone" in item:
            if kind != "error" or not isinstance(item["standalone"], bool):
                self.fail(_line_of(item, "standalone"), f"'standalone' in {where} goes with 'error', as true or false")
            else:
                standalone = item["standalone"]
        if kind == "content":
            content = self.text(item, "content", where)
            logprob = None
            if "logprob" in item:
                value = item["logprob"]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1e9 < value <= 0:
                    self.fail(
                        _line_of(item, "logprob"), f"'logprob' in {where} must be a number <= 0, got {_short(value)}"
                    )
                else:
                    logprob = float(value)
            return None if content is None else Chunk(content, delay, logprob=logprob)
        if "logprob" in item:
            self.fail(_line_of(item, "logprob"), f"'logprob' in {where} goes with 'content' only")
        if kind == "stall_ms":
            if "delay_ms" in item:
                self.fail(_line_of(item, "delay_ms"), f"{where}: a stall is a delay already; give 'stall_ms' alone")
            stall = self.number(item, "stall_ms", where)
            return None if stall is None else Fault("stall", float(stall))
        value = item[kind]
        if kind == "raw":
            if not isinstance(value, str) or not value:
                self.fail(line, f"'raw' in {where} must be non-empty text, got {_kind(value)}")
                return None
            return Fault("raw", delay, raw=value.encode())
        if kind == "error":
            if value is True:
                return Fault("error", delay, error=MID_STREAM_ERROR, standalone=standalone)
            spec = self.mapping(value, line, f"'error' in {where}")
            if spec is None:
                return None
            self.keys(spec, _ERROR_FIELDS, f"'error' in {where}")
            fields = {
                key: self.text(spec, key, where, nullable=key in ("code", "param"))
                for key in _ERROR_FIELDS
                if key in spec
            }
            return Fault("error", delay, error={**MID_STREAM_ERROR, **fields}, standalone=standalone)
        if value is not True:  # disconnect, end, keepalive
            self.fail(line, f"'{kind}' in {where} must be true, got {_short(value)}")
            return None
        return Fault(kind, delay, raw=KEEPALIVE if kind == "keepalive" else b"")

    def usage(self, data: Mapping[str, Any], where: str) -> Usage | None:
        where = f"'usage' of {where}"
        value = self.mapping(data["usage"], _line_of(data, "usage"), where)
        if value is None:
            return None
        self.keys(value, _USAGE_KEYS, where)
        counts = {key: self.number(value, key, where, integer=True) for key in _USAGE_KEYS if key in value}
        return Usage(**{key: int(count) for key, count in counts.items() if count is not None})

    def error(self, data: Mapping[str, Any], where: str, timing: Mapping[str, float]) -> ErrorReply | None:
        where = f"'error' of {where}"
        spec = self.mapping(data["error"], _line_of(data, "error"), where)
        if spec is None:
            return None
        self.keys(spec, _ERROR_KEYS, where)
        if "status" not in spec:
            self.fail(_line_of(data, "error"), f"{where} has no 'status'")
            return None
        status = spec["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            self.fail(
                _line_of(spec, "status"),
                f"'status' in {where} must be an HTTP error status 400-599, got {_short(status)}",
            )
            return None
        # message and type are always text in the envelope; code and param may be null
        fields = {
            key: self.text(spec, key, where, nullable=key in ("code", "param")) for key in _ERROR_FIELDS if key in spec
        }
        retry_after: float | str | None = None
        if isinstance(spec.get("retry_after"), str):
            retry_after = self.http_date(spec, "retry_after", where)
        elif "retry_after" in spec and (seconds := self.number(spec, "retry_after", where)) is not None:
            retry_after = float(seconds)
        retry_after_ms = self.number(spec, "retry_after_ms", where) if "retry_after_ms" in spec else None
        headers = self.headers(spec, where) if "headers" in spec else ()
        return ErrorReply(
            status=status,
            retry_after=retry_after,
            retry_after_ms=None if retry_after_ms is None else float(retry_after_ms),
            headers=headers,
            given=frozenset(fields),
            **fields,
            **timing,
        )

    def http_date(self, spec: Mapping[str, Any], key: str, where: str) -> str | None:
        value = spec[key]
        try:
            email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            self.fail(
                _line_of(spec, key),
                f"'{key}' in {where} must be seconds or an HTTP date "
                f"like 'Wed, 21 Oct 2026 07:28:00 GMT', got {_short(value)}",
            )
            return None
        return value

    def headers(self, spec: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
        value = self.mapping(spec["headers"], _line_of(spec, "headers"), f"'headers' in {where}")
        if value is None:
            return ()
        result = []
        for name, header in value.items():
            line = _line_of(value, name)
            if not _HEADER_NAME.fullmatch(name):
                self.fail(line, f"{_short(name)} is not a valid HTTP header name")
            elif isinstance(header, bool) or not isinstance(header, (str, int, float)):
                self.fail(
                    line, f"header '{name}' must be text or a number, got {_kind(header)} (write \"true\" in quotes)"
                )
            elif any(ch in str(header) for ch in "\r\n"):
                self.fail(line, f"header '{name}' must be on one line")
            else:
                result.append((name.lower(), str(header)))
        return tuple(result)


# --- entry points -----------------------------------------------------------------------------------------


def load_text(text: str, source: str = "<inline>", *, snippet: bool = False) -> LoadResult:
    """Validate scenario YAML (JSON is YAML too). A file must hold `scenarios:`; with `snippet`, one scenario
    or a list of them is accepted as well."""
    result = LoadResult()
    data, parsed = _parse_yaml(text, source, result.problems)
    if parsed:
        checker = _Checker(source, result.problems)
        result.scenarios = checker.snippet(data) if snippet else checker.document(data)
    result.files.append((source, len(result.scenarios)))
    return _check_names(result)


def load_data(data: Any, source: str = "<inline>") -> LoadResult:
    """Validate scenarios given as Python data — one scenario, a list of them, or `{"scenarios": [...]}` —
    with the same checks and messages as files."""
    result = LoadResult()
    result.scenarios = _Checker(source, result.problems).snippet(data)
    result.files.append((source, len(result.scenarios)))
    return _check_names(result)


def scenario_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Expand files and folders (recursively, `*.yaml`/`*.yml`, sorted by path) into the files to load."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # Hidden files and folders are skipped: editors' swap files, and the `..data` copies a Kubernetes
            # ConfigMap mount keeps beside its files, which would otherwise load every scenario twice.
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SCENARIO_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                problems.append(Problem(str(path), 0, "no scenario files (*.yaml, *.yml) in this folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), 0, "no such file or folder"))
    return files, problems


def load_paths(paths: Iterable[str | Path]) -> LoadResult:
    """Load every scenario file under `paths`, in order; names must be unique across all of them."""
    files, problems = scenario_files(paths)
    result = LoadResult(problems=problems)
    for path in files:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            result.problems.append(Problem(source, 0, "not UTF-8 text"))
            continue
        except OSError as exc:
            result.problems.append(Problem(source, 0, f"cannot read: {exc.strerror or exc}"))
            continue
        data, parsed = _parse_yaml(text, source, result.problems)
        if not parsed:
            continue
        scenarios = _Checker(source, result.problems).document(data)
        result.scenarios.extend(scenarios)
        result.files.append((source, len(scenarios)))
    return _check_names(result)


def _check_names(result: LoadResult) -> LoadResult:
    """Names must be unique across everything loaded; then every problem is put in reading order (file by
    file, line by line)."""
    seen: dict[str, Scenario] = {}
    for scenario in result.scenarios:
        first = seen.get(scenario.name)
        if first is not None:
            result.problems.append(
                Problem(
                    scenario.source,
                    scenario.line,
                    f"duplicate scenario name '{scenario.name}' (first defined at {first.where})",
                )
            )
        else:
            seen[scenario.name] = scenario
    order = {source: index for index, source in enumerate(dict.fromkeys(p.source for p in result.problems))}
    result.problems.sort(key=lambda problem: (order[problem.source], problem.line))
    return result
