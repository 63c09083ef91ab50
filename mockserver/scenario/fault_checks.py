"""Checking what a scenario says can go wrong: the items of `chunks` (content with its own delay, or a fault —
an error event, a cut, a clean early end, a stall, raw bytes, a keep-alive) and an answer that is an HTTP
error, with its headers."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from typing import Any

from .hangups import SOCKET_ENDS, SOCKET_KEYS, HangupChecks
from .marked_yaml import line_of
from .model import ENDINGS, KEEPALIVE, MID_STREAM_ERROR, Chunk, ErrorReply, Fault, FaultKind
from .problems import header_text, kind_of, short
from .stream_items import STREAM_KINDS, StreamItemChecks

_CHUNK_KINDS = ("content", *STREAM_KINDS, "error", "disconnect", "close", "end", "stall_ms", "raw", "keepalive")
_CHUNK_KEYS = (*_CHUNK_KINDS, "delay_ms", "logprob", "standalone", *SOCKET_KEYS)
ERROR_KEYS = ("status", "message", "type", "code", "param", "retry_after", "retry_after_ms", "headers")
_ERROR_FIELDS = ("message", "type", "code", "param")
_STREAM_ERROR_KEYS = ("status", *_ERROR_FIELDS)
# The chunk items that are faults with no value but `true`.
_SIGNALS: dict[str, FaultKind] = {"end": "end", "keepalive": "keepalive"}
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token, used with fullmatch


# Headers that say how the answer is framed and sent: a scripted value would contradict the body the server
# writes (a client then waits for bytes that never come, or reads a cut body).
FRAMING_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "trailer",
        "te",
    }
)
MAX_HEADER = 4096  # characters of a scripted header's value


def _too_long(value: str | float) -> bool:
    """A number whose text would not fit in a header line (or not be written at all: Python refuses to write an
    integer of over 4300 digits)."""
    return isinstance(value, int) and value.bit_length() > 256


class FaultChecks(HangupChecks, StreamItemChecks):
    """`chunks` and their faults; error answers."""

    def chunks(self, data: Mapping[str, Any], where: str) -> list[Chunk | Fault] | None:
        items = data["chunks"]
        if not isinstance(items, list):
            self.fail(line_of(data, "chunks"), f"'chunks' in {where} must be a list, got {kind_of(items)}")
            return None
        key = (id(items),)  # a list an alias repeats is built once
        if key not in self.built:
            self.built[key] = self.chunk_list(items, data, where) if self.spend(len(items), line_of(items)) else None
        result: list[Chunk | Fault] | None = self.built[key]
        return result

    def chunk_list(self, items: list[Any], data: Mapping[str, Any], where: str) -> list[Chunk | Fault] | None:
        result: list[Chunk | Fault] = []
        ended_by = None
        for index, item in enumerate(items):
            line = line_of(items, index) or line_of(data, "chunks")
            item_where = f"chunk {index + 1} of {where}"
            if ended_by is not None:
                self.fail(line, f"{item_where} comes after '{ended_by}', which ends the stream; it would never be sent")
                break
            if isinstance(item, str):
                result.append(Chunk(item))
                continue
            if not isinstance(item, Mapping):
                self.fail(line, f"{item_where} must be text or a mapping, got {kind_of(item)} {short(item)}")
                continue
            self.keys(item, _CHUNK_KEYS, item_where)
            kinds = [key for key in _CHUNK_KINDS if key in item]
            if len(kinds) != 1:
                found = " and ".join(f"'{kind}'" for kind in kinds)
                self.fail(
                    line,
                    f"{item_where} needs exactly one of {', '.join(_CHUNK_KINDS)}"
                    + (f"; it has {found}" if kinds else ""),
                )
                continue
            entry = self.chunk_item(item, kinds[0], item_where)
            if entry is not None:
                result.append(entry)
                if isinstance(entry, Fault) and entry.kind in ENDINGS:
                    ended_by = kinds[0]
        return result

    def chunk_item(self, item: Mapping[str, Any], kind: str, where: str) -> Chunk | Fault | None:
        """One mapping item of `chunks`: content with its own delay, or a fault."""
        line = line_of(item, kind)
        delay = self.number(item, "delay_ms", where) if "delay_ms" in item else None
        delay = None if delay is None else float(delay)
        standalone = False
        if "standalone" in item:
            if kind != "error" or not isinstance(item["standalone"], bool):
                self.fail(line_of(item, "standalone"), f"'standalone' in {where} goes with 'error', as true or false")
            else:
                standalone = item["standalone"]
        if kind not in SOCKET_ENDS:
            self.stray_socket_keys(item, where)
        if kind == "content":
            content = self.text(item, "content", where)
            logprob = None
            if "logprob" in item:
                value = item["logprob"]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1e9 < value <= 0:
                    self.fail(
                        line_of(item, "logprob"), f"'logprob' in {where} must be a number <= 0, got {short(value)}"
                    )
                else:
                    logprob = float(value)
            return None if content is None else Chunk(content, delay, logprob=logprob)
        if "logprob" in item:
            self.fail(line_of(item, "logprob"), f"'logprob' in {where} goes with 'content' only")
        if kind in STREAM_KINDS:
            return self.stream_chunk(item, kind, where, delay)
        if kind in SOCKET_ENDS:
            return self.socket_end(item, kind, delay, where)
        if kind == "stall_ms":
            if "delay_ms" in item:
                self.fail(line_of(item, "delay_ms"), f"{where}: a stall is a delay already; give 'stall_ms' alone")
            stall = self.number(item, "stall_ms", where)
            return None if stall is None else Fault("stall", float(stall))
        value = item[kind]
        if kind == "raw":
            if not isinstance(value, str) or not value:
                self.fail(line, f"'raw' in {where} must be non-empty text, got {kind_of(value)}")
                return None
            return Fault("raw", delay, raw=value.encode())
        if kind == "error":
            if value is True:
                return Fault("error", delay, error=MID_STREAM_ERROR, standalone=standalone)
            spec = self.mapping(value, line, f"'error' in {where}")
            if spec is None:
                return None
            self.keys(spec, _STREAM_ERROR_KEYS, f"'error' in {where}")
            fields = {
                key: self.text(spec, key, where, nullable=key in ("code", "param"))
                for key in _ERROR_FIELDS
                if key in spec
            }
            if "status" not in spec:
                return Fault("error", delay, error={**MID_STREAM_ERROR, **fields}, standalone=standalone)
            status = self.status(spec, where)
            return None if status is None else Fault("error", delay, error=fields, standalone=standalone, status=status)
        if value is not True:  # end, keepalive
            self.fail(line, f"'{kind}' in {where} must be true, got {short(value)}")
            return None
        return Fault(_SIGNALS[kind], delay, raw=KEEPALIVE if kind == "keepalive" else b"")

    def error(self, data: Mapping[str, Any], where: str, timing: Mapping[str, float]) -> ErrorReply | None:
        where = f"'error' of {where}"
        spec = self.mapping(data["error"], line_of(data, "error"), where)
        if spec is None:
            return None
        self.keys(spec, ERROR_KEYS, where)
        if "status" not in spec:
            self.fail(line_of(data, "error"), f"{where} has no 'status'")
            return None
        status = self.status(spec, where)
        if status is None:
            return None
        # message and type are always text in the envelope; code and param may be null
        fields = {
            key: self.text(spec, key, where, nullable=key in ("code", "param")) for key in _ERROR_FIELDS if key in spec
        }
        retry_after: float | str | None = None
        if isinstance(spec.get("retry_after"), str):
            retry_after = self.http_date(spec, "retry_after", where)
        elif "retry_after" in spec and (seconds := self.number(spec, "retry_after", where)) is not None:
            retry_after = float(seconds)
        retry_after_ms = self.number(spec, "retry_after_ms", where) if "retry_after_ms" in spec else None
        headers = self.headers(spec, where) if "headers" in spec else ()
        return ErrorReply(
            status=status,
            message=fields.get("message"),
            type=fields.get("type"),
            code=fields.get("code"),
            param=fields.get("param"),
            retry_after=retry_after,
            retry_after_ms=None if retry_after_ms is None else float(retry_after_ms),
            headers=headers,
            given=frozenset(fields),
            latency_ms=timing.get("latency_ms", 0.0),
            jitter_ms=timing.get("jitter_ms", 0.0),
        )

    def status(self, spec: Mapping[str, Any], where: str) -> int | None:
        status = spec["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            self.fail(
                line_of(spec, "status"),
                f"'status' in {where} must be an HTTP error status 400-599, got {short(status)}",
            )
            return None
        return status

    def http_date(self, spec: Mapping[str, Any], key: str, where: str) -> str | None:
        value = spec[key]
        try:
            email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            self.fail(
                line_of(spec, key),
                f"'{key}' in {where} must be seconds or an HTTP date "
                f"like 'Wed, 21 Oct 2026 07:28:00 GMT', got {short(value)}",
            )
            return None
        date: str = value
        return date

    def headers(self, spec: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
        value = self.mapping(spec["headers"], line_of(spec, "headers"), f"'headers' in {where}")
        if value is None:
            return ()
        result = []
        for name, header in value.items():
            line = line_of(value, name)
            if not HEADER_NAME.fullmatch(name):
                self.fail(line, f"{short(name)} is not a valid HTTP header name")
            elif isinstance(header, bool) or not isinstance(header, (str, int, float)) or _too_long(header):
                self.fail(
                    line, f"header '{name}' must be text or a number, got {kind_of(header)} (write \"true\" in quotes)"
                )
            elif any(ch in str(header) for ch in "\r\n"):
                self.fail(line, f"header '{name}' must be on one line")
            elif name.lower() in FRAMING_HEADERS:
                self.fail(line, f"header '{name}' frames the answer: the server sets it, a script cannot")
            elif not header_text(str(header)):
                self.fail(line, f"header '{name}' must not hold control characters")
            elif len(str(header)) > MAX_HEADER:
                self.fail(line, f"header '{name}' is longer than {MAX_HEADER:,} characters: clients refuse such a line")
            else:
                result.append((name.lower(), str(header)))
        return tuple(result)
