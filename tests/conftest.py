from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import app_from_yaml

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["pytester"]


@pytest.fixture(scope="module", autouse=True)
def _heap_frozen() -> None:
    """Freeze what is alive as each module starts. The agent frameworks leave the suite's heap at over half a million
    objects; a full collection then pauses the event loop for most of a second, at a moment no test chooses, and a
    timing test would measure the collector instead of the server."""
    gc.collect()
    gc.freeze()


@pytest.fixture
def client_for(aiohttp_client: Any) -> Callable[..., Any]:
    """`await client_for(yaml_text, **settings)`: a test client on an app serving those scenarios."""

    async def make(text: str, **settings: Any) -> Any:
        return await aiohttp_client(app_from_yaml(text, **settings))

    return make


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    base_url: str
    stdout_first_lines: list[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


def start_cli_server(*args: str, env: dict[str, str] | None = None) -> RunningServer:
    """`python -m mockserver serve --port 0 ARGS`, started as a user would, once it prints its address."""
    descriptor, name = tempfile.mkstemp(prefix="mockserver-", suffix=".log")
    log = Path(name)
    with os.fdopen(descriptor, "w") as stderr:  # the server keeps its own copy
        process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, **(env or {})},
        )
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first.startswith("OPENAI_BASE_URL="):
        process.kill()
        raise AssertionError(f"server did not start: {first!r}\n{log.read_text()}")
    lines = [first.rstrip("\n")]
    while not lines[-1].startswith("Ctrl+C"):
        lines.append(process.stdout.readline().rstrip("\n"))
    return RunningServer(process, first.strip().split("=", 1)[1], lines, log)


def stop_cli_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if server.process.stdout:
        server.process.stdout.close()
    server.log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def cli_server_running(*args: str, env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """`with cli_server_running(*args) as server`: a CLI server, stopped however the block ends."""
    server = start_cli_server(*args, env=env)
    try:
        yield server
    finally:
        stop_cli_server(server)


@pytest.fixture
def cli_server() -> Iterator[Callable[..., RunningServer]]:
    """Start servers with `cli_server(*args)`; every one is stopped when the test ends."""
    started: list[RunningServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RunningServer:
        started.append(start_cli_server(*args, env=env))
        return started[-1]

    yield start
    for server in started:
        stop_cli_server(server)
