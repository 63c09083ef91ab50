"""The request journal: what each API request sent and what it got, newest last, bounded in memory.

An entry is written when a request arrives and completed in place when its answer ends, so a stream still
in flight is visible (with `status` null and `ended` "in progress").

The journal is bounded twice: by its number of entries and by the bytes its bodies and headers hold; the
oldest entries go first. A body is kept as the bytes that came and written back into the listing as they are
when they were JSON: the journal never parses a body again, so it always renders, and rendering it costs no
more memory than the bytes themselves.
"""

from __future__ import annotations

import bisect
import json
import time
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

IN_PROGRESS = "in progress"
# Bodies larger than this are journaled as a note, not kept: the journal must stay small.
MAX_KEPT_BODY = 1024 * 1024
# What an entry costs beyond its body and headers (the object and its fields), counted against the byte budget.
ENTRY_OVERHEAD = 1024


@dataclass(slots=True)
class Entry:
    id: int
    time: float  # Unix seconds when the request arrived
    method: str
    path: str
    session: str | None
    retry_count: int | None  # the x-stainless-retry-count header the SDKs send: 0, 1, 2...
    headers: dict[str, str]
    # The raw bytes as they came (they cost the garbage collector nothing to hold), a note when they were too
    # large to keep, or None before a body is read. The listing shows JSON bodies as JSON, others as text.
    body: bytes | str | None = None
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

    body_is_json: bool = field(default=False, repr=False)  # the body parsed as the JSON object the API reads
    cost: int = field(default=0, repr=False)  # bytes counted against the journal's budget

    def render(self) -> bytes:
        """The entry as a JSON object, its body written in as it came when it was JSON."""
        head = json.dumps(
            {
                "id": self.id,
                "time": self.time,
                "method": self.method,
                "path": self.path,
                "session": self.session,
                "retry_count": self.retry_count,
                "headers": self.headers,
            }
        )
        tail = json.dumps(
            {
                "scenario": self.scenario,
                "chosen_by": self.chosen_by,
                "step": self.step,
                "status": self.status,
                "ended": self.ended,
                "chunks": self.chunks,
                "duration_ms": self.duration_ms,
                "fault": self.fault,
                "chaos": self.chaos,
                "stall_ms": self.stall_ms,
                "retry_after": self.retry_after,
                "should_retry": self.should_retry,
                "rate_limit": self.rate_limit,
                "error": self.error,
                "headers_ms": self.headers_ms,
                "ttft_ms": self.ttft_ms,
                "ticks": tick_pairs(self.ticks) if isinstance(self.ticks, array) else self.ticks,
                "marks": self.marks,
                "tool_calls": self.tool_calls,
                "tool_results": self.tool_results,
                "notes": self.notes,
                "miss": self.miss,
                "store_miss": self.store_miss,
                "websocket": self.websocket,
                "close_code": self.close_code,
            }
        )
        return b"".join((head[:-1].encode(), b', "body": ', self._body_json(), b", ", tail[1:].encode()))

    def _body_json(self) -> bytes:
        body = self.body
        if isinstance(body, bytes):
            if self.body_is_json:  # UTF-8 JSON that parsed: valid as it is
                return body
            return json.dumps(body.decode("utf-8", "replace")).encode()
        return json.dumps(body).encode()

    def to_json(self) -> dict[str, Any]:
        """The entry as the control API lists it, as Python data."""
        data: dict[str, Any] = json.loads(self.render())
        return data


def tick_pairs(ticks: array[int]) -> list[list[float]]:
    """The writer's ticks (microseconds, chunks) as [ms, chunks] pairs."""
    return [[ticks[i] / 1000, ticks[i + 1]] for i in range(0, len(ticks) - 1, 2)]


def kept_body(raw: bytes) -> bytes | str:
    """What the journal keeps of a body: the bytes, or a note when they are too large to keep."""
    return raw if len(raw) <= MAX_KEPT_BODY else f"<{len(raw)} bytes, not kept>"


def _headers_cost(headers: dict[str, str]) -> int:
    return sum(map(len, headers)) + sum(map(len, headers.values()))


class Journal:
    """The last `size` entries, holding at most `max_bytes` of bodies and headers (the newest entry is always
    kept, however large)."""

    def __init__(self, size: int = 1000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.entries: deque[Entry] = deque()
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0  # what the entries held cost, against max_bytes
        self.next_id = 1

    def open(self, method: str, path: str, session: str | None, headers: dict[str, str]) -> Entry:
        retry = headers.get("x-stainless-retry-count")
        entry = Entry(
            id=self.next_id,
            time=time.time(),
            method=method,
            path=path,
            session=session,
            retry_count=int(retry) if retry and retry.isascii() and retry.isdigit() and len(retry) < 10 else None,
            headers=headers,
        )
        self.next_id += 1
        self.entries.append(entry)
        self._charge(entry, ENTRY_OVERHEAD + len(path) + _headers_cost(headers))
        return entry

    def keep(self, entry: Entry, raw: bytes) -> None:
        """Keep a request's body in its entry (a note of its size when it is too large)."""
        entry.body = kept_body(raw)
        self._charge(entry, len(entry.body))

    def account(self, entry: Entry) -> None:
        """Count what a finished entry holds beyond its request (its stream's ticks) against the budget."""
        if isinstance(entry.ticks, array):
            self._charge(entry, entry.ticks.itemsize * len(entry.ticks))

    def _charge(self, entry: Entry, cost: int) -> None:
        entry.cost += cost
        self.bytes += cost
        entries = self.entries
        while len(entries) > 1 and (len(entries) > self.size or self.bytes > self.max_bytes):
            self.bytes -= entries.popleft().cost

    def find(self, key: int) -> Entry | None:
        """The entry with this id, while the journal still holds it (ids grow along the journal)."""
        entries = self.entries
        index = bisect.bisect_left(entries, key, key=lambda entry: entry.id)
        return entries[index] if index < len(entries) and entries[index].id == key else None

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
        self.bytes = sum(entry.cost for entry in self.entries)


def listing(entries: list[Entry], batch_bytes: int = 256 * 1024) -> Iterator[bytes]:
    """`{"requests": [...]}` in pieces of about `batch_bytes`, so that a large journal is written as it is
    rendered rather than built whole."""
    pending: list[bytes] = [b'{"requests": [']
    size = 0
    for index, entry in enumerate(entries):
        rendered = entry.render()
        pending.append(b", " + rendered if index else rendered)
        size += len(rendered)
        if size >= batch_bytes:
            yield b"".join(pending)
            pending.clear()
            size = 0
    pending.append(b"]}")
    yield b"".join(pending)
