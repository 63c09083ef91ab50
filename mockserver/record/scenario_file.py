"""Appending scenarios to a scenario file, safely, while it is served, watched or read.

The file is never rewritten: each scenario is one item added at the end of its `scenarios:` list, so comments
and everything already there stay as they are. Each append is a single `write()` to a file opened for appending,
followed by `fsync()`: concurrent recordings never interleave, and a process killed at any moment leaves the
file with whole items only — it loads. One writer does the appends, in the order the recordings were made.

A file to append to must load, and end with its `scenarios:` list written in block style (`- name: ...` lines,
not `[...]`); a new or empty file gets a short header and the list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from ..scenario.load import load_paths
from ..scenario.model import Scenario

log = logging.getLogger("mockserver")

HEADER = (
    "# Scenarios recorded by mockserver: each was appended whole when its answer ended. This is a scenario\n"
    "# file like any other: read it, edit it, commit it; new recordings are added at the end.\n"
    "version: 1\n"
    "scenarios:\n"
)


class FileRefused(Exception):
    """A file that cannot be appended to, with what to do about it."""


@dataclass
class Layout:
    """Where items go: the column of the list's dashes; whether the header (or a line break) comes first; what the
    file holds already against the bounds of one load (values, and chunks, steps, choices and tool calls)."""

    indent: int = 2
    prefix: str = HEADER
    values: int = 0
    parts: int = 0


def inspect(path: Path) -> tuple[Layout, list[Scenario]]:
    """How to append to `path` (making its folder if need be), and the scenarios it holds; FileRefused when it
    cannot be appended to."""
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # `--out tests/fixtures/openai.yaml` in a new project
        except OSError as exc:
            raise FileRefused(f"{path}: cannot make the folder {path.parent}: {exc.strerror or exc}") from None
        return Layout(), []
    if not path.is_file():
        raise FileRefused(f"{path} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileRefused(f"cannot read {path}: {exc}") from None
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        return Layout(prefix=("\n" if text and not text.endswith("\n") else "") + HEADER), []
    result = load_paths([path])
    if result.problems:
        listed = "\n".join(f"  {problem}" for problem in result.problems)
        raise FileRefused(f"{path} does not load; recordings are only appended to a file that does:\n{listed}")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)  # the file loaded: a mapping with a scenarios list
    key, items = root.value[-1]
    rest = text[root.end_mark.index :]
    if key.value != "scenarios" or any(line.strip() and not line.lstrip().startswith("#") for line in rest.split("\n")):
        raise FileRefused(f"{path}: recordings are appended to the 'scenarios:' list, which must come last in the file")
    if not isinstance(items, yaml.SequenceNode) or items.flow_style is True:
        raise FileRefused(
            f"{path}:{key.start_mark.line + 1}: recordings are appended as '- name: ...' items: write the "
            "'scenarios:' list in block style, one '- ' item a line, not as [...]"
        )
    prefix = "" if text.endswith("\n") else "\n"
    return Layout(items.start_mark.column, prefix, result.values, result.parts), result.scenarios


class ScenarioFile:
    """One file appended to by one writer. `append()` queues a whole item (from the event loop); the writer task
    writes what is queued in one write and syncs it to disk."""

    def __init__(self, path: Path, layout: Layout, stream: TextIO | None = None) -> None:
        self.path = path
        self.layout = layout
        self.stream = stream  # instead of the file (`mockserver import` without --out: standard output)
        self._queue: asyncio.Queue[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._fd: int | None = None

    @property
    def indent(self) -> int:
        return self.layout.indent

    def write_now(self, items: list[str]) -> None:
        """Append `items` in one write, synced; the first write adds the header (or a line break) first."""
        text = self.layout.prefix + "".join(items)
        self.layout.prefix = ""
        if self.stream is not None:
            self.stream.write(text)
            self.stream.flush()
            return
        data = text.encode("utf-8")
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        view = memoryview(data)
        while view:  # a regular file takes it all at once; a short write (a full disk) is finished or fails
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    def append(self, item: str) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._write_queued())
        self._queue.put_nowait(item)

    async def _write_queued(self) -> None:
        assert self._queue is not None
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                await asyncio.to_thread(self.write_now, items)
            except OSError as exc:
                log.error("could not append %d recording(s) to %s: %s", len(items), self.path, exc)
            finally:
                for _ in items:
                    self._queue.task_done()

    async def flushed(self) -> None:
        """Once everything appended so far is on disk."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        await self.flushed()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # ended here, not when its loop is gone
        self.close_now()

    def close_now(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
