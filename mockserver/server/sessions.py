"""Which session a request belongs to, decided in one place for every route.

API paths are served at `/v1/...` and, for a test that wants its own sequence counts, journal and scenarios
without sending headers, at `/session/NAME/v1/...`: pointing `OPENAI_BASE_URL` there is enough. A control-API
call names its session with `?session=NAME`. Either may instead come from the `X-Mock-Session` header.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web

SESSION_PREFIX = "/session/"
CONTROL_PREFIX = "/_mock/"
HEALTH = CONTROL_PREFIX + "health"
METRICS = "/metrics"
# The page's files, by path: they hold no data, and the page sends the admin token with its own calls.
PAGE_FILES = {
    CONTROL_PREFIX: "index.html",
    **{CONTROL_PREFIX + name: name for name in ("page.js", "feed.js", "draw.js", "page.css")},
}

# What a request is for: the API (journaled, keyed), the control API and the metrics (admin token), its health
# check and the page's files (open to all), or anything else (an unknown path).
Audience = Literal["api", "control", "health", "page", "other"]


def split_session(path: str) -> tuple[str | None, str]:
    """`/session/NAME/v1/x` -> ("NAME", "/v1/x"); other paths have no session in them."""
    if path.startswith(SESSION_PREFIX):
        name, _, rest = path[len(SESSION_PREFIX) :].partition("/")
        if name:
            return name, "/" + rest
    return None, path


def classify(request: web.Request) -> tuple[str, Audience]:
    """The request's session ("" for none) and what it is for."""
    path_session, path = split_session(request.path)
    if path.startswith("/v1/"):
        audience: Audience = "api"
    elif path == HEALTH:
        audience = "health"
    elif path in PAGE_FILES:
        audience = "page"
    elif path.startswith(CONTROL_PREFIX) or path == METRICS:
        audience = "control"
    else:
        audience = "other"
    session = path_session
    if session is None and audience == "control":
        session = request.query.get("session")
    return session or request.headers.get("X-Mock-Session") or "", audience
