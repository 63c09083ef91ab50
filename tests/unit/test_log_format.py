"""The serve command's log lines read exactly as the standard formatter writes them, however they are made, and a
whole answer does not wait for its own."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import urllib.request
from typing import Any

from helpers import chat

from mockserver.serve import LineFormatter
from mockserver.testing import make_app


def test_a_line_reads_as_the_standard_formatter_writes_it() -> None:
    standard = logging.Formatter("%(asctime)s %(levelname)s [worker 2] %(message)s")
    fast = LineFormatter("[worker 2] ")
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_001.001, 1_800_000_000.25):
        record = logging.LogRecord("mockserver", logging.INFO, __file__, 1, "POST %s 200", ("/v1/x",), None)
        record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
        assert fast.format(record) == standard.format(record)


def test_a_traceback_is_kept() -> None:
    try:
        raise ZeroDivisionError("a bug")
    except ZeroDivisionError:
        record = logging.LogRecord("mockserver", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    line = LineFormatter("").format(record)
    assert line == logging.Formatter("%(asctime)s %(levelname)s %(message)s").format(record)
    assert "ZeroDivisionError: a bug" in line


SLOW = 1.0  # seconds a slow handler takes over the request's log line


class SlowHandler(logging.Handler):
    """A log handler that takes its time, as a slow terminal or disk does."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("POST /v1/chat/completions"):
            time.sleep(SLOW)


async def test_a_whole_answer_does_not_wait_for_its_log_line(aiohttp_server: Any) -> None:
    # The journal entry and the log line are written after the answer leaves: they are not the client's to wait for.
    server = await aiohttp_server(make_app("scenarios:\n  - {name: default, text: hi}\n"))
    url = str(server.make_url("/v1/chat/completions"))
    logger, handler = logging.getLogger("mockserver"), SlowHandler()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def ask() -> tuple[float, bytes]:
        body = json.dumps(chat("gpt-4o", stream=False)).encode()  # answered at once
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        start = time.monotonic()
        with urllib.request.urlopen(request, timeout=10) as reply:
            return time.monotonic() - start, reply.read()

    try:
        waited, data = await asyncio.to_thread(ask)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert json.loads(data)["choices"][0]["message"]["content"] == "hi"
    assert waited < SLOW  # the answer came before the slow log line (it waited all of it before)
