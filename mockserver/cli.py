"""The `mockserver` command: serve, validate, list, explain, schema, demo. Every `serve` option is built from the
fields of `server/settings.py`, so a flag, its environment variable and its default are defined once."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from multidict import CIMultiDict

from . import demo
from ._version import __version__
from .engine.selection import Selector, selection_order
from .record import command as record_command
from .scenario.load import BUNDLED, load_paths
from .serve import report, serve
from .server.bodies import parse_json
from .server.explain import ENDPOINTS, explain, render
from .server.settings import Settings, default_of, parse_speed, serve_fields, variable
from .server.workers import EXIT_BAD_SCENARIOS

PATHS_HELP = "scenario files or folders (folders: every *.yaml/*.yml below)"


def _add_serve_options(serve_parser: argparse.ArgumentParser) -> None:
    """One flag per setting: `--journal-size N`, its variable named in the help, `None` when not given (the
    variable, then the default, fill it in later)."""
    for item in serve_fields():
        meta = item.metadata
        flag = "--" + item.name.replace("_", "-")
        default = default_of(item)
        shown = meta["shown"] or (default if default not in (None, False, []) else None)
        help_text = f"{meta['help']} (env {variable(item.name)}{f'; default: {shown}' if shown else ''})"
        kind = meta["kind"]
        if kind == "switch":
            serve_parser.add_argument(flag, action="store_true", default=None, help=help_text)
        elif kind == "negative":
            serve_parser.add_argument(
                "--no-" + item.name.replace("_", "-"),
                dest=item.name,
                action="store_const",
                const=False,
                default=None,
                help=f"{meta['help']} (env {variable(item.name)}=0)",
            )
        elif kind == "paths":
            serve_parser.add_argument(
                flag, nargs="+", action="extend", metavar=meta["metavar"], default=None, help=help_text
            )
        else:
            serve_parser.add_argument(flag, type=meta["parse"], metavar=meta["metavar"], default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver",
        description="An offline, wire-exact imitation of the OpenAI API's streaming endpoints, scripted in YAML.",
    )
    parser.add_argument("--version", action="version", version=f"mockserver {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serving = commands.add_parser(
        "serve",
        help="serve scenarios over HTTP",
        description="Serve scenarios over HTTP. Every option can also be set with the environment variable "
        "named after it (MOCKSERVER_PORT=9000, MOCKSERVER_SCENARIOS=a.yaml:more/, MOCKSERVER_WATCH=1, ...); "
        "a flag on the command line wins.",
    )
    _add_serve_options(serving)

    validating = commands.add_parser(
        "validate",
        help="check scenario files without serving",
        description="Check scenario files; print every problem as file:line: message. Exit 0 when clean, 1 if not.",
    )
    validating.add_argument("paths", nargs="+", metavar="PATH", help=PATHS_HELP)

    listing = commands.add_parser(
        "list",
        help="list the scenarios that would be served",
        description="List the scenarios that would be served, one a line, in the order they are chosen.",
    )
    listing.add_argument("paths", nargs="*", metavar="PATH", help=f"{PATHS_HELP}; default: the bundled scenarios")

    explaining = commands.add_parser(
        "explain",
        help="show which scenario a request body gets, and why the others do not",
        description="Show how a request would be matched, without serving it: what the match rules see of it, "
        "each scenario with the first of its rules that fails (and what the request had instead), and the "
        "scenario chosen. Exit 0 when a scenario answers, 1 when the request would get an error.",
    )
    explaining.add_argument("paths", nargs="*", metavar="PATH", help=f"{PATHS_HELP}; default: the bundled scenarios")
    explaining.add_argument(
        "--request", required=True, metavar="BODY.json", help="the request's JSON body, in a file ('-': stdin)"
    )
    explaining.add_argument(
        "--endpoint", choices=tuple(ENDPOINTS), help="the endpoint it is sent to (default: told by the body's keys)"
    )
    explaining.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (X-Mock-Scenario, or one a match rule reads); repeatable",
    )
    explaining.add_argument("--json", action="store_true", help="print the trace as JSON")

    commands.add_parser(
        "schema",
        help="print the JSON Schema of scenario files, for editors",
        description="Print the JSON Schema of scenario files (draft-07). Save it beside your scenarios and name it "
        "in their first line: '# yaml-language-server: $schema=./scenario.schema.json'.",
    )

    record_command.add_parser(commands)
    record_command.add_import_parser(commands)

    walkthrough = commands.add_parser(
        "demo",
        help="stream the ways an answer ends, live, through the openai SDK",
        description="Serve the bundled scenarios on a free port and stream stop, length, content_filter, a 429 "
        "that clears, one that does not and a mid-stream error through the openai SDK, each followed by how the "
        "client saw it. Needs the openai package (pip install 'mockserver[demo]').",
    )
    walkthrough.add_argument("--scenario", metavar="NAME", help="run only this bundled scenario (any of them)")
    walkthrough.add_argument(
        "--speed", type=parse_speed, default=1.0, metavar="F", help="divide delays by F (0 = none)"
    )
    return parser


def validate(args: argparse.Namespace) -> int:
    result = load_paths(args.paths)
    if result.problems:
        report(result, sys.stdout)
        return 1
    print(f"ok: {len(result.scenarios)} scenarios in {len(result.files)} file(s)")
    return 0


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


def explain_request(args: argparse.Namespace) -> int:
    result = load_paths(args.paths or [BUNDLED])
    if result.problems:
        report(result)
        return EXIT_BAD_SCENARIOS
    try:
        text = sys.stdin.read() if args.request == "-" else Path(args.request).read_text(encoding="utf-8")
        body = parse_json(text.encode())  # as `POST /_mock/explain` reads it
    except (OSError, ValueError) as exc:
        print(f"mockserver explain: cannot read the request body {args.request}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(body, dict):
        print(f"mockserver explain: {args.request} must hold a JSON object (a request body)", file=sys.stderr)
        return 2
    headers: CIMultiDict[str] = CIMultiDict()
    for header in args.header:
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            print(f"mockserver explain: --header {header!r} is not 'NAME: VALUE'", file=sys.stderr)
            return 2
        headers[name.strip()] = value.strip()
    trace = explain(Selector(result.scenarios), Settings(), body, args.endpoint, "", headers)
    print(json.dumps(trace, indent=2, ensure_ascii=False) if args.json else render(trace))
    return 0 if trace["error"] is None else 1


def schema(args: argparse.Namespace) -> int:
    sys.stdout.write((BUNDLED / "scenario.schema.json").read_text(encoding="utf-8"))
    return 0


def resolve_serve_options(args: argparse.Namespace) -> None:
    """Fill each `serve` option not given as a flag from its environment variable, else its default; a bad
    value stops with exit code 2, as a bad flag does."""
    for item in serve_fields():
        if getattr(args, item.name) is not None:
            continue
        name = variable(item.name)
        raw = os.environ.get(name)
        if raw is None or raw == "":
            setattr(args, item.name, default_of(item))
            continue
        try:
            setattr(args, item.name, item.metadata["parse"](raw))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            print(f"mockserver serve: error: {name}={raw!r}: {exc}", file=sys.stderr)
            raise SystemExit(2) from None


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": serve,
    "validate": validate,
    "list": list_scenarios,
    "schema": schema,
    "explain": explain_request,
    "demo": demo.run,
    "record": record_command.run,
    "import": record_command.run_import,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        resolve_serve_options(args)
    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # `mockserver list | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that exiting flushes nowhere
        return 0
