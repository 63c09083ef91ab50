"""The control API under `/_mock/`: inspect and change what is served, read the request journal.

It never shares a path with `/v1`. With `--admin-token`, every route but `/_mock/health` needs
`Authorization: Bearer TOKEN`, so health checks keep working without the secret.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from aiohttp import web

from .._version import __version__
from ..scenario import chaos, quota
from ..scenario.load import LoadResult, load_text
from ..scenario.model import Scenario
from ..scenario.problems import short
from ..wire.errors import ApiError, invalid
from . import feed, page
from .bodies import parse_json, read_body
from .exchange import current
from .explain import ENDPOINTS, explain
from .journal import listing
from .sessions import CONTROL_PREFIX
from .state import STATE
from .verdicts import verdict

PREFIX = CONTROL_PREFIX


def _session() -> str | None:
    """The session a control call is about (`?session=` or the X-Mock-Session header); None for everyone."""
    return current().session or None


async def _text(request: web.Request) -> str:
    try:
        return (await read_body(request)).decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("The request body is not UTF-8 text.") from None


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
    """A 422 listing every problem as data (`source`, `line`, `message`); its message has the same
    `source:line: message` lines as file loading, for a person reading it."""
    return invalid(
        "Invalid scenarios:\n" + "\n".join(map(str, result.problems)),
        code="invalid_scenario",
        status=422,
        details={"problems": [problem.to_json() for problem in result.problems]},
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
    session = _session()
    own = state.selector.sessions.get(session or "")
    scenarios = [
        describe(scenario, session if own is not None and scenario.name in own.by_name else None)
        for scenario in state.selector.visible(session or "")
    ]
    return web.json_response({"scenarios": scenarios})


async def _load(request: web.Request, text: str, source: str) -> LoadResult:
    """Scenarios loaded in a thread, one body at a time: the server keeps answering meanwhile, and memory holds
    one load, even when clients that sent bodies leave before theirs is done."""
    loading = request.app[STATE].loading
    await loading.acquire()
    future = asyncio.ensure_future(asyncio.to_thread(load_text, text, source, snippet=True))
    future.add_done_callback(lambda _: loading.release())
    return await asyncio.shield(future)


async def add_scenarios(request: web.Request) -> web.Response:
    """Add scenarios from a YAML or JSON body; `?source=NAME` names them in messages (default: inline)."""
    state = request.app[STATE]
    session = _session()
    text = await _text(request)
    if not text.strip():
        raise invalid("No scenarios in the request body: it is empty.", code="invalid_scenario", status=422)
    result = await _load(request, text, request.query.get("source", "<request body>"))
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
    session = _session()
    if not state.selector.remove(name, session):
        where = f"session '{session}'" if session else "the scenarios added at run time"
        loaded = " (it was loaded from a file: only scenarios added at run time can be deleted)"
        note = loaded if name in state.selector.files.by_name else ""
        raise invalid(f"No scenario named '{name}' in {where}{note}.", code="scenario_not_found", status=404)
    return web.json_response({"deleted": name, "session": session})


async def use_scenario(request: web.Request) -> web.Response:
    """`{"scenario": NAME}` answers every request of the session (of everyone, without one) with NAME;
    `{"scenario": null}` stops."""
    state = request.app[STATE]
    session = _session()
    expected = 'Expected a JSON body like {"scenario": "name"} (or {"scenario": null} to stop)'
    try:
        body = parse_json(await read_body(request))
    except ValueError:
        raise invalid(f"{expected}.") from None
    if not isinstance(body, dict) or "scenario" not in body:
        raise invalid(f"{expected}; got {short(body)}.", "scenario")
    name = body["scenario"]
    if name is not None and not isinstance(name, str):
        raise invalid(f"{expected}: the name is text, or null.", "scenario")
    if name is not None and state.selector.find(name, session or "") is None:
        raise invalid(f"No scenario named '{name}'.", code="scenario_not_found", status=404)
    state.selector.use(name, session)
    return web.json_response({"use": name, "session": session})


async def reset(request: web.Request) -> web.Response:
    """Forget sequence counts and journal entries: of everyone, or of one session (with its scenarios)."""
    state = request.app[STATE]
    session = _session()
    state.reset(session)
    request.app[feed.FEED].reset(session)
    return web.json_response({"reset": session or "all"})


def _whole_number(request: web.Request, name: str) -> int | None:
    if name not in request.query:
        return None
    text = request.query[name]
    try:
        value = int(text) if len(text) < 19 else None
    except ValueError:
        value = None
    if value is None:
        raise invalid(f"'{name}' must be a whole number.", param=name)
    return max(0, value)


async def requests(request: web.Request) -> web.StreamResponse:
    """The journal, oldest first, written as it is rendered: a large journal never sits whole in memory."""
    state = request.app[STATE]
    entries = state.journal.select(session=_session(), scenario=request.query.get("scenario"))
    after = _whole_number(request, "after")
    if after is not None:
        entries = [entry for entry in entries if entry.id > after]
    limit = _whole_number(request, "limit")
    if limit is not None:
        entries = entries[-limit:] if limit else []
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await response.prepare(request)
    for piece in listing(entries):
        await response.write(piece)
    await response.write_eof()
    return response


async def one_request(request: web.Request) -> web.Response:
    """One journal entry by its id, whatever its session."""
    try:
        wanted = int(request.match_info["id"])
    except ValueError:
        raise invalid("A request id is a whole number.", code="request_not_found", status=404) from None
    for entry in reversed(request.app[STATE].journal.entries):
        if entry.id == wanted:
            return web.json_response(entry.to_json())
    raise invalid(f"No request {wanted} in the journal.", code="request_not_found", status=404)


async def sessions(request: web.Request) -> web.Response:
    """The sessions in use, most recent first, with their requests in the journal (null: requests without one)."""
    state = request.app[STATE]
    counts: dict[str | None, list[int]] = {}
    for entry in state.journal.entries:
        count = counts.setdefault(entry.session, [0, 0])
        count[0] += 1
        count[1] += entry.ended == "in progress"
    names: list[str | None] = [*reversed(state.sessions), *([None] if None in counts else [])]
    return web.json_response(
        {
            "sessions": [
                {
                    "session": name,
                    "requests": counts.get(name, [0, 0])[0],
                    "in_progress": counts.get(name, [0, 0])[1],
                    "scenarios": len(own.by_name) if (own := state.selector.sessions.get(name or "")) else 0,
                    "use": state.selector.uses.get(name),
                }
                for name in names
            ]
        }
    )


async def verdicts(request: web.Request) -> web.Response:
    """The client's behaviour judged from the journal (of `?session=`); `?max_retries=N` sets the storm limit."""
    try:
        max_retries = int(request.query.get("max_retries", 5))
    except ValueError:
        raise invalid("'max_retries' must be a whole number.", param="max_retries") from None
    return web.json_response(verdict(request.app[STATE], _session(), max_retries))


