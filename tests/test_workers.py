"""`serve --workers N` is supervised: a worker that dies is started again with a log line that names it and how it
died, a worker that keeps dying stops the server, and workers do not outlive their parent."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningServer
from helpers import get_json

from mockserver.server import workers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def served_by(server: RunningServer) -> set[int]:
    """The worker pids that answer health checks (new connections spread over them)."""
    return {get_json(server.base_url.removesuffix("/v1") + "/_mock/health")["pid"] for _ in range(40)}


def two_workers(server: RunningServer, without: int = 0) -> set[int] | None:
    """The two workers answering, once there are two (and `without` is not one of them)."""
    found = served_by(server)
    return found if len(found) == 2 and without not in found else None


@pytest.mark.slow
def test_a_killed_worker_is_started_again_and_said_so(cli_server: Any) -> None:
    server = cli_server("--workers", "2")
    answering = wait_for(lambda: two_workers(server))
    victim = sorted(answering)[0]
    os.kill(victim, signal.SIGKILL)
    line = wait_for(lambda: next((text for text in server.log().splitlines() if "by SIGKILL" in text), None))
    assert f"(pid {victim}) was killed by SIGKILL; starting it again" in line and "WARNING" in line
    assert len(wait_for(lambda: two_workers(server, without=victim))) == 2
    assert server.process.poll() is None


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_workers_stop_when_their_parent_is_killed(cli_server: Any, tmp_path: Path, loop: str) -> None:
    """And leave nothing behind: on uvloop the workers meet through sockets in a temporary folder, which the
    parent removes when it stops, and the workers when it was killed (it used to stay, one a run)."""
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    server = cli_server("--workers", "2", "--loop", loop, env={"TMPDIR": str(tmp_path)})
    answering = wait_for(lambda: two_workers(server))
    assert len(list(tmp_path.glob("mockserver-workers-*"))) == (1 if loop == "uvloop" else 0)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()

    def gone() -> bool:
        return not any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in answering)

    wait_for(gone, timeout=5)
    assert list(tmp_path.glob("mockserver-workers-*")) == []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


class FakeProcess:
    """A worker process for the supervisor: dead from the start, with the exit code given."""

    def __init__(self, exitcode: int) -> None:
        self.exitcode = exitcode
        self.pid = 4242

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        pass


def test_a_worker_that_keeps_dying_stops_the_server(caplog: pytest.LogCaptureFixture) -> None:
    started: list[int] = []

    def start(index: int) -> FakeProcess:
        started.append(index)
        return FakeProcess(-signal.SIGSEGV)

    supervisor = workers.Supervisor(start, 1)
    with caplog.at_level(logging.WARNING, logger="mockserver"):
        results = [supervisor.check() for _ in range(workers.MAX_RESTARTS + 1)]
    assert results == [True] * workers.MAX_RESTARTS + [False]
    assert len(started) == 1 + workers.MAX_RESTARTS
    assert "worker 1 (pid 4242) was killed by SIGSEGV; starting it again" in caplog.text
    assert caplog.records[-1].levelno == logging.ERROR
    assert "was killed by SIGSEGV, and stopped 6 times in 60 s: stopping the server" in caplog.records[-1].message


def test_a_worker_whose_scenarios_no_longer_load_is_not_started_again(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = workers.Supervisor(lambda index: FakeProcess(workers.EXIT_BAD_SCENARIOS), 2)
    assert supervisor.check() is False
    assert "its scenarios no longer load" in caplog.text


def test_exits_are_described_in_words() -> None:
    assert workers.describe_exit(-9) == "was killed by SIGKILL"
    assert workers.describe_exit(3) == "exited with code 3"
