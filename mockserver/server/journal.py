"""The request journal: what each API request sent and what it got, newest last, bounded in memory.

An entry is written when a request arrives and completed in place when its answer ends, so a stream still
in flight is visible (with `status` null and `ended` "in progress").
"""

from __future__ import annotations

import json
import time
from array import array
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

IN_PROGRESS = "in progress"
# Bodies larger than this are journaled as a note, not kept: the journal must stay small.
MAX_KEPT_BODY = 1024 * 1024


@dataclass
class Entry:
    id: int
    time: float  # Unix seconds when the request arrived
    method: str
    path: str
    session: str | None
    retry_count: int | None  # the x-stainless-retry-count header the SDKs send: 0, 1, 2...
    headers: dict[str, str]
    # In the server, the raw bytes: kept as they came, they cost the garbage collector nothing to hold. The
    # JSON form decodes them (the JSON the client sent; text when it is not JSON).
    body: Any = None
    scenario: str | None = None
    chosen_by: str | None = None  # how the scenario was chosen: use, header, model, match or default
    step: int | None = None
    status: int | None = None
    ended: str = IN_PROGRESS  # completed, client disconnected, fault
    chunks: int = 0  # stream chunks sent, [DONE] not counted
    duration_ms: float | None = None
    fault: str | None = None  # the faults the answer played, scripted or drawn: "disconnect", "stall, error"...
    chaos: str | None = None  # what the chaos draw gave this request
    stall_ms: float | None = None  # how long the answer stalled
    retry_after: float | None = None  # seconds an error answer asked the client to wait (retry-after[-ms])
    should_retry: bool | None = None  # an error answer's x-should-retry header
    # Under a quota: which one ("server", "session", "scenario"), the counts left, and "requests" or "tokens"
    # when the request did not fit and got a 429.
    rate_limit: dict[str, Any] | None = None
    error: dict[str, Any] | None = None  # an error answer's code and message: for a miss, why nothing matched
    # The answer's timeline, in ms after arrival: the status line and headers, the first token, a stream's
    # writes as [ms, chunks sent so far] (in the server, the writer's flat array of microseconds), the faults.
    headers_ms: float | None = None
    ttft_ms: float | None = None
    ticks: Any = None
    marks: list[dict[str, Any]] | None = None  # each fault played: kind, at_ms, ms (how long a stall lasted)
    # An agent loop's steps: the tool calls answered ({name, id, arguments}) and the tool results the request
    # brought ({name, call_id}) since the assistant last spoke.
    tool_calls: list[dict[str, str]] | None = None
    tool_results: list[dict[str, str]] | None = None
    notes: list[str] | None = None  # what the request changed in the scripted answer (tool_choice, stop, ...)
    miss: list[dict[str, str]] | None = None  # no scenario answered: the closest ones, and the rule each failed
    store_miss: str | None = None  # a stored object looked up in vain because --store-size dropped it
    # A Responses WebSocket connection (method GET, status 101) and each of its turns (method WS): the connection's
    # id, and the close code it ended with (for a turn, the one the server closed with during it; 1006: dropped).
    websocket: str | None = None
    close_code: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if isinstance(self.body, bytes):
            data["body"] = decoded(self.body)
        if isinstance(self.ticks, array):
            data["ticks"] = tick_pairs(self.ticks)
        return data


def tick_pairs(ticks: array[int]) -> list[list[float]]:
    """The writer's ticks (microseconds, chunks) as [ms, chunks] pairs."""
    return [[ticks[i] / 1000, ticks[i + 1]] for i in range(0, len(ticks) - 1, 2)]


def kept_body(raw: bytes) -> bytes | str:
    """What the journal keeps of a body: the bytes, or a note when they are too large to keep."""
    return raw if len(raw) <= MAX_KEPT_BODY else f"<{len(raw)} bytes, not kept>"


def decoded(raw: bytes) -> Any:
    """A kept body as JSON when it parses, as text otherwise."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return raw.decode("utf-8", "replace")


class Journal:
    """A ring of the last `size` entries."""

    def __init__(self, size: int = 1000) -> None:
        self.entries: deque[Entry] = deque(maxlen=size)
        self.next_id = 1

    def open(self, method: str, path: str, session: str | None, headers: dict[str, str]) -> Entry:
        retry = headers.get("x-stainless-retry-count")
        entry = Entry(
            id=self.next_id,
            time=time.time(),
            method=method,
            path=path,
            session=session,
            retry_count=int(retry) if retry and retry.isascii() and retry.isdigit() else None,
            headers=headers,
        )
        self.next_id += 1
        self.entries.append(entry)
        return entry

    def select(self, session: str | None = None, scenario: str | None = None) -> list[Entry]:
        return [
            entry
            for entry in self.entries
            if (session is None or entry.session == session) and (scenario is None or entry.scenario == scenario)
        ]

    def clear(self, session: str | None = None) -> None:
        if session is None:
            self.entries.clear()
        else:
            kept = [entry for entry in self.entries if entry.session != session]
            self.entries.clear()
            self.entries.extend(kept)
