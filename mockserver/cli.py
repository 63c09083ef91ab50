"""The `mockserver` command: serve, validate, list."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import multiprocessing
import os
import queue
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__, demo
from .engine import chaos
from .scenario.load import BUNDLED, LoadResult, load_paths
from .scenario.model import Scenario
from .scenario.watch import watch
from .server import control, verdicts
from .server.app import create_app
from .server.runner import base_url, start
from .server.state import STATE, Settings

EXIT_BAD_SCENARIOS = 2


def _bounded(convert: type, low: float, high: float, rule: str):
    """An argparse type: `convert` the text, and require low <= value <= high."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; {rule}") from None
        if not low <= value <= high:  # also refuses NaN
            raise argparse.ArgumentTypeError(rule)
        return value

    return parse


_speed = _bounded(float, 0, 1e12, "must be a finite number >= 0 (0 = no delays)")
_port = _bounded(int, 0, 65535, "must be 0-65535 (0 = any free port)")
_journal_size = _bounded(int, 1, 10_000_000, "must be a whole number >= 1")
_workers = _bounded(int, 1, 256, "must be a whole number from 1 to 256")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of: {', '.join(choices)}")
        return text.lower()

    return parse


def _paths_help(default: str | None = None) -> str:
    shown = f"; default: {default}" if default else ""
    return f"scenario files or folders (folders: every *.yaml/*.yml below){shown}"


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError("expected 1/0, true/false, yes/no or on/off")


def _path_list(text: str) -> list[str]:
    return [part for part in text.split(os.pathsep) if part]


_log_level = _choice("debug", "info", "warning", "error")


def _chaos_spec(text: str) -> chaos.ChaosSpec:
    try:
        return chaos.parse(text)
    except chaos.ChaosError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


