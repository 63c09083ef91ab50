"""`serve --watch`: an edit made at any moment after the files were read is picked up, even one made before the
watcher's first look."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from mockserver.engine.selection import Selector
from mockserver.scenario.load import load_paths
from mockserver.scenario.watch import snapshot, watch


async def test_an_edit_before_the_watcher_starts_is_not_missed(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text("scenarios:\n  - {name: default, text: first}\n")
    seen = snapshot([tmp_path])  # as the files were when they were loaded
    selector = Selector(load_paths([tmp_path]).scenarios)
    path.write_text("scenarios:\n  - {name: default, text: second, ttft_ms: 1}\n")  # before the watcher runs
    watcher = asyncio.create_task(watch([tmp_path], selector, poll=0.02, seen=seen))
    try:
        for _ in range(250):
            scenario = selector.find("default", "")
            if scenario is not None and scenario.steps[0].ttft_ms == 1:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the edit was never picked up")
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
