"""Running the app on a TCP port: in the foreground (`mockserver serve`) or from a background thread."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from .state import STATE

# How long aiohttp waits for the requests still in flight when the server stops (twice, before it cancels them).
# `stop()` cancels them first: a mock stops at once, and a stream that went on meanwhile would slow the stop down.
SHUTDOWN_TIMEOUT = 0.2


async def start(
    app: web.Application, host: str, port: int, reuse_port: bool = False, unix_socket: str | None = None
) -> tuple[web.AppRunner, int]:
    """Start serving `app`; returns the runner (to clean up) and the bound port (for `port=0`). With
    `reuse_port`, other processes may listen on the same port (SO_REUSEPORT); with `unix_socket`, the app is
    also served on that socket."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_port=reuse_port or None)
    try:
        await site.start()
        if unix_socket is not None:
            await web.UnixSite(runner, unix_socket).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]


async def stop(runner: web.AppRunner) -> None:
    """Stop serving: the requests in flight are cancelled at once (a stream is cut, as when its client leaves),
    then the connections are closed. (An app of another kind — the recording proxy — is only cleaned up.)"""
    state = runner.app.get(STATE)
    for task in list(state.in_flight) if state is not None else ():
        task.cancel()
    await runner.cleanup()


def base_url(host: str, port: int) -> str:
    """The address a client on this machine uses: wildcard binds are reached through loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/v1"


class BackgroundServer:
    """Serves an app from a daemon thread with its own event loop, so that synchronous code, code running in
    another event loop, and subprocesses can all reach it."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="mockserver", daemon=True)

    @property
    def root_url(self) -> str:
        return base_url(self.host, self.port).removesuffix("/v1")

    def start(self) -> BackgroundServer:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            runner, self.port = await start(self.app, self.host, self.port)
        except BaseException as exc:  # reported to the thread that called start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await stop(runner)
