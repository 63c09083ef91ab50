"""The `mockserver` command: serve, validate, list."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Sequence

from . import __version__
from .app import create_app
from .loader import BUNDLED, LoadResult, load_paths
from .script import Scenario
from .server import base_url, start
from .state import STATE, Settings
from .watch import watch

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


def _paths_help(default: str) -> str:
    return f"scenario files or folders (folders: every *.yaml/*.yml below); default: {default}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver",
        description="An offline, wire-exact imitation of the OpenAI API's streaming endpoints, scripted in YAML.",
    )
    parser.add_argument("--version", action="version", version=f"mockserver {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve scenarios over HTTP", description="Serve scenarios over HTTP.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to bind; 0 picks a free one (default: 8000)")
    serve.add_argument(
        "--scenarios", nargs="+", action="extend", metavar="PATH", help=_paths_help("the bundled scenarios")
    )
    serve.add_argument(
        "--speed", type=_speed, default=1.0, help="divide every delay by F: 2 = twice as fast, 0 = no delays"
    )
    serve.add_argument("--api-key", metavar="KEY", help="require 'Authorization: Bearer KEY' on API requests")
    serve.add_argument(
        "--admin-token", metavar="TOKEN", help="require 'Authorization: Bearer TOKEN' on /_mock/ (not health)"
    )
    serve.add_argument("--watch", action="store_true", help="reload scenario files when they change")
    serve.add_argument(
        "--journal-size", type=_journal_size, default=1000, metavar="N", help="requests kept in the journal"
    )
    serve.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="default: info"
    )

    validate = commands.add_parser(
        "validate",
        help="check scenario files without serving",
        description="Check scenario files; print every problem as file:line: message. Exit 0 when clean, 1 if not.",
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help=_paths_help("none"))

    listing = commands.add_parser(
        "list",
        help="list the scenarios that would be served",
        description="List the scenarios that would be served, one a line, in the order they are chosen.",
    )
    listing.add_argument("paths", nargs="*", metavar="PATH", help=_paths_help("the bundled scenarios"))
    return parser


def report(result: LoadResult, stream=sys.stderr) -> None:
    for problem in result.problems:
        print(problem, file=stream)
    count = len(result.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found", file=stream)


async def _serve(args: argparse.Namespace, result: LoadResult, paths: Sequence[str]) -> int:
    settings = Settings(
        speed=args.speed, api_key=args.api_key, admin_token=args.admin_token, journal_size=args.journal_size
    )
    app = create_app(result.scenarios, settings)
    try:
        runner, port = await start(app, args.host, args.port)
    except OSError as exc:
        reason = "the address is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        print(f"mockserver: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    print(f"OPENAI_BASE_URL={base_url(args.host, port)}")
    total = len(result.scenarios)
    print(f"mockserver {__version__}: {total} scenario{'s' if total != 1 else ''} from {len(result.files)} file(s)")
    for source, count in result.files:
        print(f"  {count:3d}  {source}")
    if args.speed != 1:
        print(f"  delays divided by {args.speed:g}" if args.speed else "  delays off (--speed 0)")
    if args.watch:
        print("  reloading files when they change (--watch)")
    print("Any OPENAI_API_KEY is accepted" if args.api_key is None else "OPENAI_API_KEY must be the --api-key value")
    print("Ctrl+C stops the server", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # platforms without signal handlers
            loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(watch(paths, app[STATE].selector)) if args.watch else None
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await runner.cleanup()
    return 0


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    # The request log writes a line per request; this process's format needs no caller, thread or process
    # details, so skip gathering them (the "Optimization" advice of the logging docs): 12 -> 7.5 us a line.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    paths = args.scenarios or [str(BUNDLED)]
    result = load_paths(paths)
    if result.problems:
        report(result)
        print("mockserver: not serving until the scenarios are fixed", file=sys.stderr)
        return EXIT_BAD_SCENARIOS
    try:
        return asyncio.run(_serve(args, result, paths))
    except KeyboardInterrupt:
        return 0


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"serve": serve, "validate": validate, "list": list_scenarios}[args.command](args)
