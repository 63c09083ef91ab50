"""From a recorded answer to a scenario in the file: the `match` rules that pick it again, a readable unique
name, a description of when and from what it was recorded, redaction — and, when the same request was recorded
before, the next step of that scenario's sequence (a `continues` item) instead of a new scenario.

Every item is loaded before it is written, as the file will be: what reaches the file always loads, and what a
server answers from it in memory is exactly what the file says.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..engine.ask import Ask
from ..engine.matching import Facts
from ..scenario.checks import MAX_PARTS
from ..scenario.load import load_text
from ..scenario.marked_yaml import MAX_VALUES
from ..scenario.model import Scenario
from . import emit
from .redact import Redactor, secret_header
from .scenario_file import Layout, ScenarioFile, inspect
from .take import CLIENT_LEFT, DISCONNECT, END, ERROR, Take, ms

log = logging.getLogger("mockserver")

# What a scenario recorded from each endpoint is named after when the request has no user text.
_SHORT = {"/chat/completions": "chat", "/completions": "completion", "/responses": "response"}
_REGEX_SPECIAL = re.compile(r"([\\.^$*+?{}\[\]|()])")
_GLOB_SPECIAL = re.compile(r"([*?\[])")
_NAME_WORDS = 6
# Called with each scenario recorded (step_of: the scenario it is the next step of, or None).
Recorded = Callable[[Scenario, "str | None"], None]


def exact(text: str) -> str:
    """A regex that holds for exactly this text: only what a regex reads specially is escaped, so it stays
    readable (`^What is 2\\+2\\?$`)."""
    return "^" + _REGEX_SPECIAL.sub(r"\\\1", text) + "$"


def slug(text: str) -> str:
    """A name from a text: its first few words, in lower case, joined by dashes."""
    words = re.findall(r"[a-z0-9]+", re.sub("['\u2019]", "", text.lower()))
    name = ""
    for word in words[:_NAME_WORDS]:
        if len(name) + len(word) > 40:
            break
        name = f"{name}-{word}" if name else word
    return name


def match_rules(ask: Ask, body: Mapping[str, Any], redact: Redactor) -> dict[str, Any]:
    """What picks the recording again: the model, the last user message exactly, the last role, the latest tool
    result, the turn (left out when the request continues a stored chain, whose earlier turns this request does
    not show)."""
    facts = Facts(ask)
    rules: dict[str, Any] = {"model": _GLOB_SPECIAL.sub(r"[\1]", ask.model)}
    if facts.last_user is not None:
        rules["regex"] = exact(redact(facts.last_user))
    if facts.last_role != "none":
        rules["last_role"] = facts.last_role
    if facts.last_role == "tool" and facts.tool_results:
        name, output = facts.tool_results[-1]
        result = {"name": _GLOB_SPECIAL.sub(r"[\1]", name)} if name else {}
        if output:
            result["contains"] = redact(output)
        rules["tool_result"] = result
    if body.get("previous_response_id") is None and body.get("conversation") is None:
        rules["turn"] = facts.turn
    return rules


def summary(take: Take) -> str:
    """What was recorded, in a few words: the status, the chunks, the times."""
    if take.error is not None:
        return f"HTTP {take.error['status']} after {ms(take.latency)} ms"
    if not take.stream:
        return f"answered in {ms(take.latency)} ms" if take.latency else "answered whole"
    first = next((take.latency + item for item in _first_delays(take)), None)
    said = f"{take.chunk_count} chunks" + (f", the first after {ms(first)} ms" if first else "")
    total = f" after {ms(take.latency + take.end_at)} ms" if take.latency + take.end_at else ""
    endings = {
        ERROR: f"ended by an error event{total}",
        DISCONNECT: f"cut by the upstream{total}",
        END: f"ended without a finish{total}",
        CLIENT_LEFT: f"the client left{total}: recorded up to what the upstream had sent",
    }
    return f"a stream of {said}, " + endings.get(take.ended, f"finished{total}")


def _first_delays(take: Take) -> list[float]:
    firsts = []
    for track in take.tracks.values():
        if track.items:
            item = track.items[0]
            firsts.append(float(item.get("delay_ms", 0)) if isinstance(item, Mapping) else 0.0)
    return sorted(firsts)[:1]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A recording ready to append: its text, the scenario it loads as, the scenario it is a step of, and what the
    log says of it."""

    text: str
    scenario: Scenario
    step_of: str | None
    written: str


