"""The page at `/_mock/`: what the mock is doing, live. One HTML file with its own script and styles, shipped in
the package (`mockserver/page/`): no build step, nothing fetched from anywhere else, so it works offline.

The page's files hold no data and are the same for everyone, so they are served without the admin token; the
page asks for the token and sends it with every call it makes, like any other client of the control API.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aiohttp import web

from .sessions import CONTROL_PREFIX, PAGE_FILES

FOLDER = Path(__file__).resolve().parent.parent / "page"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Nothing but its own script, styles and calls: no inline code, no other origin.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


@cache
def _read(name: str) -> bytes:
    return (FOLDER / name).read_bytes()


async def asset(request: web.Request) -> web.Response:
    name = PAGE_FILES[request.path]
    return web.Response(
        body=_read(name), headers={**HEADERS, "Content-Type": TYPES[Path(name).suffix] + "; charset=utf-8"}
    )


async def to_page(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": CONTROL_PREFIX})


def add_routes(app: web.Application) -> None:
    for path in PAGE_FILES:
        app.router.add_get(path, asset)
    app.router.add_get(CONTROL_PREFIX.rstrip("/"), to_page)
