"""`serve --upstream URL [--record FILE]`: the requests no scenario answers go to the upstream instead of getting
the 404 `scenario_not_found` — scripted scenarios still answer what they match — and, with `--record`, each
answer is recorded in FILE and served from then on: the next identical request is answered from the recording."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from ..engine.selection import ScenarioMiss, Selector
from ..scenario.model import ErrorReply, Scenario
from ..server.exchange import current
from ..server.settings import Settings
from ..server.state import STATE
from ..wire.errors import ApiError
from .recorder import Recorder
from .redact import Redactor
from .relay import Relay
from .scenario_file import FileRefused, inspect
from .upstream import shown

RELAY = web.AppKey("mockserver.relay", Relay)
# What a request refers to that is only upstream: a response it made, in a chain.
_UPSTREAM_ONLY = ("previous_response_not_found",)


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with the recording options of `serve`, before anything starts; None when all is well."""
    if args.record is None:
        return None
    if args.upstream is None:
        return "--record FILE records what --upstream URL answers: give both"
    if args.workers > 1:
        return "--record writes its file from one process: it cannot be used with --workers"
    try:
        Redactor(args.redact)
        inspect(Path(args.record))
    except (ValueError, FileRefused) as exc:
        return str(exc)
    return None


def banner(args: argparse.Namespace, scenarios: list[Scenario]) -> list[str]:
    """What `serve` says of forwarding and recording."""
    if args.upstream is None:
        return []
    lines = [f"  forwarding the requests no scenario answers to {shown(args.upstream)}"]
    if args.record is not None:
        lines[0] += f", recording them in {args.record}"
    if any(scenario.name == "default" for scenario in scenarios):
        lines.append("  (a scenario named 'default' answers every request nothing else matches: none is forwarded)")
    return lines


def retried(scenario: Scenario) -> bool:
    """Whether a scenario ends with an answer a client retries (408, 409, 429, 5xx): a recording that does is not
    served yet — the retry goes to the upstream too, and its answer becomes the next step."""
    last = scenario.steps[-1]
    return isinstance(last, ErrorReply) and (last.status in (408, 409, 429) or last.status >= 500)


def install(app: web.Application, settings: Settings) -> None:
    """Forward the app's misses to `settings.upstream`, recording them in `settings.record`. Raises FileRefused
    when the file cannot be appended to."""
    if settings.upstream is None:
        return
    recorder = None
    if settings.record is not None:
        selector = app[STATE].selector
        waiting: dict[str, Scenario] = {}
        recorder = Recorder(
            settings.record, Redactor(settings.redact), lambda new, of: _serve(selector, waiting, new, of)
        )
        loaded = recorder.open(scenario.name for scenario in selector.visible(""))
        selector.files.add(scenario for scenario in loaded if scenario.name not in selector.files.by_name)
    relay = app[RELAY] = Relay(settings.upstream, recorder)

    async def start(app: web.Application) -> None:
        await relay.start()

    async def close(app: web.Application) -> None:
        await relay.close()

    app.on_startup.append(start)
    app.on_cleanup.append(close)


def _serve(selector: Selector, waiting: dict[str, Scenario], recorded: Scenario, step_of: str | None) -> None:
    """Serve a recording from now on — a new scenario, or the next step of one recorded before — unless it ends
    with an error a client retries: then it `waiting` for the retry's answer."""
    if step_of is not None:
        head = waiting.pop(step_of, None) or selector.files.by_name.get(step_of)
        if head is None:
            return
        recorded = replace(head, steps=(*head.steps, *recorded.steps), is_sequence=True)
    if retried(recorded):
        waiting[recorded.name] = recorded
    else:
        selector.files.add([recorded])


async def forward_miss(request: web.Request, error: ApiError) -> web.StreamResponse:
    """The upstream's answer to a request no scenario answers (or that refers to what only the upstream has);
    `error` itself when the app has no upstream."""
    relay = request.app.get(RELAY)
    if relay is None or not (isinstance(error, ScenarioMiss) or error.code in _UPSTREAM_ONLY):
        raise error
    below = "/" + request.path.split("/v1/", 1)[1]
    return await relay.forward(request, below, current().start)