class Recorder:
    """Writes the recordings of one file."""

    def __init__(self, path: str | Path, redact: Redactor, on_recorded: Recorded | None = None) -> None:
        self.path = Path(path)
        self.redact = redact
        self.on_recorded = on_recorded
        self.names: set[str] = set()
        self.heads: dict[str, tuple[str, int]] = {}  # the match rules, as JSON -> (scenario, steps so far)
        self.file: ScenarioFile | None = None

    def open(self, taken: Iterable[str] = (), stream: TextIO | None = None) -> list[Scenario]:
        """Check the file (FileRefused when it cannot be appended to) and learn its scenarios; `taken` are names
        loaded from elsewhere, which recordings must not reuse. With `stream`, a new file is written there
        instead."""
        layout, scenarios = (Layout(), []) if stream is not None else inspect(self.path)
        self.file = ScenarioFile(self.path, layout, stream)
        self.names |= {*taken, *(scenario.name for scenario in scenarios)}
        for scenario in scenarios:
            if scenario.match is not None:
                self.heads[self._key(scenario.match.describe())] = (scenario.name, len(scenario.steps))
        return scenarios

    @staticmethod
    def _key(rules: Mapping[str, Any]) -> str:
        return json.dumps(rules, sort_keys=True)

    def record(
        self,
        take: Take,
        ask: Ask | None,
        body: Mapping[str, Any],
        origin: str,
        now: bool = False,
        hint: str = "",
    ) -> str:
        """Append the recording of `take` (see `prepare`). Returns what was written, for the log. With `now`, it
        is written before this returns; otherwise the file's writer does it soon."""
        ready = self.prepare(take, ask, body, origin, hint)
        return ready if isinstance(ready, str) else self.commit(ready, now)

    def prepare(
        self, take: Take, ask: Ask | None, body: Mapping[str, Any], origin: str, hint: str = ""
    ) -> Prepared | str:
        """The recording of `take`, the answer to `ask` (None: a capture without its request, chosen by name only,
        named after `hint` or what it says), made and loaded as the file will load it; `origin` says where it
        comes from. A string says why nothing is recorded. This is the costly part, a second a megabyte of answer:
        it touches nothing but this recorder's own state (names, heads, the file's totals), so it may run off the
        event loop, one recording at a time and never beside another `prepare`."""
        assert self.file is not None, "open() first"
        rules = match_rules(ask, body, self.redact) if ask is not None else None
        answer = self.redact.data(self._answer(take, ask))
        key = self._key(rules) if rules is not None else None
        what = f"{self.redact(origin)}: {summary(take)}"
        if key is not None and key in self.heads:
            head, steps = self.heads[key]
            data: dict[str, Any] = {"continues": head, **answer}
            text = emit.item(data, self.file.indent, comment=f"step {steps + 1} of {head}, {what}")
            check = emit.item({"name": head, **answer}, 2)
            known: tuple[str, int] = (head, steps + 1)
            written, step_of = f"step {steps + 1} of '{head}'", head
        else:
            name = self._name(take, ask, hint)
            data = {"name": name, "description": what[0].upper() + what[1:]}
            if rules is not None:
                data["match"] = rules
            if ask is not None and ask.unknown_parameter is not None:
                data["accept_unknown_params"] = True
            data.update(answer)
            text = check = emit.item(data, self.file.indent)
            known = (name, 1)
            written, step_of = f"'{name}'", None
        result = load_text("scenarios:\n" + check, str(self.path))
        if result.problems:  # a value the upstream sent past what a scenario takes (a negative retry-after-ms)
            return f"not recorded: a scenario cannot hold it: {result.problems[0].message}"
        if len(result.scenarios) != 1:  # a bug: never written, never served
            log.error("not recorded: %d scenarios made of one answer", len(result.scenarios))
            return "not recorded"
        layout = self.file.layout
        if layout.values + result.values > MAX_VALUES or layout.parts + result.parts > MAX_PARTS:
            return (
                f"not recorded: {self.path} would hold more than one file loads ({MAX_VALUES:,} values, "
                f"{MAX_PARTS:,} chunks, steps, choices and tool calls in all); record into another file"
            )
        layout.values += result.values
        layout.parts += result.parts
        if key is not None:  # the same request next time: the next step of this scenario
            self.heads[key] = known
        return Prepared(text, result.scenarios[0], step_of, written)

    def commit(self, ready: Prepared, now: bool = False) -> str:
        """Append a prepared recording and serve it (on the event loop, unless `now`). Returns what was written."""
        assert self.file is not None, "open() first"
        if now:
            self.file.write_now([ready.text])
        else:
            self.file.append(ready.text)
        if self.on_recorded is not None:
            self.on_recorded(ready.scenario, ready.step_of)
        return f"recorded {ready.written} in {self.path if self.file.stream is None else 'the output'}"

    def _name(self, take: Take, ask: Ask | None, hint: str) -> str:
        if ask is not None:
            base = slug(self.redact(Facts(ask).last_user or ""))
            model = ask.model
        else:  # a capture without its request: after its name, else after what the answer says
            base = "" if re.fullmatch(r"[0-9a-f]{12,}", hint) else slug(self.redact(hint))
            base = base or slug(self.redact(_said(take)))
            model = take.model or ""
        if not base:
            base = slug(f"{_SHORT.get(take.endpoint, take.endpoint.strip('/'))} {model}") or "recorded"
        name, number = base, 1
        while name in self.names or name == model:
            number += 1
            name = f"{base}-{number}"
        self.names.add(name)
        return name

    def _answer(self, take: Take, ask: Ask | None) -> dict[str, Any]:
        answer = take.answer()
        usage = answer.get("usage")
        if usage and ask is not None and ask.reasoning_effort and "reasoning_tokens" not in usage:
            usage["reasoning_tokens"] = 0  # reported as none: a replay must not count the effort's default
        error = answer.get("error")
        if error and "headers" in error:
            error["headers"] = {name: value for name, value in error["headers"].items() if not secret_header(name)}
        _redact_streams(take, self.redact)
        return answer

    async def flushed(self) -> None:
        if self.file is not None:
            await self.file.flushed()

    async def close(self) -> None:
        if self.file is not None:
            await self.file.close()


