"""Whether a scenario's `match` rules hold for a request, and — when one does not — which rule failed and what the
request had instead.

Rules read the request as `Facts`: each fact (the last role, the turn, the tool results since the assistant last
spoke, the system prompt, ...) is worked out from the whole conversation — prior turns included — the first time
a rule needs it, and then shared by every scenario tried for the request, so a plain request against plain rules
costs no more than before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any

from ..scenario.model import Match, TextRule
from .ask import Ask, Message

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


class Facts:
    """A request as `match` rules read it."""

    def __init__(self, ask: Ask, headers: Mapping[str, str] | None = None) -> None:
        self.ask = ask
        self.headers = headers or {}

    @cached_property
    def conversation(self) -> tuple[Message, ...]:
        return self.ask.conversation

    @cached_property
    def last_user(self) -> str | None:
        """The text of the last user message (None: there is none)."""
        if not self.ask.prior and self.ask.last_user:
            return self.ask.last_user
        return next((turn.text for turn in reversed(self.conversation) if turn.role == "user"), None)

    @cached_property
    def last_role(self) -> str:
        if not self.conversation:
            return "none"
        role = self.conversation[-1].role
        return "system" if role == "developer" else role

    @cached_property
    def turn(self) -> int:
        """Assistant turns so far: runs of assistant messages (a text and its calls are one turn)."""
        turns, previous = 0, None
        for message in self.conversation:
            if message.role == "assistant" and previous != "assistant":
                turns += 1
            previous = message.role
        return turns

    @cached_property
    def tool_results(self) -> list[tuple[str, str]]:
        """(function name, output) of each tool result since the last assistant turn; the name is that of the call
        the result answers."""
        results = []
        for message in reversed(self.conversation):
            if message.role == "assistant":
                break
            if message.role == "tool":
                results.append(message)
        if not results:
            return []
        names = {call.id: call.name for turn in self.conversation for call in turn.calls}
        return [(names.get(result.call_id or "", ""), result.text) for result in reversed(results)]

    @cached_property
    def system(self) -> str | None:
        texts = [turn.text for turn in self.conversation if turn.role in ("system", "developer")]
        return "\n".join(texts) if texts else None

    @cached_property
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


def _text(rule: TextRule, text: str | None, what: str, name: str) -> Miss | None:
    """A `contains` / `regex` rule on one text (None: the request has no such text)."""
    if rule.contains is not None and (text is None or rule.contains.casefold() not in text.casefold()):
        got = f"no {what}" if text is None else _quoted(text)
        return Miss(f"{name}contains", repr(rule.contains), got)
    if rule.regex is not None and (text is None or rule.regex.search(text) is None):
        got = f"no {what}" if text is None else _quoted(text)
        return Miss(f"{name}regex", repr(rule.regex.pattern), got)
    return None


def miss(match: Match, facts: Facts) -> Miss | None:
    """The first rule of `match` that does not hold for the request, or None when they all hold."""
    ask = facts.ask
    if match.model is not None and not fnmatchcase(ask.model, match.model):
        return Miss("model", repr(match.model), repr(ask.model))
    if match.contains is not None or match.regex is not None:
        found = _text(TextRule(match.contains, match.regex), facts.last_user, "user message", "")
        if found:
            return found
    if match.last_role is not None and facts.last_role != match.last_role:
        return Miss("last_role", repr(match.last_role), repr(facts.last_role))
    if match.turn is not None:
        low, high = match.turn
        if facts.turn < low or (high is not None and facts.turn > high):
            wanted = str(low) if low == high else f"{low} or more" if high is None else f"{low} to {high}"
            return Miss("turn", wanted, str(facts.turn))
    if match.tool_result is not None and (found := _tool_result(match, facts)):
        return found
    if match.system is not None and (found := _text(match.system, facts.system, "system message", "system.")):
        return found
    for pattern in match.tools:
        if not any(fnmatchcase(name, pattern) for name in facts.tool_names):
            got = "offered: " + ", ".join(facts.tool_names) if facts.tool_names else "no tools"
            return Miss("tools", f"{pattern!r} offered", got)
    if match.tool_choice is not None and facts.tool_choice != match.tool_choice:
        return Miss("tool_choice", repr(match.tool_choice), repr(facts.tool_choice))
    if match.response_format is not None and (found := _format(match, ask)):
        return found
    for name, pattern in match.headers:
        value = facts.header(name)
        if value is None or not fnmatchcase(value, pattern):
            return Miss(f"headers.{name}", repr(pattern), "no such header" if value is None else repr(value))
    for key, pattern in match.metadata:
        value = ask.metadata.get(key)
        if not isinstance(value, str) or not fnmatchcase(value, pattern):
            return Miss(f"metadata.{key}", repr(pattern), "no such key" if value is None else repr(value))
    return None


def _tool_result(match: Match, facts: Facts) -> Miss | None:
    rule = match.tool_result
    assert rule is not None
    if not facts.tool_results:
        return Miss("tool_result", "a tool result since the last assistant turn", "none")
    for name, text in facts.tool_results:
        if (rule.name is None or fnmatchcase(name, rule.name)) and _text(rule, text, "", "") is None:
            return None
    results = ", ".join(f"{name or '?'} {_quoted(text)}" for name, text in facts.tool_results[:3])
    return Miss("tool_result", ", ".join(f"{k} {v!r}" for k, v in rule.describe().items()), results)


def _format(match: Match, ask: Ask) -> Miss | None:
    output = ask.output
    name = output.name or ""
    if output.type == match.response_format and (
        match.response_format_name is None or fnmatchcase(name, match.response_format_name)
    ):
        return None
    wanted = repr(match.response_format)
    if match.response_format_name is not None:
        wanted += f" named {match.response_format_name!r}"
    got = repr(output.type) + (f" named {name!r}" if output.name else "")
    return Miss("response_format", wanted, got)


def rules_held(match: Match, facts: Facts) -> int:
    """How many of the rules given hold: how close a scenario came, when none matched."""
    held = 0
    for key, value in match.describe().items():
        if key in ("tools", "headers", "metadata") and isinstance(value, (list, dict)):
            parts: list[Any] = list(value.items()) if isinstance(value, dict) else value
            for part in parts:
                single = _single(match, key, part)
                held += miss(single, facts) is None
            continue
        held += miss(_single(match, key, value), facts) is None
    return held


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
