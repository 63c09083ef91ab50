"""What the server is told: the app's settings and the `serve` process's options, each defined once — its
default, how its text is read, its help. The command line (`--speed`) and the environment (`MOCKSERVER_SPEED`)
are both built from these fields."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from typing import Any

from ..record.upstream import check_upstream
from ..scenario import chaos, quota
from .process import LOOPS


def _bounded(convert: Callable[[str], float], low: float, high: float, rule: str) -> Callable[[str], Any]:
    """A reader of text: `convert` it, and require low <= value <= high."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; {rule}") from None
        if not low <= value <= high:  # also refuses NaN
            raise argparse.ArgumentTypeError(rule)
        return value

    return parse


_SPEED_RULE = "must be 0 (no delays) or a number from 0.001 to 1e12"
_speed = _bounded(float, 0, 1e12, _SPEED_RULE)


def parse_speed(text: str) -> float:
    """A speed: 0, or at most a thousand times slower than scripted (slower still, a one-second delay outlasts any
    run, and a tiny one overflows into a wait for ever)."""
    value: float = _speed(text)
    if 0 < value < 0.001:
        raise argparse.ArgumentTypeError(_SPEED_RULE)
    return value


parse_port = _bounded(int, 0, 65535, "must be 0-65535 (0 = any free port)")
_journal_size = _bounded(int, 1, 10_000_000, "must be a whole number >= 1")
_workers = _bounded(int, 1, 256, "must be a whole number from 1 to 256")
_timeout = _bounded(float, 0, 86400, "must be seconds from 0 to 86400 (0 = no limit)")
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*", re.IGNORECASE)


def _size(text: str) -> int:
    """A size in bytes: `67108864`, `64M`, `64MiB`, `1G` (K, M and G are powers of 1024)."""
    match = _SIZE.fullmatch(text)
    value = float(match[1]) * 1024 ** " kmg".index(match[2].lower() or " ") if match else 0
    if not 1 <= value <= 2**40:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 64M, 512K or 67108864 (bytes, 1 or more)")
    return int(value)


_lifetime = _bounded(float, 0, 1e9, "must be seconds >= 0 (0 = no limit)")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of: {', '.join(choices)}")
        return text.lower()

    return parse


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError("expected 1/0, true/false, yes/no or on/off")