async def explain_request(request: web.Request) -> web.Response:
    """Why a request body (an API request's, as JSON) would get the scenario it would get, without answering it:
    `?endpoint=chat|responses|completions` (default: told by its keys), the call's own headers as the request's."""
    state = request.app[STATE]
    endpoint = request.query.get("endpoint")
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise invalid(f"Unknown endpoint {endpoint!r}; expected one of: {', '.join(ENDPOINTS)}.", "endpoint")
    try:
        body = parse_json(await read_body(request))
    except ValueError:
        raise invalid("Expected the JSON body of an API request.") from None
    if not isinstance(body, dict):
        raise invalid(f"Expected the JSON body of an API request (an object); got {short(body)}.")
    trace = explain(state.selector, state.settings, body, endpoint, _session() or "", request.headers)
    return web.json_response(trace)


async def get_chaos(request: web.Request) -> web.Response:
    spec = request.app[STATE].chaos or chaos.ChaosSpec()
    return web.json_response(spec.to_json())


async def set_chaos(request: web.Request) -> web.Response:
    """Replace the server's chaos rates: a JSON object (`{"rate_limit": 0.05, ...}`) or the command-line form
    (`rate_limit=0.05,stall=0.01`). `{}` turns chaos off."""
    text = (await _text(request)).strip()
    try:
        body = parse_json(text.encode()) if text.startswith("{") else None
        spec = chaos.from_mapping(body) if isinstance(body, dict) else chaos.parse(text)
    except ValueError as exc:
        raise invalid(f"Invalid chaos settings: {exc}", code="invalid_chaos") from None
    state = request.app[STATE]
    state.chaos = spec
    return web.json_response(spec.to_json())


def _quota_json(request: web.Request) -> dict[str, Any]:
    session = _session()
    where, rules = request.app[STATE].limits.quota_of(session or "")
    limits = rules.to_json() if rules is not None else {"requests": None, "tokens": None}
    return {**limits, "quota": where, "session": session}


async def get_rate_limit(request: web.Request) -> web.Response:
    """The quota of `?session=` (its own, else the server's), or without one the server's."""
    return web.json_response(_quota_json(request))


async def set_rate_limit(request: web.Request) -> web.Response:
    """Replace the quota — the session's with `?session=`, else the server's: a JSON object
    (`{"requests": "60/min", "tokens": "40000/min"}`) or the command-line form (`requests=60/min`). `{}` is no
    quota (a session's `{}` exempts it from the server's)."""
    text = (await _text(request)).strip()
    try:
        body = parse_json(text.encode()) if text.startswith("{") else None
        rules = quota.from_mapping(body) if isinstance(body, dict) else quota.parse(text)
    except ValueError as exc:  # QuotaError is one too
        raise invalid(f"Invalid rate limit: {exc}", code="invalid_rate_limit") from None
    request.app[STATE].limits.set_quota(rules, _session())
    return web.json_response(_quota_json(request))


async def delete_rate_limit(request: web.Request) -> web.Response:
    """A session follows the server's quota again; without a session, the server has none."""
    request.app[STATE].limits.set_quota(None, _session())
    return web.json_response(_quota_json(request))


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get(PREFIX + "health", health)
    router.add_get(PREFIX + "scenarios", list_scenarios)
    router.add_post(PREFIX + "scenarios", add_scenarios)
    router.add_delete(PREFIX + "scenarios/{name}", delete_scenario)
    router.add_post(PREFIX + "use", use_scenario)
    router.add_post(PREFIX + "reset", reset)
    router.add_get(PREFIX + "requests", requests, allow_head=False)  # streamed: no head without its body
    router.add_get(PREFIX + "requests/{id}", one_request)
    router.add_get(PREFIX + "sessions", sessions)
    router.add_get(PREFIX + "verdicts", verdicts)
    router.add_post(PREFIX + "explain", explain_request)
    router.add_get(PREFIX + "chaos", get_chaos)
    router.add_post(PREFIX + "chaos", set_chaos)
    router.add_get(PREFIX + "rate-limit", get_rate_limit)
    router.add_post(PREFIX + "rate-limit", set_rate_limit)
    router.add_delete(PREFIX + "rate-limit", delete_rate_limit)
    feed.add_routes(app)
    page.add_routes(app)
