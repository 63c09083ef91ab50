"""`mockserver import CAPTURE...`: captures a team already has, as scenarios — a saved SSE body (what `curl -N`
prints, or `curl -i -N` with the status and headers first), a JSON answer, a HAR file from a browser's developer
tools, the openai-python SDK's snapshot files (`.inline-snapshot/external/*.bin`, raw SSE bodies) and
openai-node's Jest/Vitest snapshots (`*.snap`).

What a capture lacks, the scenario lacks: a body without its request gets no `match` (it is chosen by name), and
timing is only what the capture kept — none in a saved body; in a HAR, the wait before the answer and the time
its body took, spread evenly over its chunks (a HAR keeps no time per chunk). Each description says so.
"""

from __future__ import annotations

import base64
import json
import math
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.ask import Ask
from ..wire.errors import ApiError
from .emit import Unwritable
from .recorder import Recorder
from .relay import RECORDED
from .sse import SseReader
from .take import Take
from .tees import MISSHAPEN, MISSHAPEN_SAID, StreamTee, read_body, read_error

SUFFIXES = (".sse", ".txt", ".bin", ".har", ".snap", ".json")
_STATUS_LINE = re.compile(rb"HTTP/[\d.]+ (\d{3})[^\n]*\n")
# openai-node snapshots: exports[`NAME`] = `BODY`; with \, ` and ${ escaped inside the template literals.
_SNAPSHOT = re.compile(r"exports\[`((?:[^`\\]|\\.)*)`\]\s*=\s*`((?:[^`\\]|\\.)*)`;", re.DOTALL)
_BEFORE_ANSWER = ("blocked", "dns", "connect", "send", "wait")  # the HAR timings before the answer's headers
_OBJECTS = {
    "chat.completion.chunk": "/chat/completions",
    "chat.completion": "/chat/completions",
    "text_completion": "/completions",
    "response": "/responses",
}


@dataclass
class Capture:
    """One answer found in a capture, with its request when the capture kept it."""

    hint: str  # what to name it after, without a request
    origin: str  # where it comes from, for the description
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    request: dict[str, Any] | None = None
    endpoint: str | None = None
    wait_ms: float = 0.0  # before the headers
    receive_ms: float = 0.0  # the body's own time, spread over its chunks
    unreadable: str | None = None  # why this entry of the capture cannot be read


def captures(path: Path) -> Iterator[Capture]:
    """The answers a capture file holds; ValueError when it is none of the formats read here."""
    raw = path.read_bytes()
    name = path.name
    if path.suffix == ".snap" or raw.lstrip().startswith((b"// Jest Snapshot", b"// Vitest Snapshot")):
        found = False
        for key, value in _SNAPSHOT.findall(raw.decode("utf-8", "replace")):
            text = _template(value)
            if text.startswith('\n"') and text.endswith('"\n'):
                text = text[2:-2]
            found = True
            origin = f"imported from {name}: the snapshot {_template(key)!r}"
            yield Capture(_template(key), origin, body=text.encode())
        if not found:
            raise ValueError("no exports[`...`] = `...`; entries: not a Jest or Vitest snapshot")
        return
    stripped = raw.lstrip()
    if stripped.startswith(b"{"):
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser
            data = None
        if isinstance(data, Mapping) and isinstance(data.get("log"), Mapping):
            yield from _har(data["log"], name)
            return
    status, headers, body = _curl(raw)
    what = "an SDK snapshot" if path.suffix == ".bin" else "a saved answer"
    yield Capture(path.stem, f"imported from {name} ({what}, without its request)", status, headers, body)


def _template(text: str) -> str:
    """The text of a JavaScript template literal as Jest writes it."""
    return re.sub(r"\\([\\`$])", r"\1", text)