def _path_list(text: str) -> list[str]:
    return [part for part in text.split(os.pathsep) if part]


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def _chaos_spec(text: str) -> chaos.ChaosSpec:
    try:
        return chaos.parse(text)
    except chaos.ChaosError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _quota(text: str) -> quota.Quota:
    try:
        return quota.parse(text)
    except quota.QuotaError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def option(
    default: Any,
    help: str,
    parse: Callable[[str], Any] = str,
    metavar: str | None = None,
    kind: str = "value",
    shown: str | None = None,
) -> Any:
    """A setting with what the command line needs: its help, how its text is read (from a flag or from the
    environment), and its kind: `value`, `switch` (a flag without a value), `paths` (one or more) or
    `negative` (`--no-NAME` turns it off). `shown` is the default as the help shows it."""
    metadata = {"help": help, "parse": parse, "metavar": metavar, "kind": kind, "shown": shown}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class Settings:
    """How the app answers; `mockserver.testing`, `create_app()` and `serve` all start from these defaults."""

    speed: float = option(1.0, "divide every delay by F: 2 = twice as fast, 0 = no delays", parse_speed, "F")
    api_key: str | None = option(None, "require 'Authorization: Bearer KEY' on API requests", metavar="KEY")
    admin_token: str | None = option(
        None, "require 'Authorization: Bearer TOKEN' on /_mock/ and /metrics (not health)", metavar="TOKEN"
    )
    journal_size: int = option(1000, "requests kept in the journal", _journal_size, "N")
    journal_bytes: int = option(
        64 * 1024**2,
        "bytes of request bodies and headers the journal keeps, e.g. 64M; the oldest entries go first",
        _size,
        "SIZE",
        shown="64M",
    )
    seed: int = option(0, "seed for ids, chaos draws and jitter: the same seed repeats a run exactly", _seed, "N")
    chaos: chaos.ChaosSpec | None = option(
        None,
        "random faults per request, e.g. 'rate_limit=0.05,server_error=0.02,disconnect=0.01,stall=0.01' "
        f"(kinds: {', '.join(chaos.KINDS)}; settings: {', '.join(chaos.SETTINGS)})",
        _chaos_spec,
        "SPEC",
    )
    rate_limit: quota.Quota | None = option(
        None,
        "a quota for each session, e.g. 'requests=60/min,tokens=40000/min': x-ratelimit-remaining-* count down "
        "and a request over it gets the real 429 (windows: s, min, h, day, or '5/10s')",
        _quota,
        "SPEC",
    )
    accept_unknown_params: bool = option(
        False,
        "let request parameters the API does not know through (OpenAI-compatible extras such as vLLM's top_k); "
        "otherwise they get the real API's 400",
        _flag,
        kind="switch",
    )
    store_size: int = option(
        10_000,
        "responses and conversations kept in memory; the least recently used beyond N are dropped",
        _journal_size,
        "N",
    )
    store_bytes: int = option(
        256 * 1024**2,
        "bytes the kept responses and conversations may hold, about, e.g. 256M; the least recently used go first",
        _size,
        "SIZE",
        shown="256M",
    )
    raw_reasoning: bool = option(
        False,
        "stream reasoning text as open-weight servers do (reasoning_content on chat, response.reasoning_text.* on "
        "Responses) instead of only counting it, as OpenAI's models do",
        _flag,
        kind="switch",
    )
    idle_timeout: float = option(
        60.0,
        "close a connection that sends no whole request line and headers for this long: a new one, one between "
        "requests (keep-alive), or one still sending its headers; 0 = never",
        _timeout,
        "SECONDS",
    )
    body_timeout: float = option(
        60.0, "answer 408 to a request whose body has not all come after this long; 0 = never", _timeout, "SECONDS"
    )
    # The `obfuscation` field on stream chunks, unless a request turns it off.
    obfuscation: bool = option(
        True, "leave the obfuscation padding out of stream chunks unless a request asks for it", _flag, kind="negative"
    )
    websocket_lifetime: float = option(
        3600.0,
        "seconds a Responses WebSocket connection serves; then each response.create gets the real "
        "websocket_connection_limit_reached error (the real API: 60 minutes; 0 = no limit)",
        _lifetime,
        "SECONDS",
    )
    # Record and replay (record/serving.py).
    upstream: str | None = option(
        None,
        "forward the requests no scenario answers to this API (http(s)://..., as OPENAI_BASE_URL) instead of "
        "answering 404, with the client's own key",
        check_upstream,
        "URL",
    )
    record: str | None = option(
        None,
        "with --upstream: append each forwarded answer to this scenario file, and serve it from then on",
        metavar="FILE",
    )
    redact: list[str] = option(
        [],
        "with --record: replace what this regex matches in what is recorded (repeatable; API keys and bearer "
        "tokens always are; the variable takes one a line)",
        _lines,
        "REGEX",
        kind="paths",
    )


@dataclass
class ServeOptions:
    """What `mockserver serve` is told beyond the app's settings: where to listen, what to load, how to run."""

    host: str = option("127.0.0.1", "address to bind")
    port: int = option(8000, "port to bind; 0 picks a free one", parse_port)
    scenarios: list[str] = option(
        [],
        "scenario files or folders (folders: every *.yaml/*.yml below)",
        _path_list,
        "PATH",
        kind="paths",
        shown="the bundled scenarios",
    )
    watch: bool = option(False, "reload scenario files when they change", _flag, kind="switch")
    workers: int = option(1, "processes sharing the port (SO_REUSEPORT), for more than one core", _workers, "N")
    report: bool = option(False, "print the client verdicts when the server stops", _flag, kind="switch")
    log_level: str = option(
        "info", "debug, info, warning or error", _choice("debug", "info", "warning", "error"), "LEVEL"
    )
    loop: str = option(
        "auto", "event loop: auto (uvloop when installed: mockserver[fast]), asyncio or uvloop", _choice(*LOOPS), "LOOP"
    )


def serve_fields() -> list[Field[Any]]:
    """Every `serve` option, in the order `--help` lists them."""
    return [*fields(ServeOptions), *fields(Settings)]


def variable(name: str) -> str:
    """The environment variable of an option: `MOCKSERVER_` and its name."""
    return "MOCKSERVER_" + name.upper()


def default_of(item: Field[Any]) -> Any:
    return item.default_factory() if callable(item.default_factory) else item.default


def settings_from(values: argparse.Namespace) -> Settings:
    """The app's settings among parsed `serve` options."""
    return Settings(**{item.name: getattr(values, item.name) for item in fields(Settings)})
