"""`mockserver serve`: load the scenarios, listen, say where, serve until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from ._version import __version__
from .record import serving as recording
from .scenario.load import BUNDLED, LoadResult, load_paths
from .scenario.watch import snapshot, watch
from .server import process, verdicts, workers
from .server.app import create_app
from .server.runner import base_url, start
from .server.runner import stop as stop_serving
from .server.scrape import SIBLINGS, Siblings
from .server.settings import settings_from
from .server.state import STATE


def report(result: LoadResult, stream: TextIO | None = None) -> None:
    """Every problem, one a line, and their count (on stderr unless told)."""
    stream = stream or sys.stderr
    for problem in result.problems:
        print(problem, file=stream)
    count = len(result.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found", file=stream)


def banner(args: argparse.Namespace, result: LoadResult, port: int) -> None:
    """The first line is the address, ready to paste into a shell; what is served follows."""
    print(f"OPENAI_BASE_URL={base_url(args.host, port)}")
    total = len(result.scenarios)
    print(f"mockserver {__version__}: {total} scenario{'s' if total != 1 else ''} from {len(result.files)} file(s)")
    for source, count in result.files:
        print(f"  {count:3d}  {source}")
    if args.speed != 1:
        print(f"  delays divided by {args.speed:g}" if args.speed else "  delays off (--speed 0)")
    if args.watch:
        print("  reloading files when they change (--watch)")
    if args.workers > 1:
        print(f"  {args.workers} worker processes share the port; each keeps its own sequence counts and journal")
    for line in recording.banner(args, result.scenarios):
        print(line)
    if args.chaos is not None and args.chaos.active:
        rates = ", ".join(f"{kind}={rate:g}" for kind, rate in args.chaos.rates.items() if rate)
        print(f"  chaos: {rates} (seed {args.seed})")
    print(f"  event loop: {process.loop_label(args.loop)}")
    print("Any OPENAI_API_KEY is accepted" if args.api_key is None else "OPENAI_API_KEY must be the --api-key value")
    print("Ctrl+C stops the server", flush=True)


class LineFormatter(logging.Formatter):
    """`%(asctime)s %(levelname)s [worker N] %(message)s`, with the date and time formatted once a second rather
    than once a line: `time.strftime` cost more than the rest of a request's log line."""

    def __init__(self, where: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)s {where}%(message)s")
        self.where = where
        self.second = -1
        self.stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        second = int(record.created)
        if second != self.second:
            self.second, self.stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
        return f"{self.stamp},{int(record.msecs):03d} {record.levelname} {self.where}{record.getMessage()}"


def setup_logging(level: str, worker: int | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter(f"[worker {worker}] " if worker is not None else ""))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # The request log writes a line per request; this process's format needs no caller, thread or process
    # details, so skip gathering them (the "Optimization" advice of the logging docs): 12 -> 7.5 us a line.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


async def serve_until_stopped(
    args: argparse.Namespace,
    result: LoadResult,
    paths: Sequence[str],
    port: int,
    ready: Callable[[int], None],
    reuse_port: bool = False,
) -> int:
    """Serve until SIGINT or SIGTERM; `ready(port)` is called once the port is listening."""
    # What the watched files look like now, before the banner: an edit made as soon as the server answers is seen.
    watched = snapshot(paths) if args.watch else None
    process.tune_allocator()
    app = create_app(result.scenarios, settings_from(args))
    unix_socket = getattr(args, "worker_socket", None)  # a worker's, for the others' /metrics
    if unix_socket is not None:
        app[SIBLINGS] = Siblings(unix_socket, tuple(s for s in args.worker_sockets if s != unix_socket))
    process.freeze_loaded()
    try:
        runner, port = await start(app, args.host, port, reuse_port=reuse_port, unix_socket=unix_socket)
    except OSError as exc:
        return workers.cannot_listen(args, exc)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # platforms without signal handlers
            loop.add_signal_handler(signum, stop.set)
    ready(port)
    watcher = asyncio.create_task(watch(paths, app[STATE].selector, seen=watched)) if args.watch else None
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await stop_serving(runner)
        if args.report:
            print(verdicts.report(verdicts.verdict(app[STATE])), flush=True)
    return 0


def serve(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    refused = recording.check(args) or process.missing(args.loop)
    if refused is not None:
        print(f"mockserver serve: {refused}", file=sys.stderr)
        return workers.EXIT_BAD_SCENARIOS
    # Recording: the bundled scenarios (their `default` answers everything) are only served when asked for.
    paths = args.scenarios or ([] if args.record else [str(BUNDLED)])
    result = load_paths(paths)
    if result.problems:
        report(result)
        print("mockserver: not serving until the scenarios are fixed", file=sys.stderr)
        return workers.EXIT_BAD_SCENARIOS
    if args.workers > 1:
        return workers.run(
            args,
            result,
            paths,
            serve_until_stopped,
            lambda port: banner(args, result, port),
            _WorkerLogging(args.log_level),
            report,
        )
    try:
        return process.run(
            serve_until_stopped(args, result, paths, args.port, lambda port: banner(args, result, port)), args.loop
        )
    except KeyboardInterrupt:
        return 0


class _WorkerLogging:
    """Sets up a worker's logging (a picklable callable, for platforms that spawn workers)."""

    def __init__(self, level: str) -> None:
        self.level = level

    def __call__(self, index: int) -> None:
        setup_logging(self.level, index)
