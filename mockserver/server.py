"""Running the app on a TCP port."""

from __future__ import annotations

from aiohttp import web

# How long in-flight streams may take to finish when the server stops; a mock should stop promptly.
SHUTDOWN_TIMEOUT = 1.0


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving `app`; returns the runner (to clean up) and the bound port (for `port=0`)."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]


def base_url(host: str, port: int) -> str:
    """The address a client on this machine uses: wildcard binds are reached through loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/v1"
