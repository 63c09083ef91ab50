"""Problems found in scenarios, and the wording every message shares: values shown short, kinds named in
words, a "did you mean" for a misspelt key."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Scenario


def header_text(text: str) -> bool:
    """Whether a header line can carry the text: no control characters but tab (aiohttp refuses a head with
    one)."""
    return all(char == "\t" or " " <= char != "\x7f" for char in text)


def printable(text: str) -> str:
    """Text safe to print on a terminal or in a log: line breaks, escape sequences, bidirectional controls and
    other invisible characters written as escapes (`\\n`, `\\x1b`, `\\u202e`), so that a name in a message can
    neither forge a line nor colour a terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


@dataclass(frozen=True)
class Problem:
    """One problem, `source:line: message`; the source and the message are kept printable (see `printable`)."""

    source: str
    line: int
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", printable(self.source))
        object.__setattr__(self, "message", printable(self.message))

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}" if self.line else f"{self.source}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "message": self.message}


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
    # What the largest document read held, against the bounds of one: its values (`marked_yaml.MAX_VALUES`) and
    # the chunks, steps, choices and tool calls built from it (`checks.MAX_PARTS`).
    values: int = 0
    parts: int = 0

    def raise_for_problems(self) -> None:
        if self.problems:
            raise ScenarioError(self.problems)


def kind_of(value: Any) -> str:
    """What a value is, in the words of a scenario file."""
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


class _ShortRepr(reprlib.Repr):
    """reprlib finds its method by the type's name: a subclass of dict or list (the YAML reader's, with line
    numbers) would fall back to the builtin repr of everything inside it, however large. Every value here is cut
    short by its kind instead."""

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, dict):
            return self.repr_dict(x, level)
        if isinstance(x, list):
            return self.repr_list(x, level)
        if isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 200:
            return f"a {len(str(x)) if x.bit_length() < 14_000 else 'huge'}-digit number"
        return super().repr1(x, level)


_REPR = _ShortRepr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 60, 60
_REPR.maxlong = 60


def short(value: Any) -> str:
    """A value as it appears in a message: cut short, whatever its size, depth or kind."""
    return _REPR.repr(value)


def hint(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'x'?` for a close choice, else the list of choices."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return "; expected one of: " + ", ".join(choices)
