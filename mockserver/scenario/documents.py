"""Checking scenario files and scenarios: the file's shape, names, sequences (`match` rules: match_checks.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .answers import BODY_KEYS, STEP_KEYS
from .continuations import ContinuationChecks, is_continuation
from .marked_yaml import line_of
from .match_checks import MatchChecks
from .model import Scenario, Step
from .problems import kind_of, short
from .quota import Quota, QuotaError, from_mapping

MAX_NAME = 256  # characters: a name is a model name, and goes in URLs (`/_mock/scenarios/NAME`) and headers
SCENARIO_KEYS = ("name", "description", "match", "rate_limit", "accept_unknown_params", "sequence", *STEP_KEYS)
FILE_KEYS = ("version", "scenarios")


class ScenarioChecks(ContinuationChecks, MatchChecks):
    """Files, scenarios, their `match` rules and sequences."""

    def document(self, data: Any) -> list[Scenario]:
        if data is None:
            self.fail(0, "the file is empty; expected a 'scenarios:' list")
            return []
        if isinstance(data, list):
            self.fail(line_of(data), "expected 'scenarios:' at the top of the file, with the list below it")
            return []
        if not isinstance(data, Mapping):
            self.fail(line_of(data), f"expected a mapping with a 'scenarios:' list, got {kind_of(data)}")
            return []
        self.keys(data, FILE_KEYS, "the file")
        if "version" in data and (data["version"] != 1 or isinstance(data["version"], bool)):
            self.fail(
                line_of(data, "version"), f"unsupported version {short(data['version'])}; this server reads version 1"
            )
        if "scenarios" not in data:
            self.fail(line_of(data), "missing 'scenarios:' list")
            return []
        items = data["scenarios"]
        if not isinstance(items, list):
            self.fail(line_of(data, "scenarios"), f"'scenarios' must be a list, got {kind_of(items)}")
            return []
        return self.scenario_list(items, line_of(data, "scenarios"))

    def snippet(self, data: Any) -> list[Scenario]:
        """What a test or the control API may send: a whole file, one scenario, or a list of scenarios."""
        if isinstance(data, Mapping) and ("scenarios" in data or "version" in data):
            return self.document(data)
        if isinstance(data, Mapping):
            scenario = self.scenario(data, line_of(data) or 1)
            return [scenario] if scenario is not None else []
        if isinstance(data, list):
            return self.scenario_list(data, line_of(data))
        self.fail(
            line_of(data), f"expected a scenario, a list of scenarios or a 'scenarios:' file, got {kind_of(data)}"
        )
        return []

    def scenario_list(self, items: list[Any], line: int) -> list[Scenario]:
        scenarios: list[Scenario] = []
        for index, item in enumerate(items):
            if is_continuation(item):  # the next step of a scenario above it
                self.continuation(item, line_of(items, index) or line, scenarios)
                continue
            key = (id(item),)
            if key not in self.built:
                self.built[key] = self.scenario(item, line_of(items, index) or line)
            if self.built[key] is not None:
                scenarios.append(self.built[key])
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
                line_of(data, "name"), f"'name' must be one word of text (no spaces), got {kind_of(name)} {short(name)}"
            )
        elif not name.isprintable():
            self.fail(line_of(data, "name"), f"'name' holds a control or invisible character: {short(name)}")
        elif len(name) > MAX_NAME:
            self.fail(
                line_of(data, "name"),
                f"'name' is {len(name):,} characters long, more than {MAX_NAME} (it goes in URLs and headers): "
                f"{short(name)}",
            )
        where = f"scenario '{name}'" if isinstance(name, str) and name else "scenario"
        self.keys(data, SCENARIO_KEYS, where)
        description = self.text(data, "description", where) if "description" in data else None
        match = self.match(data, where) if "match" in data else None
        rate_limit = self.rate_limit(data, where) if "rate_limit" in data else None
        accept = data.get("accept_unknown_params", False)
        if not isinstance(accept, bool):
            self.fail(
                line_of(data, "accept_unknown_params"), f"'accept_unknown_params' in {where} must be true or false"
            )
        if "sequence" in data:
            for key in BODY_KEYS:
                if key in data:
                    self.fail(
                        line_of(data, key), f"{where} has both 'sequence' and '{key}'; the steps hold the answers"
                    )
            steps = self.sequence(data, where)
        else:
            step = self.step(data, line, where, inherited={})
            steps = [step] if step is not None else []
        if len(self.problems) > problems_before or not isinstance(name, str):
            return None
        return Scenario(
            name=name,
            steps=tuple(steps),
            is_sequence="sequence" in data,
            description=description,
            match=match,
            rate_limit=rate_limit,
            source=self.source,
            line=line,
            accept_unknown_params=accept is True,
        )

    def rate_limit(self, data: Mapping[str, Any], where: str) -> Quota | None:
        """The scenario's own quota: `{requests: 60/min, tokens: 40000/min}`."""
        where = f"'rate_limit' of {where}"
        limits = self.mapping(data["rate_limit"], line_of(data, "rate_limit"), where)
        if limits is None:
            return None
        fine = True
        for key, value in limits.items():  # one at a time, so that a problem names its line
            try:
                from_mapping({key: value})
            except QuotaError as exc:
                self.fail(line_of(limits, key), f"{exc} ({where})")
                fine = False
        return from_mapping(limits) if fine else None

    def sequence(self, data: Mapping[str, Any], where: str) -> list[Step]:
        listed = self.listed(data, "sequence", where, "step", STEP_KEYS)
        if listed is None:
            return []
        inherited = self.settings(data, where)
        steps = []
        for step_data, line, step_where in listed:
            key = (id(step_data), id(data))  # a step an alias repeats is built once (with this scenario's settings)
            if key not in self.built and self.spend(1, line):
                self.built[key] = self.step(step_data, line, step_where, inherited)
            step = self.built.get(key)
            if step is not None:
                steps.append(step)
        return steps

    # --- step: a scenario's own answer, or one step of a sequence ---
