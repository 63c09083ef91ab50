"""Reloading scenario files when they change (`serve --watch`).

Polling, not OS notifications: no dependency, works the same on every platform and in containers with
mounted folders. A broken edit keeps the last good set serving; fixing the file picks it up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from ..engine.selection import Selector
from .load import load_paths, scenario_files

log = logging.getLogger("mockserver")

POLL_SECONDS = 0.5


def snapshot(paths: Sequence[str | Path]) -> dict[Path, tuple[int, int]]:
    """Every scenario file below `paths` with its modification time and size: new, removed, edited files all
    change it."""
    files, _ = scenario_files(paths)
    result = {}
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        result[path] = (stat.st_mtime_ns, stat.st_size)
    return result


async def watch(paths: Sequence[str | Path], selector: Selector, poll: float = POLL_SECONDS) -> None:
    """Reload the file scenarios whenever the files under `paths` change; runs until cancelled."""
    seen = snapshot(paths)
    while True:
        await asyncio.sleep(poll)
        current = snapshot(paths)
        if current == seen:
            continue
        seen = current
        result = load_paths(paths)
        if result.problems:
            for problem in result.problems:
                log.warning("not reloaded: %s", problem)
            log.warning("still serving the previous scenarios (%d problems above)", len(result.problems))
            continue
        selector.replace_files(result.scenarios)
        log.info("reloaded %d scenarios from %d file(s)", len(result.scenarios), len(result.files))
