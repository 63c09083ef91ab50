"""How the app's connections are handled, whatever runs it (`serve`, a test client, another aiohttp runner):
timeouts, request bodies left compressed for `bodies.py`, and malformed HTTP logged as one line.

aiohttp closes a connection that has no request in progress when its keep-alive timer runs out; the timer
starts when the connection opens and again after each answer, and does not move while bytes trickle in. So
one setting, `idle_timeout`, bounds a new connection that sends nothing, one between requests and one still
sending its request line and headers. A request's body has its own timeout (`bodies.py`). An answer being
written is never cut: a scripted slow stream is the server writing, not waiting.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from ..scenario.problems import printable

# An idle connection with no timeout is kept open this long (aiohttp needs a number).
_NEVER = 10 * 365 * 86400.0


class HttpLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server log, where a request that is not valid HTTP — a port scanner, TLS or HTTP/2 sent to the
    plain port, a smuggling attempt — is one WARNING line without a traceback; anything else (a bug) keeps
    its traceback."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if not self._one_line(logging.WARNING, exc_info, args):
            self.logger.error(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, exc_info: Any = None, **kwargs: Any) -> None:
        """aiohttp logs what is not HTTP at all (a first line that is no request) at DEBUG: without a traceback
        here too."""
        if not self._one_line(logging.DEBUG, exc_info, args):
            self.logger.debug(msg, *args, exc_info=exc_info, **kwargs)

    def _one_line(self, level: int, exc_info: Any, args: tuple[object, ...]) -> bool:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1] if exc_info else None
        if not isinstance(error, HttpProcessingError):
            return False
        where = f" from {args[0]}" if args else ""
        self.logger.log(level, "malformed HTTP request%s: %s", where, printable(str(error.message))[:200])
        return True


def handler_args(idle_timeout: float) -> Mapping[str, Any]:
    """The settings of every connection's handler (aiohttp's `handler_args`)."""
    return {
        "keepalive_timeout": idle_timeout or _NEVER,
        "auto_decompress": False,
        "logger": HttpLog(logging.getLogger("aiohttp.server"), {}),
    }
