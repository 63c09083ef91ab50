"""`serve --workers N`: processes sharing one port (SO_REUSEPORT), the kernel spreading new connections among
them. Each worker loads the scenarios itself and keeps its own sequence counts and journal; each also listens on
a Unix socket of its own, where the others reach it to add up `/metrics` (server/scrape.py)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import multiprocessing
import os
import queue
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from multiprocessing.context import ForkContext, SpawnContext
from typing import Any

from ..scenario.load import LoadResult, load_paths

EXIT_BAD_SCENARIOS = 2

# Serves until stopped: (options, scenarios, paths, port, ready(port), reuse_port) -> exit code.
ServeOne = Callable[
    [argparse.Namespace, LoadResult, Sequence[str], int, Callable[[int], None], bool], Coroutine[Any, Any, int]
]


def cannot_listen(args: argparse.Namespace, exc: OSError) -> int:
    reason = "the address is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
    print(f"mockserver: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
    return 1


def _worker(
    args: argparse.Namespace,
    paths: Sequence[str],
    port: int,
    index: int,
    ready: Any,
    serve_one: ServeOne,
    setup: Callable[[int], None],
    report: Callable[[LoadResult], None],
) -> None:
    """One of `--workers` processes: loads the scenarios itself and serves them on the shared port."""
    setup(index)
    args.worker_socket = args.worker_sockets[index - 1]
    result = load_paths(paths)
    if result.problems:  # the files changed since the parent checked them
        report(result)
        raise SystemExit(EXIT_BAD_SCENARIOS)
    try:
        code = asyncio.run(serve_one(args, result, paths, port, lambda _: ready.put(index), True))
    except KeyboardInterrupt:  # Ctrl+C reaches every process of the terminal's group
        code = 0
    raise SystemExit(code)


def run(
    args: argparse.Namespace,
    result: LoadResult,
    paths: Sequence[str],
    serve_one: ServeOne,
    banner: Callable[[int], None],
    setup: Callable[[int], None],
    report: Callable[[LoadResult], None],
) -> int:
    """Run `--workers` processes on one port; `banner(port)` once all of them listen."""
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
        sockets, folder = _meeting_points(args.workers)
        args = argparse.Namespace(**vars(args), worker_sockets=sockets)
        workers = [
            context.Process(
                target=_worker,
                args=(args, paths, port, index, ready, serve_one, setup, report),
                name=f"mockserver-worker-{index}",
            )
            for index in range(1, args.workers + 1)
        ]
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        for worker in workers:
            worker.start()
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        started = 0
        while started < len(workers) and not stopping:
            try:
                ready.get(timeout=0.2)
                started += 1
            except queue.Empty:
                if any(not worker.is_alive() for worker in workers):
                    stopping = True
    if started == len(workers):
        banner(port)
    while not stopping and all(worker.is_alive() for worker in workers):
        time.sleep(0.2)
    failed = started < len(workers) or any(worker.exitcode not in (None, 0) for worker in workers)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(timeout=10)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


def _meeting_points(count: int) -> tuple[list[str], str | None]:
    """Where each worker listens for the others, and a folder to remove afterwards. On Linux, abstract Unix
    sockets: nothing on disk, so a read-only filesystem is fine (and, like the TCP port, anyone on the machine
    may connect; the admin token still applies). Elsewhere, sockets in a private temporary folder."""
    if sys.platform.startswith("linux"):
        tag = f"mockserver-{os.getpid()}-{secrets.token_hex(4)}"
        return [f"\0{tag}-{index}" for index in range(1, count + 1)], None
    folder = tempfile.mkdtemp(prefix="mockserver-workers-")
    return [os.path.join(folder, f"{index}.sock") for index in range(1, count + 1)], folder
