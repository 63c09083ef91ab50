"""A sequence written in pieces: an item `continues: NAME` in a `scenarios:` list is the next step of the sequence
of scenario NAME, written above it in the same list. A file that only ever grows at its end can still give a
scenario more steps — that is how a recording says "the same request, answered differently the next time" —
and a person can write one the same way. The item is a step like those of `sequence:` (it takes no name, match
or settings of the scenario), and turns a scenario without a sequence into one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .answers import STEP_KEYS, AnswerChecks
from .marked_yaml import line_of
from .model import Scenario
from .problems import hint, kind_of, short

CONTINUES = "continues"
CONTINUATION_KEYS = (CONTINUES, *STEP_KEYS)


def is_continuation(item: Any) -> bool:
    return isinstance(item, Mapping) and CONTINUES in item


class ContinuationChecks(AnswerChecks):
    """Items that continue a scenario above them."""

    def continuation(self, data: Mapping[str, Any], line: int, scenarios: list[Scenario]) -> None:
        """Add the step `data` to the scenario it names among `scenarios` (those above it, in order)."""
        name = data[CONTINUES]
        found = next((i for i in range(len(scenarios) - 1, -1, -1) if scenarios[i].name == name), None)
        if not isinstance(name, str) or found is None:
            wanted = f"'{name}'" if isinstance(name, str) else f"{kind_of(name)} {short(name)}"
            self.fail(
                line,
                f"'continues' names {wanted}, which is not a scenario above it in this list: a step that "
                "continues a sequence comes after the scenario it continues",
            )
            return
        head = scenarios[found]
        where = f"step {len(head.steps) + 1} of scenario '{name}'"
        before = len(self.problems)
        if "name" in data:
            self.fail(
                line_of(data, "name"),
                f"a 'continues' item is {where}: it has no 'name' of its own (a new scenario has no 'continues')",
            )
        for key in data:
            if key != "name" and key not in CONTINUATION_KEYS:
                self.fail(line_of(data, key), f"unknown key '{key}' in {where}{hint(str(key), CONTINUATION_KEYS)}")
        step = self.step(data, line, where, inherited={})
        if step is not None and len(self.problems) == before:
            scenarios[found] = replace(head, steps=(*head.steps, step), is_sequence=True)
