"""Reloading scenario files when they change (`serve --watch`).

Polling, not OS notifications: no dependency, works the same on every platform and in containers with
mounted folders. A broken edit keeps the last good set serving; fixing the file picks it up. Whatever goes
wrong in a round is logged and the next round polls again: the watcher never stops on its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ..engine.selection import Selector
from .load import load_paths, scenario_files

log = logging.getLogger("mockserver")

POLL_SECONDS = 0.5

# What a file looks like to the watcher: modification time, size, change time (a chmod moves it) and whether it
# can be read now (a file made readable through its folder's permissions or an ACL changes nothing else).
Seen = tuple[int, int, int, bool]


def snapshot(paths: Sequence[str | Path]) -> dict[Path, Seen]:
    """Every scenario file below `paths` with what can change about it: new, removed, edited files, and files
    that become readable, all change it."""
    files, _ = scenario_files(paths)
    result = {}
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        result[path] = (stat.st_mtime_ns, stat.st_size, stat.st_ctime_ns, os.access(path, os.R_OK))
    return result


async def watch(
    paths: Sequence[str | Path],
    selector: Selector,
    poll: float = POLL_SECONDS,
    seen: dict[Path, Seen] | None = None,
) -> None:
    """Reload the file scenarios whenever the files under `paths` change from `seen` (taken when they were loaded;
    by default, now); runs until cancelled. Files are read and checked in a thread, so that a large reload does
    not hold up the answers being served."""
    if seen is None:
        seen = await asyncio.to_thread(snapshot, paths)
    while True:
        await asyncio.sleep(poll)
        try:
            current = await asyncio.to_thread(snapshot, paths)
            if current == seen:
                continue
            seen = current
            result = await asyncio.to_thread(load_paths, paths)
        except Exception:  # a bug, or an OS failure no check foresaw: say so, and keep watching
            log.exception("reloading the scenario files failed; still serving the previous scenarios")
            continue
        if result.problems:
            for problem in result.problems:
                log.warning("not reloaded: %s", problem)
            log.warning("still serving the previous scenarios (%d problems above)", len(result.problems))
            continue
        selector.replace_files(result.scenarios)
        log.info("reloaded %d scenarios from %d file(s)", len(result.scenarios), len(result.files))
