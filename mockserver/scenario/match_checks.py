"""Checking a scenario's `match` rules: on the model, the last user message, and the conversation — the role of
its last message, the tool results since the assistant last spoke, how many turns it holds, the system prompt —
and on the request's tools, tool choice, output format, headers and metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .checks import Checks
from .fault_checks import HEADER_NAME
from .marked_yaml import line_of
from .model import Match, TextRule, ToolResultRule
from .problems import hint, kind_of, short

MATCH_KEYS = (
    "model",
    "contains",
    "regex",
    "last_role",
    "tool_result",
    "turn",
    "system",
    "tools",
    "tool_choice",
    "response_format",
    "headers",
    "metadata",
)
ROLES = ("user", "assistant", "tool", "system")
FORMATS = ("text", "json_object", "json_schema")
_TEXT_KEYS = ("contains", "regex")
_TOOL_RESULT_KEYS = ("name", *_TEXT_KEYS)
_TURN_KEYS = ("min", "max")
_FORMAT_KEYS = ("type", "name")


class MatchChecks(Checks):
    """`match:` and each of its rules."""

    def match(self, data: Mapping[str, Any], where: str) -> Match | None:
        where = f"'match' of {where}"
        rules = self.mapping(data["match"], line_of(data, "match"), where)
        if rules is None:
            return None
        self.keys(rules, MATCH_KEYS, where)
        text = self.text_rule(rules, where) or TextRule()
        found: dict[str, Any] = {"contains": text.contains, "regex": text.regex}
        if "model" in rules:
            found["model"] = self.text(rules, "model", where)
        if "last_role" in rules:
            found["last_role"] = self.choice(rules, "last_role", where, ROLES)
        if "tool_result" in rules:
            found["tool_result"] = self.tool_result(rules, where)
        if "turn" in rules:
            found["turn"] = self.turn(rules, where)
        if "system" in rules:
            found["system"] = self.system(rules, where)
        if "tools" in rules:
            found["tools"] = self.names(rules, "tools", where)
        if "tool_choice" in rules:
            found["tool_choice"] = self.text(rules, "tool_choice", where)
            if found["tool_choice"] == "":
                self.fail(line_of(rules, "tool_choice"), f"'tool_choice' in {where} is empty")
        if "response_format" in rules:
            found["response_format"], found["response_format_name"] = self.response_format(rules, where)
        for key in ("headers", "metadata"):
            if key in rules:
                found[key] = self.globs(rules, key, where)
        return Match(**found)

    def text_rule(self, rules: Mapping[str, Any], where: str) -> TextRule | None:
        """`contains` (not empty: it would hold everywhere) and `regex` (a valid Python regex), where given."""
        contains = self.text(rules, "contains", where) if "contains" in rules else None
        if contains == "":
            self.fail(line_of(rules, "contains"), f"'contains' in {where} is empty, which would match everything")
        regex = None
        if "regex" in rules:
            pattern = self.text(rules, "regex", where)
            if pattern is not None:
                try:
                    regex = re.compile(pattern)
                except (re.error, OverflowError, RecursionError, ValueError) as exc:
                    self.fail(line_of(rules, "regex"), f"'regex' in {where} is not a valid regular expression: {exc}")
        return TextRule(contains or None, regex) if contains or regex else None

    def choice(self, rules: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str | None:
        value = rules[key]
        if value in allowed:
            return str(value)
        self.fail(line_of(rules, key), f"unknown {key} {short(value)} in {where}{hint(str(value), allowed)}")
        return None

    def tool_result(self, rules: Mapping[str, Any], where: str) -> ToolResultRule | None:
        inner_where = f"'tool_result' in {where}"
        value = self.mapping(rules["tool_result"], line_of(rules, "tool_result"), inner_where)
        if value is None:
            return None
        self.keys(value, _TOOL_RESULT_KEYS, inner_where)
        text = self.text_rule(value, inner_where) or TextRule()
        name = self.text(value, "name", inner_where) if "name" in value else None
        if name == "":
            self.fail(line_of(value, "name"), f"'name' in {inner_where} is empty")
        return ToolResultRule(text.contains, text.regex, name or None)

    def turn(self, rules: Mapping[str, Any], where: str) -> tuple[int, int | None] | None:
        """`turn: N`, or `turn: {min: N, max: M}` (either may be left out)."""
        value = rules["turn"]
        line = line_of(rules, "turn")
        if isinstance(value, Mapping):
            inner_where = f"'turn' in {where}"
            self.keys(value, _TURN_KEYS, inner_where)
            if not any(key in value for key in _TURN_KEYS):
                self.fail(line, f"{inner_where} needs 'min', 'max' or both")
                return None
            bounds = {key: self.number(value, key, inner_where, integer=True) for key in _TURN_KEYS if key in value}
            if any(bound is None for bound in bounds.values()):
                return None
            low, high = int(bounds.get("min") or 0), bounds.get("max")
            if high is not None and high < low:
                self.fail(line, f"{inner_where}: 'max' ({int(high)}) is below 'min' ({low})")
                return None
            return low, None if high is None else int(high)
        number = self.number(rules, "turn", where, integer=True)
        return None if number is None else (int(number), int(number))

    def system(self, rules: Mapping[str, Any], where: str) -> TextRule | None:
        """`system: {contains, regex}`, or `system: TEXT` for `contains`."""
        value = rules["system"]
        inner_where = f"'system' in {where}"
        if isinstance(value, str):
            if not value:
                self.fail(line_of(rules, "system"), f"{inner_where} is empty, which would match everything")
            return self.text_rule({"contains": value}, inner_where) if value else None
        mapping = self.mapping(value, line_of(rules, "system"), inner_where)
        if mapping is None:
            return None
        self.keys(mapping, _TEXT_KEYS, inner_where)
        rule = self.text_rule(mapping, inner_where)
        if rule is None and not any(key in mapping for key in _TEXT_KEYS):
            self.fail(line_of(rules, "system"), f"{inner_where} needs 'contains' or 'regex'")
        return rule

    def names(self, rules: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        """One name, or a list of them (globs)."""
        value = rules[key]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            self.fail(line_of(rules, key), f"'{key}' in {where} must be a name or a non-empty list of names")
            return ()
        names = []
        for index, item in enumerate(items):
            if isinstance(item, str) and item:
                names.append(item)
            else:
                line = line_of(items, index) if items is value else line_of(rules, key)
                self.fail(line or line_of(rules, key), f"'{key}' in {where} holds {kind_of(item)} {short(item)}")
        return tuple(names)

    def response_format(self, rules: Mapping[str, Any], where: str) -> tuple[str | None, str | None]:
        """`response_format: TYPE`, or `{type: json_schema, name: GLOB}` (a name alone means json_schema)."""
        value = rules["response_format"]
        if not isinstance(value, Mapping):
            return self.choice(rules, "response_format", where, FORMATS), None
        inner_where = f"'response_format' in {where}"
        self.keys(value, _FORMAT_KEYS, inner_where)
        kind = self.choice(value, "type", inner_where, FORMATS) if "type" in value else "json_schema"
        name = self.text(value, "name", inner_where) if "name" in value else None
        if name is not None and kind != "json_schema":
            self.fail(line_of(value, "name"), f"{inner_where}: a 'name' goes with the type json_schema")
        if "type" not in value and "name" not in value:
            self.fail(line_of(rules, "response_format"), f"{inner_where} needs 'type', 'name' or both")
        return kind, name or None

    def globs(self, rules: Mapping[str, Any], key: str, where: str) -> tuple[tuple[str, str], ...]:
        """`{name: glob}`: header names (any case) or metadata keys, each with a glob on its value."""
        inner_where = f"'{key}' in {where}"
        value = self.mapping(rules[key], line_of(rules, key), inner_where)
        if value is None:
            return ()
        found = []
        for name, glob in value.items():
            line = line_of(value, name)
            if key == "headers" and not (isinstance(name, str) and HEADER_NAME.fullmatch(name)):
                self.fail(line, f"{short(name)} in {inner_where} is not a valid HTTP header name")
            elif isinstance(glob, bool) or not isinstance(glob, (str, int, float)):
                self.fail(line, f"'{name}' in {inner_where} must be text (a glob), got {kind_of(glob)}")
            else:
                found.append((str(name).lower() if key == "headers" else str(name), str(glob)))
        return tuple(found)
