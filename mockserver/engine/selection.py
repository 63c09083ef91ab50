"""Choosing the scenario (and the sequence step) that answers a request.

Scenarios live in layers, searched in order: those added for the request's session, those added at run time
for everyone, those loaded from files. For each request, the first rule that applies picks the answer: the
session's `use` override; the `X-Mock-Scenario` header; the request's model as a scenario's name; the first
scenario whose `match` rules all hold (layer by layer, in the order they were added); the scenario named
`default`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..scenario.model import Match, Scenario, Step
from ..wire.errors import ApiError
from .ask import Ask
from .matching import Facts, Miss, distance, failed, miss

# How a scenario was chosen, in the order the rules apply.
ChosenBy = Literal["use", "header", "model", "match", "default"]


_CLOSEST = 3  # scenarios a miss names


@dataclass(frozen=True)
class Selection:
    scenario: Scenario
    step: Step
    step_number: int  # 1-based; always 1 for a scenario without a sequence
    reason: ChosenBy


class ScenarioMiss(ApiError):
    """No scenario answers: a 404 `scenario_not_found` whose message names the closest scenarios and why each
    was not chosen; `trace` holds the same as data, for the journal."""

    def __init__(self, message: str, trace: list[dict[str, Any]]) -> None:
        super().__init__(404, message, "invalid_request_error", None, "scenario_not_found")
        self.trace = trace


class Layer:
    """Named scenarios in the order they were added, with their matchers ready. Adding or removing one costs
    the same however many there are."""

    def __init__(self, scenarios: Iterable[Scenario] = ()) -> None:
        self.by_name: dict[str, Scenario] = {}
        self.matchers: dict[str, tuple[Scenario, Match]] = {}  # by name, in the order of by_name
        self.add(scenarios)

    def add(self, scenarios: Iterable[Scenario]) -> list[str]:
        """Add scenarios, replacing any of the same name; returns the names replaced."""
        replaced = []
        for scenario in scenarios:
            if self.remove(scenario.name):  # re-adding moves it to the end of the order
                replaced.append(scenario.name)
            self.by_name[scenario.name] = scenario
            if scenario.match is not None:
                self.matchers[scenario.name] = (scenario, scenario.match)
        return replaced

    def remove(self, name: str) -> bool:
        self.matchers.pop(name, None)
        return self.by_name.pop(name, None) is not None


class Selector:
    """The served scenarios, per-session additions and overrides, and the sequence counters."""

    def __init__(self, scenarios: Iterable[Scenario] = ()) -> None:
        self.files = Layer(scenarios)
        self.runtime = Layer()
        self.sessions: dict[str, Layer] = {}
        # session -> the scenario answering all of its requests; the key None holds the one for everyone
        self.uses: dict[str | None, str] = {}
        self.counters: dict[str, dict[str, int]] = {}  # session -> scenario name -> requests answered

    def replace_files(self, scenarios: Iterable[Scenario]) -> None:
        """Serve a new set of file scenarios (a reload); counters of names that remain carry on."""
        self.files = Layer(scenarios)

    def layers(self, session: str) -> list[Layer]:
        own = self.sessions.get(session)
        return [own, self.runtime, self.files] if own is not None else [self.runtime, self.files]

    def find(self, name: str, session: str) -> Scenario | None:
        for layer in self.layers(session):
            scenario = layer.by_name.get(name)
            if scenario is not None:
                return scenario
        return None

    def visible(self, session: str) -> list[Scenario]:
        """Every scenario a request of this session can reach, in selection order, each name once."""
        seen: dict[str, Scenario] = {}
        for layer in self.layers(session):
            for name, scenario in layer.by_name.items():
                seen.setdefault(name, scenario)
        return list(seen.values())

    def add(self, scenarios: Iterable[Scenario], session: str | None = None) -> list[str]:
        layer = self.runtime if session is None else self.sessions.setdefault(session, Layer())
        return layer.add(scenarios)

    def remove(self, name: str, session: str | None = None) -> bool:
        """Remove a scenario added at run time (for everyone, or for one session)."""
        layer = self.runtime if session is None else self.sessions.get(session)
        return layer is not None and layer.remove(name)

    def use(self, name: str | None, session: str | None) -> None:
        """Answer every request of `session` (of everyone, with None) with scenario `name`; None stops."""
        if name is None:
            self.uses.pop(session, None)
        else:
            self.uses[session] = name

    def reset(self, session: str | None = None) -> None:
        """Forget sequence counts — all of them, with the override for everyone — or one session's, along with
        its scenarios and override."""
        if session is None:
            self.counters.clear()
            self.uses.pop(None, None)
            return
        self.counters.pop(session, None)
        self.sessions.pop(session, None)
        self.uses.pop(session, None)

    def choose(
        self,
        ask: Ask,
        *,
        session: str,
        header: str | None,
        headers: Mapping[str, str] | None = None,
        peek: bool = False,
    ) -> Selection:
        """The scenario and step that answer `ask`. With `peek`, sequence counts are left as they are (to explain a
        choice without making it)."""
        used = (self.uses.get(session) or self.uses.get(None)) if self.uses else None
        if used is not None:
            return self._named(used, session, "use", "set with use()", peek)
        if header is not None:
            return self._named(header, session, "header", "asked for by the X-Mock-Scenario header", peek)
        scenario = self.find(ask.model, session)
        if scenario is not None:
            return self._step(scenario, session, "model", peek)
        facts = Facts(ask, headers)
        for layer in self.layers(session):
            for scenario, match in layer.matchers.values():
                if failed(match, facts) is None:
                    return self._step(scenario, session, "match", peek)
        scenario = self.find("default", session)
        if scenario is not None:
            return self._step(scenario, session, "default", peek)
        raise self._no_match(ask.model, facts, session)

    def give_back(self, selection: Selection, session: str) -> None:
        """Undo the count of a selection that was never answered (a request over its rate limit): the next
        request gets the same step of a sequence."""
        if selection.scenario.is_sequence:
            self.counters[session][selection.scenario.name] -= 1

    def misses(self, facts: Facts, session: str) -> list[tuple[Scenario, Miss | None]]:
        """Every scenario with `match` rules a request of this session can reach, in selection order, with the
        first of its rules that does not hold for `facts` (None: they all hold)."""
        found: list[tuple[Scenario, Miss | None]] = []
        seen: set[str] = set()
        for layer in self.layers(session):
            for scenario, match in layer.matchers.values():
                if scenario.name not in seen:
                    seen.add(scenario.name)
                    found.append((scenario, miss(match, facts)))
        return found

    def _no_match(self, model: str, facts: Facts, session: str) -> ScenarioMiss:
        missed = [(scenario, why) for scenario, why in self.misses(facts, session) if why is not None]
        missed.sort(key=lambda pair: distance(pair[0].match or Match(), facts))  # stable: ties keep selection order
        closest = missed[:_CLOSEST]
        trace = [{"scenario": scenario.name, **why.to_json()} for scenario, why in closest]
        first = f"No scenario matches this request (model '{model}') and there is no 'default'."
        if closest:
            first += " Closest: " + "; ".join(f"'{scenario.name}' ({why})" for scenario, why in closest) + "."
        names = ", ".join(scenario.name for scenario in self.visible(session)) or "(none loaded)"
        return ScenarioMiss(f"{first} Available scenarios: {names}. {_HOW}", trace)

    def _named(self, name: str, session: str, reason: ChosenBy, why: str, peek: bool = False) -> Selection:
        scenario = self.find(name, session)
        if scenario is None:
            raise self._not_found(f"No scenario named '{name}' ({why}).", session)
        return self._step(scenario, session, reason, peek)

    def _step(self, scenario: Scenario, session: str, reason: ChosenBy, peek: bool = False) -> Selection:
        if not scenario.is_sequence:
            return Selection(scenario, scenario.steps[0], 1, reason)
        counters = self.counters.setdefault(session, {})
        count = counters.get(scenario.name, 0)
        if not peek:
            counters[scenario.name] = count + 1
        index = min(count, len(scenario.steps) - 1)
        return Selection(scenario, scenario.steps[index], index + 1, reason)

    def _not_found(self, first: str, session: str) -> ApiError:
        names = ", ".join(scenario.name for scenario in self.visible(session)) or "(none loaded)"
        message = f"{first} Available scenarios: {names}. {_HOW}"
        return ApiError(404, message, "invalid_request_error", None, "scenario_not_found")


_HOW = (
    "A scenario answers when it is named in the X-Mock-Scenario header or as the model, when its `match` rules "
    "hold, or when it is named `default`."
)


def selection_order(scenarios: Sequence[Scenario]) -> list[tuple[Scenario, str]]:
    """Scenarios in the order a request is matched against them (within one layer), each with how it gets
    chosen: `match` rules first, then the ones chosen by name, then `default`."""
    matched = []
    for scenario in scenarios:
        if scenario.match is not None:
            rules = ", ".join(f"{key}={value!r}" for key, value in scenario.match.describe().items())
            matched.append((scenario, f"match {rules}" if rules else "match: every request"))
    by_name = [(s, "by name") for s in scenarios if s.match is None and s.name != "default"]
    fallback = [(s, "any other request") for s in scenarios if s.match is None and s.name == "default"]
    return matched + by_name + fallback
