"""The checks every part of a scenario uses: the right kind of value, known keys, numbers in range. Each
failure is recorded as a problem with its line; checking goes on, so one load reports every problem."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .marked_yaml import line_of
from .problems import Problem, hint, kind_of, short

# The largest number each kind of setting takes: a day for delays and waits, so that every time stays finite and
# every header (`retry-after-ms`) a number; a count the JSON of any client reads exactly.
LIMITS = {"ms": (86_400_000, "a day"), "seconds": (86_400, "a day"), "count": (2**53, "2^53")}
# The chunks, steps, choices and tool calls one load may build, in all: what a load costs in memory and time is
# bounded by this, however its aliases share parts.
MAX_PARTS = 200_000


class Checks:
    """Validates one document, collecting every problem.

    A part of the document that YAML aliases share (the same mapping or list, reached twice) is checked and built
    once: `built` holds what was made of it, by the part's identity (the document is alive while it is checked,
    so an identity is never reused)."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        self.built: dict[tuple[int, ...], Any] = {}
        self.parts = 0

    def spend(self, parts: int, line: int) -> bool:
        """Count `parts` more parts built; False (with one problem, the first time) past MAX_PARTS."""
        self.parts += parts
        if self.parts <= MAX_PARTS:
            return True
        if self.parts - parts <= MAX_PARTS:
            self.fail(
                line,
                f"too large: the answers hold more than {MAX_PARTS:,} chunks, steps, choices and tool calls in all "
                "(text counts one chunk per token; a part reached through an alias counts each time it is built)",
            )
        return False

    def fail(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message))

    def keys(self, data: Mapping[str, Any], allowed: Sequence[str], where: str) -> bool:
        ok = True
        for key in data:
            if key not in allowed:
                self.fail(line_of(data, key), f"unknown key '{key}' in {where}{hint(str(key), allowed)}")
                ok = False
        return ok

    def mapping(self, value: Any, line: int, what: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.fail(line, f"{what} must be a mapping (key: value lines), got {kind_of(value)}")
        return None

    def text(self, data: Mapping[str, Any], key: str, where: str, *, nullable: bool = False) -> str | None:
        value = data.get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.fail(line_of(data, key), f"'{key}' in {where} must be text, got {kind_of(value)}")
            return None
        return value

    def number(self, data: Mapping[str, Any], key: str, where: str, *, integer: bool = False) -> float | None:
        value = data[key]
        line = line_of(data, key)
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            unit = "a whole number" if integer else "a number"
            extra = ""
            if isinstance(value, str) and re.fullmatch(r"\s*[\d.]+\s*m?s\s*", value):
                extra = " (write the number alone, without a unit)"
            self.fail(line, f"'{key}' in {where} must be {unit}, got {kind_of(value)} {short(value)}{extra}")
            return None
        if value < 0 or (isinstance(value, float) and math.isnan(value)):
            self.fail(line, f"'{key}' in {where} must be zero or more, got {short(value)}")
            return None
        maximum, what = LIMITS["count" if integer else "ms" if key.endswith("_ms") else "seconds"]
        if value > maximum:  # also infinity; an int of any size compares without overflow
            self.fail(line, f"'{key}' in {where} must be at most {maximum:,} ({what}), got {short(value)}")
            return None
        number: float = value
        return number

    # --- file ---
    def listed(
        self, data: Mapping[str, Any], key: str, where: str, label: str, allowed: Sequence[str]
    ) -> list[tuple[Mapping[str, Any], int, str]] | None:
        """The mappings of the non-empty list `data[key]` (its keys checked against `allowed`), each with its
        line and its name in messages ("step 2 of scenario 'x'"); None when the list itself is wrong. An item
        that is not a mapping is reported and left out."""
        items = data[key]
        if not isinstance(items, list) or not items:
            self.fail(line_of(data, key), f"'{key}' in {where} must be a non-empty list, got {kind_of(items)}")
            return None
        result = []
        checked: set[int] = set()  # an item an alias repeats has its keys checked once
        for index, item in enumerate(items):
            line = line_of(items, index) or line_of(data, key)
            item_where = f"{label} {index + 1} of {where}"
            mapping = self.mapping(item, line, item_where)
            if mapping is not None:
                if id(mapping) not in checked:
                    checked.add(id(mapping))
                    self.keys(mapping, allowed, item_where)
                result.append((mapping, line, item_where))
        return result
