"""`mockserver record --upstream URL --out FILE`: a proxy in front of a real API that records every answer of
the endpoints a scenario can answer into FILE. It binds 127.0.0.1 unless told otherwise: the clients' keys
pass through it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from ..server.protocol import handler_args
from ..server.runner import base_url, start
from ..server.settings import Settings, parse_port
from ..wire.errors import ApiError, invalid
from .importers import SUFFIXES, import_file
from .recorder import Recorder
from .redact import Redactor
from .relay import Relay
from .scenario_file import FileRefused
from .upstream import check_upstream, shown

log = logging.getLogger("mockserver")
MAX_BODY = 64 * 1024 * 1024  # requests are relayed whole: an upload of a file or a long context fits


def add_parser(commands: Any) -> None:
    recording = commands.add_parser(
        "record",
        help="record a real API's answers as scenarios, through a proxy",
        description="Forward every /v1 request to URL with the client's own key, stream each answer back as it "
        "arrives, and append it to FILE as a scenario that replays the same stream: every chunk with its delay, the "
        "finish, usage and model, errors and faults. Point OPENAI_BASE_URL at the address printed first. The same "
        "request recorded again becomes the next step of its scenario's sequence.",
    )
    recording.add_argument(
        "--upstream", required=True, type=check_upstream, metavar="URL", help="the API, as OPENAI_BASE_URL has it"
    )
    recording.add_argument("--out", required=True, metavar="FILE", help="the scenario file recordings are appended to")
    recording.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    recording.add_argument("--port", type=parse_port, default=8000, help="port to bind; 0 picks a free one")
    recording.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="REGEX",
        help="also replace what this regex matches in recorded text (repeatable; keys and tokens always are)",
    )
    recording.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"), help="default: info"
    )


def run(args: argparse.Namespace) -> int:
    from ..serve import setup_logging  # the serve command's log format

    setup_logging(args.log_level)
    try:
        recorder = Recorder(args.out, Redactor(args.redact))
        recorder.open()
    except (ValueError, FileRefused) as exc:
        print(f"mockserver record: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args, Relay(args.upstream, recorder)))
    except KeyboardInterrupt:
        return 0


def make_app(relay: Relay) -> web.Application:
    """The proxy: every method on every path below /v1."""

    async def forward(request: web.Request) -> web.StreamResponse:
        arrived = asyncio.get_running_loop().time()
        try:
            return await relay.forward(request, "/" + request.match_info["below"], arrived)
        except ApiError as exc:
            log.warning("%s %s %d: %s", request.method, request.path, exc.status, exc.message)
            return exc.response({})

    async def elsewhere(request: web.Request) -> web.StreamResponse:
        return invalid(f"Invalid URL ({request.method} {request.path})", status=404).response({})

    async def started(app: web.Application) -> None:
        await relay.start()

    async def stopped(app: web.Application) -> None:
        await relay.close()

    # Bodies are forwarded as they came (compressed or not): the 10 MiB bound counts what arrives, and only the
    # recorder decompresses, within its own bound. aiohttp's own decompression took a 0.5 MB gzip bomb to 690 MB.
    app = web.Application(client_max_size=MAX_BODY, handler_args=handler_args(Settings().idle_timeout))
    app.router.add_route("*", "/v1/{below:.*}", forward)
    app.router.add_route("*", "/{other:.*}", elsewhere)
    app.on_startup.append(started)
    app.on_cleanup.append(stopped)
    return app


async def _serve(args: argparse.Namespace, relay: Relay) -> int:
    try:
        runner, port = await start(make_app(relay), args.host, args.port)
    except OSError as exc:
        print(f"mockserver record: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"OPENAI_BASE_URL={base_url(args.host, port)}")
    print(f"mockserver record: forwarding to {shown(args.upstream)}, appending recordings to {args.out}")
    print("Ctrl+C stops recording", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def add_import_parser(commands: Any) -> None:
    importing = commands.add_parser(
        "import",
        help="turn captured answers (SSE bodies, HAR files, SDK snapshots) into scenarios",
        description="Read captured answers and write them as scenarios: a saved SSE body (.sse/.txt, as curl -N or "
        "curl -i -N prints it), a JSON answer, a HAR file from a browser's developer tools (requests and timing "
        "included), openai-python's .inline-snapshot/external/*.bin files and openai-node's *.snap files. Folders "
        f"are searched for {', '.join(SUFFIXES)} files. Without --out, a new scenario file is printed.",
    )
    importing.add_argument("captures", nargs="+", metavar="CAPTURE", help="capture files or folders")
    importing.add_argument("--out", metavar="FILE", help="append the scenarios to this scenario file")
    importing.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="REGEX",
        help="also replace what this regex matches in imported text (repeatable; keys and tokens always are)",
    )


def run_import(args: argparse.Namespace) -> int:
    try:
        recorder = Recorder(args.out or "-", Redactor(args.redact))
        recorder.open(stream=None if args.out else sys.stdout)
    except (ValueError, FileRefused) as exc:
        print(f"mockserver import: {exc}", file=sys.stderr)
        return 2
    files: list[Path] = []
    for given in map(Path, args.captures):
        if given.is_dir():
            files += sorted(p for p in given.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            files.append(given)
    imported, problems = 0, 0
    for path in files:
        try:
            count, notes = import_file(path, recorder)
        except (OSError, ValueError) as exc:
            print(f"mockserver import: {path}: {exc}", file=sys.stderr)
            problems += 1
            continue
        for note in notes:
            print(note, file=sys.stderr)
        imported += count
    if recorder.file is not None:
        recorder.file.close_now()
    print(f"{imported} scenario(s) or step(s) imported from {len(files)} file(s)", file=sys.stderr)
    return 2 if problems else 0 if imported else 1
