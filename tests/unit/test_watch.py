"""`serve --watch`: the watcher outlives any failure, says so in the log, and notices every change that matters."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mockserver.engine.selection import Selector
from mockserver.scenario import watch as watch_module
from mockserver.scenario.load import load_paths
from mockserver.scenario.problems import LoadResult, Problem

GOOD = "scenarios:\n  - {name: default, text: %s}\n"


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def served(selector: Selector) -> str:
    scenario = selector.find("default", "")
    return scenario.steps[0].content if scenario is not None else ""  # type: ignore[union-attr]


def rewrite(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a new mtime, however coarse


async def test_the_watcher_survives_a_failure_and_logs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD % "one")
    selector = Selector(load_paths([tmp_path]).scenarios)
    calls = 0

    def flaky(paths: Any) -> LoadResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the disk went away")
        return load_paths(paths)

    monkeypatch.setattr(watch_module, "load_paths", flaky)
    task = asyncio.create_task(watch_module.watch([tmp_path], selector, poll=0.02))
    try:
        await asyncio.sleep(0.1)
        rewrite(path, GOOD % "two")
        await until(lambda: calls == 1)
        await asyncio.sleep(0.1)
        assert served(selector) == "one" and not task.done()
        assert "reloading the scenario files failed" in caplog.text
        rewrite(path, 'scenarios:\n  - {name: default, text: "\\ud800"}\n')  # a hostile edit: problems
        await until(lambda: "not reloaded" in caplog.text)
        rewrite(path, GOOD % "three")
        await until(lambda: served(selector) == "three")
    finally:
        task.cancel()


async def test_a_file_that_becomes_readable_is_reloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD % "one")
    selector = Selector(load_paths([tmp_path]).scenarios)
    readable = True

    def access(name: Any, mode: int) -> bool:
        return readable

    def load(paths: Any) -> LoadResult:
        if not readable:
            return LoadResult(problems=[Problem(str(path), 0, "cannot read: Permission denied")])
        return load_paths(paths)

    monkeypatch.setattr(watch_module.os, "access", access)
    monkeypatch.setattr(watch_module, "load_paths", load)
    task = asyncio.create_task(watch_module.watch([tmp_path], selector, poll=0.02))
    try:
        await asyncio.sleep(0.1)
        readable = False
        rewrite(path, GOOD % "two")  # changed while it cannot be read
        await asyncio.sleep(0.2)
        assert served(selector) == "one"
        readable = True  # made readable later: mtime and size stay as they were
        await until(lambda: served(selector) == "two")
    finally:
        task.cancel()


async def test_reloading_keeps_the_server_answering(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD % "one")
    selector = Selector(load_paths([tmp_path]).scenarios)
    task = asyncio.create_task(watch_module.watch([tmp_path], selector, poll=0.02))
    try:
        await asyncio.sleep(0.05)
        rewrite(path, "scenarios:\n  - {name: default, text: '" + " w" * 100_000 + "'}\n")
        ticks = 0
        while served(selector) == "one":  # the loop keeps turning while the thread reads the file
            ticks += 1
            await asyncio.sleep(0.01)
        assert ticks >= 3
    finally:
        task.cancel()
