"""The checks every part of a scenario uses: the right kind of value, known keys, numbers in range. Each
failure is recorded as a problem with its line; checking goes on, so one load reports every problem."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .marked_yaml import line_of
from .problems import Problem, hint, kind_of, short


class Checks:
    """Validates one document, collecting every problem."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems

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
        if not math.isfinite(value) or value < 0:
            self.fail(line, f"'{key}' in {where} must be zero or more, got {short(value)}")
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
        for index, item in enumerate(items):
            line = line_of(items, index) or line_of(data, key)
            item_where = f"{label} {index + 1} of {where}"
            mapping = self.mapping(item, line, item_where)
            if mapping is not None:
                self.keys(mapping, allowed, item_where)
                result.append((mapping, line, item_where))
        return result
