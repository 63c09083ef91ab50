"""Choosing the scenario (and the sequence step) that answers a request.

Order, first that applies: the `X-Mock-Scenario` header names it; the request's model is a scenario's name;
the first scenario, in load order, whose `match` rules all hold; the scenario named `default`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ApiError
from .script import Scenario, Step


@dataclass(frozen=True)
class Selection:
    scenario: Scenario
    step: Step
    step_number: int  # 1-based; always 1 for a scenario without a sequence
    reason: str  # how it was chosen: header, model, match or default


class Selector:
    """Holds the served scenarios and the per-session sequence counters."""

    def __init__(self, scenarios: Iterable[Scenario]) -> None:
        self.counters: dict[tuple[str, str], int] = {}
        self.replace(scenarios)

    def replace(self, scenarios: Iterable[Scenario]) -> None:
        """Serve a new set of scenarios; counters of scenarios that keep their name carry on."""
        self.scenarios = list(scenarios)
        self.by_name = {scenario.name: scenario for scenario in self.scenarios}
        self.matchers = [scenario for scenario in self.scenarios if scenario.match is not None]

    def choose(self, *, model: str, last_user: str, session: str, header: str | None) -> Selection:
        if header is not None:
            scenario = self.by_name.get(header)
            if scenario is None:
                raise self._not_found(f"No scenario named '{header}' (asked for by the X-Mock-Scenario header).")
            return self._step(scenario, session, "header")
        scenario = self.by_name.get(model)
        if scenario is not None:
            return self._step(scenario, session, "model")
        for scenario in self.matchers:
            if scenario.match.holds(model, last_user):  # type: ignore[union-attr]
                return self._step(scenario, session, "match")
        scenario = self.by_name.get("default")
        if scenario is not None:
            return self._step(scenario, session, "default")
        raise self._not_found(f"No scenario matches this request (model '{model}') and there is no 'default'.")

    def _step(self, scenario: Scenario, session: str, reason: str) -> Selection:
        if not scenario.is_sequence:
            return Selection(scenario, scenario.steps[0], 1, reason)
        key = (scenario.name, session)
        count = self.counters.get(key, 0)
        self.counters[key] = count + 1
        index = min(count, len(scenario.steps) - 1)
        return Selection(scenario, scenario.steps[index], index + 1, reason)

    def _not_found(self, first: str) -> ApiError:
        names = ", ".join(scenario.name for scenario in self.scenarios) or "(none loaded)"
        message = (
            f"{first} Available scenarios: {names}. "
            "Choose one with the X-Mock-Scenario header or by using its name as the model."
        )
        return ApiError(404, message, "invalid_request_error", None, "scenario_not_found")
