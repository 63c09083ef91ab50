"""Which session a request belongs to, and what it is for, decided in one place for every route.

API paths are served at `/v1/...` and, for a test that wants its own sequence counts, journal and scenarios
without sending headers, at `/session/NAME/v1/...`: pointing `OPENAI_BASE_URL` there is enough. A control-API
call names its session with `?session=NAME`. Either may instead come from the `X-Mock-Session` header.

What a request is for is read from the route the router matched, never from the path decoded a second time: a
`%2F` in a session name must not turn an API request into "some other path" that escapes the key check and the
journal. A session name is plain URL text (letters, digits, `-._~`), so that it reads the same as a path
segment, a query parameter, a header and in a log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from ..scenario.problems import short

SESSION_PREFIX = "/session/"
CONTROL_PREFIX = "/_mock/"
HEALTH = CONTROL_PREFIX + "health"
SESSION_ROUTE = SESSION_PREFIX + "{session}"
MAX_SESSION_NAME = 128
_SESSION_NAME = re.compile(r"[A-Za-z0-9._~-]+")
SESSION_RULE = f"a session name is 1 to {MAX_SESSION_NAME} letters, digits, '-', '_', '.' or '~' (not '.' or '..')"

METRICS = "/metrics"
# The page's files, by path: they hold no data, and the page sends the admin token with its own calls.
PAGE_FILES = {
    CONTROL_PREFIX: "index.html",
    **{CONTROL_PREFIX + name: name for name in ("page.js", "feed.js", "draw.js", "page.css")},
}

# What a request is for: the API (journaled, keyed), the control API and /metrics (admin token), its health
# check and the page's files (open to all), or anything else (an unknown path).
Audience = Literal["api", "control", "health", "page", "other"]


@dataclass(frozen=True)
class Route:
    """A request's session ("" for none), what it is for, and why its session name is refused (if it is)."""

    session: str
    audience: Audience
    refused: str | None = None


def valid_session(name: str) -> bool:
    return len(name) <= MAX_SESSION_NAME and name not in (".", "..") and _SESSION_NAME.fullmatch(name) is not None


def _audience(path: str) -> Audience:
    if path.startswith("/v1/"):
        return "api"
    if path == HEALTH:
        return "health"
    if path in PAGE_FILES:
        return "page"
    if path.startswith(CONTROL_PREFIX) or path == METRICS:
        return "control"
    return "other"


def classify(request: web.Request) -> Route:
    """The request's route: from the matched route's pattern and the router's reading of the session; for a
    path no route matches (a 404, a 405), from the path as sent, still percent-encoded."""
    resource = request.match_info.route.resource
    raw_path = request.rel_url.raw_path
    session: str | None = None
    if resource is not None:
        pattern = resource.canonical
        if pattern.startswith(SESSION_ROUTE + "/"):
            session = request.match_info["session"]
            raw = raw_path[len(SESSION_PREFIX) :].partition("/")[0] if raw_path.startswith(SESSION_PREFIX) else ""
            if raw != session:  # percent-encoded: the router and a reader of the path may disagree
                session = raw or session
            pattern = pattern[len(SESSION_ROUTE) :]
        audience = _audience(pattern)
    else:
        path = raw_path
        if path.startswith(SESSION_PREFIX):
            name, slash, rest = path[len(SESSION_PREFIX) :].partition("/")
            if slash:
                session, path = name, "/" + rest
        audience = _audience(path)
    if not session and audience == "control":
        session = request.query.get("session")
    session = session or request.headers.get("X-Mock-Session")
    if not session:
        return Route("", audience)
    if not valid_session(session):
        return Route("", audience, f"Invalid session name {short(session)}: {SESSION_RULE}.")
    return Route(session, audience)
