"""The serve command's log lines read exactly as the standard formatter writes them, however they are made."""

from __future__ import annotations

import logging
import sys

from mockserver.serve import LineFormatter


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