def _curl(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """An answer saved by curl: the body alone (`-N`), or headers first (`-i`; the last block of them counts)."""
    status, headers, body = 200, dict[str, str](), raw
    while (found := _STATUS_LINE.match(body.lstrip())) is not None:
        body = body.lstrip()
        head, separator, rest = body.partition(b"\r\n\r\n")
        if not separator:
            head, separator, rest = body.partition(b"\n\n")
        status, headers = int(found.group(1)), {}
        for line in head.decode("latin-1").splitlines()[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        body = rest
    return status, headers, body


def _har(log: Mapping[str, Any], name: str) -> Iterator[Capture]:
    entries = log.get("entries") or []
    if not isinstance(entries, list):
        raise ValueError("a HAR file whose entries are not a list")
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            continue
        try:
            capture = _har_entry(entry, name, number)
        except MISSHAPEN:  # a field of another type than HAR's: this entry only
            capture = Capture(f"entry {number}", name, unreadable="a field holds a value of another type than HAR's")
        if capture is not None:
            yield capture


def _har_entry(entry: Mapping[str, Any], name: str, number: int) -> Capture | None:
    """One entry of a HAR file, if it is a request a scenario answers."""
    request, response = entry.get("request") or {}, entry.get("response") or {}
    url = str(request.get("url", ""))
    path = urllib.parse.urlsplit(url).path
    endpoint = next((below for below in RECORDED if path.endswith(below)), None)
    if request.get("method") != "POST" or endpoint is None:
        return None
    try:
        body = json.loads((request.get("postData") or {}).get("text") or "")
    except (ValueError, RecursionError):  # not JSON, or nested past the parser
        body = None
    content = response.get("content") or {}
    text = content.get("text") or ""
    data = base64.b64decode(text) if content.get("encoding") == "base64" else str(text).encode()
    headers = {
        str(header.get("name", "")).lower(): str(header.get("value", ""))
        for header in response.get("headers") or ()
        if isinstance(header, Mapping) and not str(header.get("name", "")).startswith(":")
    }
    headers.setdefault("content-type", str(content.get("mimeType", "")))
    timings = entry.get("timings") or {}
    when = entry.get("startedDateTime", "")
    where = urllib.parse.urlunsplit((*urllib.parse.urlsplit(url)[:3], "", ""))
    return Capture(
        hint=endpoint,
        origin=f"imported from {name}, entry {number}: POST {where}" + (f" at {when}" if when else ""),
        status=int(response.get("status") or 0),
        headers=headers,
        body=data,
        request=body if isinstance(body, dict) else None,
        endpoint=endpoint,
        wait_ms=sum(_ms(timings.get(key)) for key in _BEFORE_ANSWER),
        receive_ms=_ms(timings.get("receive")),
    )


def _ms(value: Any) -> float:
    """A HAR timing: -1 (not measured), and anything not a finite number, counts as none."""
    found = float(value or 0)
    return found if 0 < found < math.inf else 0.0


def _endpoint(events: list[Any], body: Any) -> str:
    """The endpoint an answer without its request came from, told by what it holds."""
    for payload in [*events, body]:
        if not isinstance(payload, Mapping):
            continue
        kind = payload.get("type")
        if isinstance(kind, str) and kind.startswith("response."):
            return "/responses"
        if payload.get("object") in _OBJECTS:
            return _OBJECTS[payload["object"]]
        if payload.get("object") == "list" and isinstance(payload.get("data"), list):
            return "/embeddings"
        if isinstance(payload.get("results"), list):
            return "/moderations"
    return "/chat/completions"


def take_of(capture: Capture) -> tuple[Take, Ask | None]:
    """The capture read into a take (with its request, when the capture has one that mockserver reads)."""
    stream = capture.headers.get("content-type", "").startswith("text/event-stream") or capture.body.lstrip()[:6] in (
        b"data: ",
        b"event:",
        b"data:{",
    )
    reader = SseReader()
    events = reader.feed(capture.body, 0.0) + reader.close(0.0) if stream else []
    payloads = []
    for event in events:
        try:
            payloads.append(json.loads(event.data))
        except (ValueError, RecursionError):  # not JSON, or nested past the parser
            payloads.append(None)
    try:
        whole = None if stream else json.loads(capture.body or b"null")
    except (ValueError, RecursionError):  # not JSON, or nested past the parser
        whole = None
    endpoint = capture.endpoint or _endpoint(payloads, whole)
    take = Take(endpoint, stream=stream, status=capture.status, latency=capture.wait_ms)
    ask = None
    if capture.request is not None:
        try:
            ask = RECORDED[endpoint].parse_request(capture.request)
        except ApiError as exc:
            take.unreadable = f"mockserver answers its request itself: {exc.status} {exc.message}"
            return take, None
    if capture.status >= 400:
        read_error(take, capture.status, capture.body, capture.headers)
    elif stream:
        tee = StreamTee(take)
        spread = capture.receive_ms / max(1, len(events) - 1)
        for index, event in enumerate(events):
            tee.event(event, index * spread)
        tee.end(capture.receive_ms, "end")
    elif whole is not None:
        take.latency += capture.receive_ms
        read_body(take, whole)
    else:
        take.unreadable = "it holds neither an event stream nor a JSON answer"
    return take, ask


def import_file(path: Path, recorder: Recorder) -> tuple[int, list[str]]:
    """Import every answer of one capture: how many were, and a line per answer saying what became of it."""
    notes, imported = [], 0
    for capture in captures(path):
        unreadable = capture.unreadable
        if unreadable is None:
            try:
                take, ask = take_of(capture)
                unreadable = take.unreadable
            except MISSHAPEN:
                unreadable = MISSHAPEN_SAID
        if unreadable is not None:
            notes.append(f"{path}: {capture.hint}: not imported: {unreadable}")
            continue
        timing = " (no timing kept)" if not (capture.wait_ms or capture.receive_ms) else ""
        if capture.receive_ms and take.stream:
            timing = f" (a HAR keeps no time per chunk: the body's {capture.receive_ms:.0f} ms spread evenly)"
        origin = capture.origin + timing
        try:
            done = recorder.record(take, ask, capture.request or {}, origin, now=True, hint=capture.hint)
        except Unwritable as exc:  # a value no file can hold
            done = f"{capture.hint}: not imported: {exc}"
        notes.append(f"{path}: {done}")
        imported += done.startswith("recorded")
    return imported, notes