# Every `serve` option can also come from the environment (handy in containers): dest -> (variable, parse,
# default). A flag given on the command line wins over its variable.
SERVE_OPTIONS: dict[str, tuple[str, Callable[[str], Any], Any]] = {
    "host": ("MOCKSERVER_HOST", str, "127.0.0.1"),
    "port": ("MOCKSERVER_PORT", _port, 8000),
    "scenarios": ("MOCKSERVER_SCENARIOS", _path_list, None),
    "speed": ("MOCKSERVER_SPEED", _speed, 1.0),
    "api_key": ("MOCKSERVER_API_KEY", str, None),
    "admin_token": ("MOCKSERVER_ADMIN_TOKEN", str, None),
    "watch": ("MOCKSERVER_WATCH", _flag, False),
    "journal_size": ("MOCKSERVER_JOURNAL_SIZE", _journal_size, 1000),
    "workers": ("MOCKSERVER_WORKERS", _workers, 1),
    "chaos": ("MOCKSERVER_CHAOS", _chaos_spec, None),
    "seed": ("MOCKSERVER_SEED", _seed, 0),
    "report": ("MOCKSERVER_REPORT", _flag, False),
    "obfuscation": ("MOCKSERVER_OBFUSCATION", _flag, True),
    "log_level": ("MOCKSERVER_LOG_LEVEL", _log_level, "info"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver",
        description="An offline, wire-exact imitation of the OpenAI API's streaming endpoints, scripted in YAML.",
    )
    parser.add_argument("--version", action="version", version=f"mockserver {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve scenarios over HTTP",
        description="Serve scenarios over HTTP. Every option can also be set with the environment variable "
        "named after it (MOCKSERVER_PORT=9000, MOCKSERVER_SCENARIOS=a.yaml:more/, MOCKSERVER_WATCH=1, ...); "
        "a flag on the command line wins.",
    )

    def option(*flags: str, help: str, **kwargs: Any) -> None:
        dest = flags[0].lstrip("-").replace("-", "_")
        variable, parse, default = SERVE_OPTIONS[dest]
        shown = f"; default: {default}" if default is not None and default is not False else ""
        if kwargs.get("action") not in ("store_true", "extend"):
            kwargs["type"] = parse
        serve.add_argument(*flags, help=f"{help} (env {variable}{shown})", default=None, **kwargs)

    option("--host", help="address to bind")
    option("--port", help="port to bind; 0 picks a free one")
    option("--scenarios", nargs="+", action="extend", metavar="PATH", help=_paths_help("the bundled scenarios"))
    option("--speed", metavar="F", help="divide every delay by F: 2 = twice as fast, 0 = no delays")
    option("--api-key", metavar="KEY", help="require 'Authorization: Bearer KEY' on API requests")
    option("--admin-token", metavar="TOKEN", help="require 'Authorization: Bearer TOKEN' on /_mock/ (not health)")
    option("--watch", action="store_true", help="reload scenario files when they change")
    option("--journal-size", metavar="N", help="requests kept in the journal")
    option("--workers", metavar="N", help="processes sharing the port (SO_REUSEPORT), for more than one core")
    option(
        "--chaos",
        metavar="SPEC",
        help="random faults per request, e.g. 'rate_limit=0.05,server_error=0.02,disconnect=0.01,stall=0.01' "
        f"(kinds: {', '.join(chaos.KINDS)}; settings: stall_ms, retry_after)",
    )
    option("--seed", metavar="N", help="seed for ids, chaos draws and jitter: the same seed repeats a run exactly")
    option("--report", action="store_true", help="print the client verdicts when the server stops")
    serve.add_argument(
        "--no-obfuscation",
        dest="obfuscation",
        action="store_const",
        const=False,
        default=None,
        help="leave the obfuscation padding out of stream chunks unless a request asks for it "
        "(env MOCKSERVER_OBFUSCATION=0)",
    )
    option("--log-level", metavar="LEVEL", help="debug, info, warning or error")

    validate = commands.add_parser(
        "validate",
        help="check scenario files without serving",
        description="Check scenario files; print every problem as file:line: message. Exit 0 when clean, 1 if not.",
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help=_paths_help())

    listing = commands.add_parser(
        "list",
        help="list the scenarios that would be served",
        description="List the scenarios that would be served, one a line, in the order they are chosen.",
    )
    listing.add_argument("paths", nargs="*", metavar="PATH", help=_paths_help("the bundled scenarios"))

    walkthrough = commands.add_parser(
        "demo",
        help="stream the ways an answer ends, live, through the openai SDK",
        description="Serve the bundled scenarios on a free port and stream stop, length, content_filter, a 429 "
        "that clears, one that does not and a mid-stream error through the openai SDK, each followed by how the "
        "client saw it. Needs the openai package (pip install 'mockserver[demo]').",
    )
    walkthrough.add_argument("--scenario", metavar="NAME", help="run only this bundled scenario (any of them)")
    walkthrough.add_argument("--speed", type=_speed, default=1.0, metavar="F", help="divide delays by F (0 = none)")
    return parser


def report(result: LoadResult, stream=sys.stderr) -> None:
    for problem in result.problems:
        print(problem, file=stream)
    count = len(result.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found", file=stream)


def _banner(args: argparse.Namespace, result: LoadResult, port: int) -> None:
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
    if args.chaos is not None and args.chaos.active:
        rates = ", ".join(f"{kind}={rate:g}" for kind, rate in args.chaos.rates.items() if rate)
        print(f"  chaos: {rates} (seed {args.seed})")
    print("Any OPENAI_API_KEY is accepted" if args.api_key is None else "OPENAI_API_KEY must be the --api-key value")
    print("Ctrl+C stops the server", flush=True)


def _cannot_listen(args: argparse.Namespace, exc: OSError) -> int:
    reason = "the address is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
    print(f"mockserver: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
    return 1


def _setup_logging(level: str, worker: int | None = None) -> None:
    where = f"[worker {worker}] " if worker is not None else ""
    logging.basicConfig(level=level.upper(), format=f"%(asctime)s %(levelname)s {where}%(message)s", stream=sys.stderr)
    # The request log writes a line per request; this process's format needs no caller, thread or process
    # details, so skip gathering them (the "Optimization" advice of the logging docs): 12 -> 7.5 us a line.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


async def _serve(
    args: argparse.Namespace,
    result: LoadResult,
    paths: Sequence[str],
    port: int,
    ready: Callable[[int], None],
    reuse_port: bool = False,
) -> int:
    """Serve until SIGINT or SIGTERM; `ready(port)` is called once the port is listening."""
    settings = Settings(
        speed=args.speed,
        api_key=args.api_key,
        admin_token=args.admin_token,
        journal_size=args.journal_size,
        seed=args.seed,
        chaos=args.chaos,
        obfuscation=args.obfuscation,
    )
    app = create_app(result.scenarios, settings)
    try:
        runner, port = await start(app, args.host, port, reuse_port=reuse_port)
    except OSError as exc:
        return _cannot_listen(args, exc)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # platforms without signal handlers
            loop.add_signal_handler(signum, stop.set)
    ready(port)
    watcher = asyncio.create_task(watch(paths, app[STATE].selector)) if args.watch else None
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await runner.cleanup()
        if args.report:
            print(verdicts.report(control.verdict(app[STATE])), flush=True)
    return 0


def serve(args: argparse.Namespace) -> int:
    _setup_logging(args.log_level)
    paths = args.scenarios or [str(BUNDLED)]
    result = load_paths(paths)
    if result.problems:
        report(result)
        print("mockserver: not serving until the scenarios are fixed", file=sys.stderr)
        return EXIT_BAD_SCENARIOS
    if args.workers > 1:
        return _serve_workers(args, result, paths)
    try:
        return asyncio.run(_serve(args, result, paths, args.port, lambda port: _banner(args, result, port)))
    except KeyboardInterrupt:
        return 0


def _worker(args: argparse.Namespace, paths: Sequence[str], port: int, index: int, ready: Any) -> None:
    """One of `--workers` processes: loads the scenarios itself and serves them on the shared port."""
    _setup_logging(args.log_level, index)
    result = load_paths(paths)
    if result.problems:  # the files changed since the parent checked them
        report(result)
        raise SystemExit(EXIT_BAD_SCENARIOS)
    try:
        code = asyncio.run(_serve(args, result, paths, port, lambda _: ready.put(index), reuse_port=True))
    except KeyboardInterrupt:  # Ctrl+C reaches every process of the terminal's group
        code = 0
    raise SystemExit(code)


def _serve_workers(args: argparse.Namespace, result: LoadResult, paths: Sequence[str]) -> int:
    """Run `--workers` processes on one port: the kernel spreads new connections among them."""
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
            return _cannot_listen(args, exc)
        port = holder.getsockname()[1]
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        ready = context.Queue()
        workers = [
            context.Process(target=_worker, args=(args, paths, port, index, ready), name=f"mockserver-worker-{index}")
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
        _banner(args, result, port)
    while not stopping and all(worker.is_alive() for worker in workers):
        time.sleep(0.2)
    failed = started < len(workers) or any(worker.exitcode not in (None, 0) for worker in workers)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(timeout=10)
    return 1 if failed else 0


def validate(args: argparse.Namespace) -> int:
    result = load_paths(args.paths)
    if result.problems:
        report(result, sys.stdout)
        return 1
    print(f"ok: {len(result.scenarios)} scenarios in {len(result.files)} file(s)")
    return 0


def selection_order(scenarios: Sequence[Scenario]) -> list[tuple[Scenario, str]]:
    """Scenarios in the order a request is matched against them, each with how it gets chosen."""
    matched = []
    for scenario in scenarios:
        if scenario.match is not None:
            rules = ", ".join(f"{key}={value!r}" for key, value in scenario.match.describe().items())
            matched.append((scenario, f"match {rules}" if rules else "match: every request"))
    by_name = [(s, "by name") for s in scenarios if s.match is None and s.name != "default"]
    fallback = [(s, "any other request") for s in scenarios if s.match is None and s.name == "default"]
    return matched + by_name + fallback


def list_scenarios(args: argparse.Namespace) -> int:
    result = load_paths(args.paths or [BUNDLED])
    if result.problems:
        report(result)
        return EXIT_BAD_SCENARIOS
    rows = selection_order(result.scenarios)
    width = max((len(s.name) for s, _ in rows), default=4)
    how_width = max((len(how) for _, how in rows), default=4)
    for scenario, how in rows:
        print(f"{scenario.name:<{width}}  {how:<{how_width}}  {scenario.description or ''}  ({scenario.where})")
    return 0


def resolve_serve_options(args: argparse.Namespace) -> None:
    """Fill each `serve` option not given as a flag from its environment variable, else its default; a bad
    value stops with exit code 2, as a bad flag does."""
    for dest, (variable, parse, default) in SERVE_OPTIONS.items():
        if getattr(args, dest) is not None:
            continue
        raw = os.environ.get(variable)
        if raw is None or raw == "":
            setattr(args, dest, default)
            continue
        try:
            setattr(args, dest, parse(raw))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            print(f"mockserver serve: error: {variable}={raw!r}: {exc}", file=sys.stderr)
            raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        resolve_serve_options(args)
    command = {"serve": serve, "validate": validate, "list": list_scenarios, "demo": demo.run}[args.command]
    try:
        return command(args)
    except BrokenPipeError:  # `mockserver list | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that exiting flushes nowhere
        return 0
