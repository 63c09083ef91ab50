"""A streaming relay: the browser asks this small web app, the app asks the API with stream=True, and every
piece of the answer is passed on at once as a server-sent event:

    event: content    data: {"text": "..."}              one per piece of the answer
    event: done       data: {"finish_reason": "stop"}    the answer ended, and why
    event: error      data: {"message": "..."}           the API failed; the answer is incomplete

The API key stays on the server; the browser only ever talks to the relay. index.html beside this file is
a minimal chat page that renders the answer as it arrives.

Meant for the bundled `haiku` scenario (any scenario works):

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything OPENAI_MODEL=haiku
    python examples/09_relay/app.py         # then open http://127.0.0.1:8080/ (PORT=... to change it)
"""

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from openai import APIError, AsyncOpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
PAGE = Path(__file__).with_name("index.html")
CLIENT = web.AppKey("client", AsyncOpenAI)


async def openai_client(app: web.Application) -> AsyncIterator[None]:
    """One client for the app's lifetime: it keeps its connections to the API open between requests."""
    app[CLIENT] = AsyncOpenAI()
    yield
    await app[CLIENT].close()


def event(name: str, data: dict[str, Any]) -> bytes:
    # JSON, so that a newline in the text cannot end the event's data line early.
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def chat(request: web.Request) -> web.StreamResponse:
    """GET /chat?message=...: the answer as server-sent events (GET, as the browser's EventSource only GETs)."""
    message = request.query.get("message", "").strip()
    if not message:
        raise web.HTTPBadRequest(text="ask with ?message=...")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    finish_reason = None
    try:
        # `async with` closes the API stream however this ends, so that when the browser goes away (and writing
        # to it fails) the API stops generating an answer nobody will read.
        async with await request.app[CLIENT].chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": message}], stream=True
        ) as stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        await response.write(event("content", {"text": choice.delta.content}))
                    finish_reason = choice.finish_reason or finish_reason
    except ConnectionResetError:  # the browser left
        return response
    except APIError as exc:
        await response.write(event("error", {"message": exc.message}))
    else:
        await response.write(event("done", {"finish_reason": finish_reason}))
    return response


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE)


def make_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(openai_client)
    app.router.add_get("/", page)
    app.router.add_get("/chat", chat)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
