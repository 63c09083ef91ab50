"""Whether a scenario's `match` rules hold for a request, and — when one does not — which rule failed and what the
request had instead.

Rules read the request as `Facts`: each fact (the last role, the turn, the tool results since the assistant last
spoke, the system prompt, ...) is worked out from the whole conversation — prior turns included — the first time
a rule needs it, and then shared by every scenario tried for the request, so a plain request against plain rules
costs no more than before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ..scenario.model import Match
from .ask import Ask, Message, latest_tool_results

_SHORT = 60


@dataclass(frozen=True)
class Miss:
    """The first rule of a scenario that does not hold: what it wants, and what the request has instead."""

    rule: str
    wanted: str
    got: str

    def __str__(self) -> str:
        return f"{self.rule}: wanted {self.wanted}, got {self.got}"

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "wanted": self.wanted, "got": self.got}


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _SHORT else text[: _SHORT - 3] + "...")


_UNSET: Any = object()


class Facts:
    """A request as `match` rules read it. Each fact is worked out on first use (plain attributes, not
    `cached_property`: this is on every request's path)."""

    __slots__ = ("_last_role", "_last_user", "_system", "_tool_results", "_turn", "ask", "headers")

    def __init__(self, ask: Ask, headers: Mapping[str, str] | None = None) -> None:
        self.ask = ask
        self.headers = headers or {}
        self._last_user: Any = _UNSET
        self._last_role: Any = _UNSET
        self._turn: Any = _UNSET
        self._tool_results: Any = _UNSET
        self._system: Any = _UNSET

    @property
    def conversation(self) -> tuple[Message, ...]:
        return self.ask.conversation

    @property
    def last_user(self) -> str | None:
        """The text of the last user message (None: there is none)."""
        if self._last_user is _UNSET:
            ask = self.ask
            if not ask.prior and (ask.last_user or not ask.messages):
                self._last_user = ask.last_user if ask.messages else None
            else:
                self._last_user = next((t.text for t in reversed(self.conversation) if t.role == "user"), None)
        result: str | None = self._last_user
        return result

    @property
    def last_role(self) -> str:
        if self._last_role is _UNSET:
            conversation = self.conversation
            role = conversation[-1].role if conversation else "none"
            self._last_role = "system" if role == "developer" else role
        result: str = self._last_role
        return result

    @property
    def turn(self) -> int:
        """Assistant turns so far: runs of assistant messages (a text and its calls are one turn)."""
        if self._turn is _UNSET:
            turns, previous = 0, None
            for message in self.conversation:
                if message.role == "assistant" and previous != "assistant":
                    turns += 1
                previous = message.role
            self._turn = turns
        result: int = self._turn
        return result

    @property
    def tool_results(self) -> list[tuple[str, str]]:
        """(function name, output) of each tool result since the last assistant turn; the name is that of the call
        the result answers."""
        if self._tool_results is _UNSET:
            self._tool_results = [(name, result.text) for name, result in latest_tool_results(self.conversation)]
        result_list: list[tuple[str, str]] = self._tool_results
        return result_list

    @property
    def system(self) -> str | None:
        if self._system is _UNSET:
            texts = [turn.text for turn in self.conversation if turn.role in ("system", "developer")]
            self._system = "\n".join(texts) if texts else None
        result: str | None = self._system
        return result

    @property
    def tool_names(self) -> list[str]:
        return [tool.name for tool in self.ask.tools]

    @property
    def tool_choice(self) -> str:
        """auto, none, required, or the name of the function forced."""
        if self.ask.tool_choice == "function" and self.ask.forced_tool:
            return self.ask.forced_tool
        return self.ask.tool_choice

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is None:  # a plain dict of headers, not aiohttp's case-insensitive one
            value = next((v for k, v in self.headers.items() if k.lower() == name), None)
        return value


def _lacks(contains: str | None, regex: re.Pattern[str] | None, text: str | None) -> str | None:
    """Which of a `contains` / `regex` pair does not hold on a text (None: the request has no such text)."""
    if contains is not None and (text is None or contains.casefold() not in text.casefold()):
        return "contains"
    if regex is not None and (text is None or regex.search(text) is None):
        return "regex"
    return None


def failed(match: Match, facts: Facts) -> str | None:
    """The first rule of `match` that does not hold for the request (`tools:NAME`, `headers:NAME`, ... for the
    one element of a list or mapping), or None when they all hold; it builds nothing, for the request's path.
    Rules on what the request is (model, tools, tool choice, output format, headers, metadata) come first, then
    rules on its conversation (the last user message, the last role, the turn, the tool results, the system
    prompt)."""
    ask = facts.ask
    if match.model is not None and not fnmatchcase(ask.model, match.model):
        return "model"
    for pattern in match.tools:
        if not any(fnmatchcase(tool.name, pattern) for tool in ask.tools):
            return "tools:" + pattern
    if match.tool_choice is not None and facts.tool_choice != match.tool_choice:
        return "tool_choice"
    if match.response_format is not None and not _format_holds(match, ask):
        return "response_format"
    for name, pattern in match.headers:
        value = facts.header(name)
        if value is None or not fnmatchcase(value, pattern):
            return "headers:" + name
    for key, pattern in match.metadata:
        value = ask.metadata.get(key)
        if not isinstance(value, str) or not fnmatchcase(value, pattern):
            return "metadata:" + key
    if (match.contains is not None or match.regex is not None) and (
        lacking := _lacks(match.contains, match.regex, facts.last_user)
    ):
        return lacking
    if match.last_role is not None and facts.last_role != match.last_role:
        return "last_role"
    if match.turn is not None:
        low, high = match.turn
        if facts.turn < low or (high is not None and facts.turn > high):
            return "turn"
    if match.tool_result is not None and not _tool_result_holds(match, facts):
        return "tool_result"
    if match.system is not None and (lacking := _lacks(match.system.contains, match.system.regex, facts.system)):
        return "system." + lacking
    return None


def miss(match: Match, facts: Facts) -> Miss | None:
    """The first rule of `match` that does not hold, with what it wants and what the request has instead."""
    rule = failed(match, facts)
    return None if rule is None else _explained(rule, match, facts)


def _format_holds(match: Match, ask: Ask) -> bool:
    output = ask.output
    return output.type == match.response_format and (
        match.response_format_name is None or fnmatchcase(output.name or "", match.response_format_name)
    )


def _tool_result_holds(match: Match, facts: Facts) -> bool:
    rule = match.tool_result
    assert rule is not None
    return any(
        (rule.name is None or fnmatchcase(name, rule.name)) and _lacks(rule.contains, rule.regex, text) is None
        for name, text in facts.tool_results
    )


def _explained(rule: str, match: Match, facts: Facts) -> Miss:
    """What a failed rule wanted, and what the request had."""
    ask = facts.ask
    kind, _, part = rule.partition(":")
    if kind == "model":
        return Miss(rule, repr(match.model), repr(ask.model))
    if kind == "tools":
        got = "offered: " + ", ".join(facts.tool_names) if ask.tools else "no tools"
        return Miss("tools", f"{part!r} offered", got)
    if kind == "tool_choice":
        return Miss(rule, repr(match.tool_choice), repr(facts.tool_choice))
    if kind == "response_format":
        wanted = repr(match.response_format)
        if match.response_format_name is not None:
            wanted += f" named {match.response_format_name!r}"
        got = repr(ask.output.type) + (f" named {ask.output.name!r}" if ask.output.name else "")
        return Miss(rule, wanted, got)
    if kind == "headers":
        value = facts.header(part)
        pattern = dict(match.headers)[part]
        return Miss(f"headers.{part}", repr(pattern), "no such header" if value is None else repr(value))
    if kind == "metadata":
        found = ask.metadata.get(part)
        return Miss(
            f"metadata.{part}", repr(dict(match.metadata)[part]), "no such key" if found is None else repr(found)
        )
    if kind in ("contains", "regex"):
        wanted = repr(match.contains) if kind == "contains" else repr(match.regex and match.regex.pattern)
        text = facts.last_user
        return Miss(rule, wanted, "no user message" if text is None else _quoted(text))
    if kind == "last_role":
        return Miss(rule, repr(match.last_role), repr(facts.last_role))
    if kind == "turn":
        assert match.turn is not None
        low, high = match.turn
        wanted = str(low) if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        return Miss(rule, wanted, str(facts.turn))
    if kind == "tool_result":
        assert match.tool_result is not None
        wanted = ", ".join(f"{key} {value!r}" for key, value in match.tool_result.describe().items())
        results = facts.tool_results
        got = ", ".join(f"{name or '?'} {_quoted(text)}" for name, text in results[:3]) if results else "none"
        return Miss(rule, wanted or "a tool result since the last assistant turn", got)
    system = match.system
    assert system is not None
    wanted = repr(system.contains) if rule == "system.contains" else repr(system.regex and system.regex.pattern)
    return Miss(rule, wanted, "no system message" if facts.system is None else _quoted(facts.system))


# The rules in the order `failed` checks them: a scenario that fails later got further.
_ORDER = (
    *("model", "tools", "tool_choice", "response_format", "headers", "metadata"),
    *("contains", "regex", "last_role", "turn", "tool_result", "system"),
)


def distance(match: Match, facts: Facts) -> tuple[int, int, int]:
    """How far a scenario is from holding, when none matched, as a sort key: the later its first failing rule
    (it got further: a step with other data rather than another step), then the fewer its failing rules, then
    the more its rules that hold. Each tool, header and metadata key counts as a rule of its own."""
    first = failed(match, facts)
    reached = _ORDER.index((first or "system").split(":")[0].split(".")[0])
    failing = holding = 0
    for key, value in match.describe().items():
        parts: list[Any] = [value]
        if key in ("tools", "headers", "metadata") and isinstance(value, (list, dict)):
            parts = list(value.items()) if isinstance(value, dict) else value
        for part in parts:
            if failed(_single(match, key, part), facts) is None:
                holding += 1
            else:
                failing += 1
    return -reached, failing, -holding


def _single(match: Match, key: str, part: Any) -> Match:
    """A Match with only one of `match`'s rules."""
    if key == "tools":
        return Match(tools=(part,))
    if key == "headers":
        return Match(headers=(part,))
    if key == "metadata":
        return Match(metadata=(part,))
    if key == "response_format":
        return Match(response_format=match.response_format, response_format_name=match.response_format_name)
    return Match(**{key: getattr(match, key)})
