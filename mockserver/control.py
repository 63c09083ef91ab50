"""The control API under `/_mock/`: inspect and change what is served, read the request journal.

It never shares a path with `/v1`. With `--admin-token`, every route but `/_mock/health` needs
`Authorization: Bearer TOKEN`, so health checks keep working without the secret.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aiohttp import web

from . import __version__
from .errors import ApiError, invalid
from .loader import LoadResult, load_text
from .script import Scenario
from .state import STATE

PREFIX = "/_mock/"


def _session(request: web.Request) -> str | None:
    """The session a control call is about: `?session=` or the X-Mock-Session header; None for everyone."""
    return request.query.get("session") or request.headers.get("X-Mock-Session") or None


def describe(scenario: Scenario, session: str | None = None) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "description": scenario.description,
        "source": f"{scenario.source}:{scenario.line}",
        "match": scenario.match.describe() if scenario.match else None,
        "steps": len(scenario.steps) if scenario.is_sequence else None,
        "session": session,
    }


def scenario_problems(result: LoadResult) -> ApiError:
    """A 422 listing every problem, with the same `source:line: message` lines as file loading."""
    return invalid(
        "Invalid scenarios:\n" + "\n".join(map(str, result.problems)),
        code="invalid_scenario",
        status=422,
        details={"problems": [str(problem) for problem in result.problems]},
    )


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "pid": os.getpid(),
            "scenarios": len(state.selector.visible("")),
            "uptime_s": round(time.monotonic() - state.started, 3),
        }
    )


async def list_scenarios(request: web.Request) -> web.Response:
    state = request.app[STATE]
    session = _session(request)
    own = state.selector.sessions.get(session or "")
    scenarios = [
        describe(scenario, session if own is not None and scenario.name in own.by_name else None)
        for scenario in state.selector.visible(session or "")
    ]
    return web.json_response({"scenarios": scenarios})


async def add_scenarios(request: web.Request) -> web.Response:
    """Add scenarios from a YAML or JSON body; `?source=NAME` names them in messages (default: inline)."""
    state = request.app[STATE]
    session = _session(request)
    text = await request.text()
    result = load_text(text, request.query.get("source", "<request body>"), snippet=True)
    if result.problems:
        raise scenario_problems(result)
    if not result.scenarios:
        raise invalid("No scenarios in the request body.", code="invalid_scenario", status=422)
    replaced = state.selector.add(result.scenarios, session)
    added = [scenario.name for scenario in result.scenarios]
    return web.json_response({"added": added, "replaced": replaced, "session": session}, status=201)


async def delete_scenario(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = request.match_info["name"]
    session = _session(request)
    if not state.selector.remove(name, session):
        where = f"session '{session}'" if session else "the scenarios added at run time"
        raise invalid(f"No scenario named '{name}' in {where}.", code="scenario_not_found", status=404)
    return web.json_response({"deleted": name, "session": session})


async def use_scenario(request: web.Request) -> web.Response:
    """`{"scenario": NAME}` answers every request of the session with NAME; `{"scenario": null}` stops."""
    state = request.app[STATE]
    session = _session(request) or ""
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise invalid('Expected a JSON body like {"scenario": "name"}.') from None
    name = body.get("scenario") if isinstance(body, dict) else None
    if name is not None and state.selector.find(name, session) is None:
        raise invalid(f"No scenario named '{name}'.", code="scenario_not_found", status=404)
    state.selector.use(name, session)
    return web.json_response({"use": name, "session": session or None})


async def reset(request: web.Request) -> web.Response:
    """Forget sequence counts and journal entries: of everyone, or of one session (with its scenarios)."""
    state = request.app[STATE]
    session = _session(request)
    state.selector.reset(session)
    state.journal.clear(session)
    return web.json_response({"reset": session or "all"})


async def requests(request: web.Request) -> web.Response:
    state = request.app[STATE]
    entries = state.journal.select(session=_session(request), scenario=request.query.get("scenario"))
    if "limit" in request.query:
        try:
            limit = max(0, int(request.query["limit"]))
        except ValueError:
            raise invalid("'limit' must be a whole number.", param="limit") from None
        entries = entries[-limit:] if limit else []
    return web.json_response({"requests": [entry.to_json() for entry in entries]})


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get(PREFIX + "health", health)
    router.add_get(PREFIX + "scenarios", list_scenarios)
    router.add_post(PREFIX + "scenarios", add_scenarios)
    router.add_delete(PREFIX + "scenarios/{name}", delete_scenario)
    router.add_post(PREFIX + "use", use_scenario)
    router.add_post(PREFIX + "reset", reset)
    router.add_get(PREFIX + "requests", requests)
