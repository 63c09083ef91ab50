"""`serve --workers N`: processes sharing one port (SO_REUSEPORT), the kernel spreading new connections among
them. Each worker loads the scenarios itself and keeps its own sequence counts and journal; each also listens on
a Unix socket of its own, where the others reach it to add up `/metrics` (server/scrape.py)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import multiprocessing
import os
import queue
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from multiprocessing.context import ForkContext, SpawnContext
from typing import Any

from ..scenario.load import LoadResult, load_paths
from . import process

EXIT_BAD_SCENARIOS = 2
# A worker that dies is started again, unless it died this many times in this many seconds already.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60
ORPHAN_POLL_S = 0.5  # how often a worker checks that its parent is still there

log = logging.getLogger("mockserver")

# Serves until stopped: (options, scenarios, paths, port, ready(port), reuse_port) -> exit code.
ServeOne = Callable[
    [argparse.Namespace, LoadResult, Sequence[str], int, Callable[[int], None], bool], Coroutine[Any, Any, int]
]


def cannot_listen(args: argparse.Namespace, exc: OSError) -> int:
    reason = "the address is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
    print(f"mockserver: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
    return 1


def _exit_with(parent: int, meeting_point: str) -> None:
    """Stop this worker (as SIGTERM does) once the process that started it is gone, so that no worker is left
    serving the port on its own after the parent was killed. The parent would have removed the workers' folder
    of sockets: each worker removes its own socket, and the last one out the folder."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_S)
    if not meeting_point.startswith("\0"):  # not an abstract socket: a file in the folder
        with contextlib.suppress(OSError):
            os.unlink(meeting_point)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(meeting_point))  # refused while another worker's socket is there
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(
    args: argparse.Namespace,
    paths: Sequence[str],
    port: int,
    index: int,
    ready: Any,
    serve_one: ServeOne,
    setup: Callable[[int], None],
    report: Callable[[LoadResult], None],
    parent: int,
) -> None:
    """One of `--workers` processes: loads the scenarios itself and serves them on the shared port."""
    setup(index)
    args.worker_socket = args.worker_sockets[index - 1]
    threading.Thread(
        target=_exit_with, args=(parent, args.worker_socket), name="mockserver-parent", daemon=True
    ).start()
    result = load_paths(paths)
    if result.problems:  # the files changed since the parent checked them
        report(result)
        raise SystemExit(EXIT_BAD_SCENARIOS)
    try:
        code = process.run(serve_one(args, result, paths, port, lambda _: ready.put(index), True), args.loop)
    except KeyboardInterrupt:  # Ctrl+C reaches every process of the terminal's group
        code = 0
    raise SystemExit(code)


def describe_exit(code: int | None) -> str:
    """How a process ended, in words: `was killed by SIGKILL`, `exited with code 3`."""
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Supervisor:
    """Starts the workers, and starts again one that dies — up to MAX_RESTARTS times in RESTART_WINDOW_S for
    the same worker; past that, a worker that keeps dying stops the server."""

    def __init__(self, start: Callable[[int], Any], count: int) -> None:
        self.start = start
        self.workers = {index: start(index) for index in range(1, count + 1)}
        self.restarts: dict[int, list[float]] = {index: [] for index in self.workers}

    def alive(self) -> bool:
        return all(worker.is_alive() for worker in self.workers.values())

    def check(self) -> bool:
        """Start again the workers that died; False when one of them cannot be kept running."""
        for index, worker in self.workers.items():
            if worker.is_alive():
                continue
            worker.join()
            how = describe_exit(worker.exitcode)
            now = time.monotonic()
            recent = [at for at in self.restarts[index] if now - at < RESTART_WINDOW_S]
            if worker.exitcode == EXIT_BAD_SCENARIOS:
                log.error("worker %d (pid %s) %s: its scenarios no longer load; stopping", index, worker.pid, how)
                return False
            if len(recent) >= MAX_RESTARTS:
                log.error(
                    "worker %d (pid %s) %s, and stopped %d times in %d s: stopping the server",
                    index,
                    worker.pid,
                    how,
                    len(recent) + 1,
                    RESTART_WINDOW_S,
                )
                return False
            log.warning("worker %d (pid %s) %s; starting it again", index, worker.pid, how)
            self.restarts[index] = [*recent, now]
            self.workers[index] = self.start(index)
        return True

    def stop(self) -> None:
        for worker in self.workers.values():
            if worker.is_alive():
                worker.terminate()
        for worker in self.workers.values():
            worker.join(timeout=10)


def run(
    args: argparse.Namespace,
    result: LoadResult,
    paths: Sequence[str],
    serve_one: ServeOne,
    banner: Callable[[int], None],
    setup: Callable[[int], None],
    report: Callable[[LoadResult], None],
) -> int:
    """Run `--workers` processes on one port; `banner(port)` once all of them listen. A worker that dies is
    started again (see `Supervisor`); the workers stop when this process is gone."""
    if not hasattr(socket, "SO_REUSEPORT"):
        print("mockserver: --workers needs SO_REUSEPORT (Linux, macOS, BSD)", file=sys.stderr)
        return 1
    # Hold the port (for --port 0, pick it) until the workers listen on it too.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            holder.bind((args.host, args.port))
        except OSError as exc:
            return cannot_listen(args, exc)
        port = holder.getsockname()[1]
        context: ForkContext | SpawnContext
        if "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("spawn")
        ready = context.Queue()
        parent = os.getpid()
        sockets, folder = _meeting_points(args.workers, abstract=not process.uses_uvloop(args.loop))
        args = argparse.Namespace(**vars(args), worker_sockets=sockets)

        def start(index: int) -> Any:
            worker = context.Process(
                target=_worker,
                args=(args, paths, port, index, ready, serve_one, setup, report, parent),
                name=f"mockserver-worker-{index}",
            )
            worker.start()
            return worker

        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        supervisor = Supervisor(start, args.workers)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        started = 0
        while started < args.workers and not stopping:
            try:
                ready.get(timeout=0.2)
                started += 1
            except queue.Empty:
                if not supervisor.alive():
                    stopping = True
    failed = started < args.workers
    if not failed:
        banner(port)
    while not stopping and not failed:
        time.sleep(0.2)
        failed = not supervisor.check()
    supervisor.stop()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


def _meeting_points(count: int, abstract: bool) -> tuple[list[str], str | None]:
    """Where each worker listens for the others, and a folder to remove afterwards. On Linux, abstract Unix
    sockets: nothing on disk, so a read-only filesystem is fine (and, like the TCP port, anyone on the machine
    may connect; the admin token still applies). Elsewhere, and under uvloop (which cannot connect to an abstract
    socket by its name), sockets in a private temporary folder."""
    if abstract and sys.platform.startswith("linux"):
        tag = f"mockserver-{os.getpid()}-{secrets.token_hex(4)}"
        return [f"\0{tag}-{index}" for index in range(1, count + 1)], None
    folder = tempfile.mkdtemp(prefix="mockserver-workers-")
    return [os.path.join(folder, f"{index}.sock") for index in range(1, count + 1)], folder
