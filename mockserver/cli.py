"""The `mockserver` command."""

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
from .app import Settings, create_app
from .loader import BUNDLED, LoadResult, load_paths
from .server import base_url, start

EXIT_BAD_SCENARIOS = 2


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number >= 0 (0 = no delays)")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 0-65535 (0 = any free port)")
    return value


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
        "--scenarios",
        nargs="+",
        action="extend",
        metavar="PATH",
        help="scenario files or folders (folders are searched for *.yaml/*.yml); repeatable. "
        "Default: the bundled scenarios",
    )
    serve.add_argument(
        "--speed", type=_speed, default=1.0, help="divide every delay by F: 2 = twice as fast, 0 = no delays"
    )
    serve.add_argument("--api-key", metavar="KEY", help="require 'Authorization: Bearer KEY' on /v1 requests")
    serve.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="default: info"
    )
    return parser


def load_or_report(paths: Sequence[str] | None) -> LoadResult | None:
    """Load scenarios, printing every problem as `file:line: message`; None when there were problems."""
    result = load_paths(paths or [BUNDLED])
    if result.problems:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        count = len(result.problems)
        print(f"mockserver: {count} problem{'s' if count != 1 else ''} in the scenarios; not serving", file=sys.stderr)
        return None
    return result


async def _serve(args: argparse.Namespace, result: LoadResult) -> int:
    app = create_app(result.scenarios, Settings(speed=args.speed, api_key=args.api_key))
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
    print("Any OPENAI_API_KEY is accepted" if args.api_key is None else "OPENAI_API_KEY must be the --api-key value")
    print("Ctrl+C stops the server", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # platforms without signal handlers
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    result = load_or_report(args.scenarios)
    if result is None:
        return EXIT_BAD_SCENARIOS
    try:
        return asyncio.run(_serve(args, result))
    except KeyboardInterrupt:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"serve": serve}[args.command](args)
