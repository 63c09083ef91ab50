"""The request journal: what each API request sent and what it got, newest last, bounded in memory.

An entry is written when a request arrives and completed in place when its answer ends, so a stream still
in flight is visible (with `status` null and `ended` "in progress").
"""

from __future__ import annotations

import json
import time
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
    store_miss: str | None = None  # a stored object looked up in vain because --store-size dropped it

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if isinstance(self.body, bytes):
            data["body"] = decoded(self.body)
        return data


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