def _said(take: Take) -> str:
    """The text an answer says first: content, else a refusal, else reasoning."""
    whole = take.whole
    for kind in ("content", "refusal", "reasoning"):
        for track in take.tracks.values():
            if said := track.text(kind):
                return said
        text = whole.get("text" if kind == "content" else kind)
        if isinstance(text, str) and text:
            return text
    return ""


def _redact_streams(take: Take, redact: Redactor) -> None:
    """Redact each kind of text across its chunks, not chunk by chunk: a key streamed in pieces is found whole.
    The first chunk a match touches carries the mark; the rest of the match is taken out of the others."""
    for track in take.tracks.values():
        groups: dict[tuple[str, int], list[int]] = {}
        calls = 0
        for position, item in enumerate(track.items):
            kind, value = _piece(item)
            if kind == "tool_call":
                calls += 1
            elif kind in ("content", "reasoning", "refusal", "arguments") and isinstance(value, str):
                groups.setdefault((kind, calls if kind == "arguments" else 0), []).append(position)
        for (kind, _), positions in groups.items():
            pieces = [_piece(track.items[position])[1] for position in positions]
            for position, text in zip(positions, redact.pieces(pieces), strict=True):
                item = track.items[position]
                if isinstance(item, dict):
                    item[kind] = text
                else:
                    track.items[position] = text


def _piece(item: Any) -> tuple[str, Any]:
    if isinstance(item, str):
        return "content", item
    kind = next(iter(item))
    return kind, item[kind]
