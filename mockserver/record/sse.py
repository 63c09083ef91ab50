"""Server-sent events read as they arrive: bytes in, whole events out, each stamped with the time of the read that
completed it — so that events that came in one read share a time, as they will share a write on replay."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One event: its `event:` name (None: the default), its data lines joined, and when it was complete (ms).
    A comment line (`: keep-alive`) is an event of its own, with `comment` set to the whole line."""

    at: float
    data: str
    event: str | None = None
    comment: str | None = None


class SseReader:
    """An incremental parser of `text/event-stream` bytes (line endings `\\n` or `\\r\\n`)."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the line not complete yet, as read: joined once it is
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, data: bytes, at: float) -> list[Event]:
        """The events `data` completes, all stamped `at`."""
        if b"\n" not in data:  # a long line arriving: kept in pieces, not copied again at each read
            self._pending.append(data)
            return []
        lines = b"".join((*self._pending, data)).split(b"\n")
        self._pending = [lines.pop()]
        events: list[Event] = []
        for raw in lines:
            line = raw.removesuffix(b"\r").decode("utf-8", "replace")
            if not line:
                if self._data or self._event is not None:
                    events.append(Event(at, "\n".join(self._data), self._event))
                self._data, self._event = [], None
            elif line.startswith(":"):
                events.append(Event(at, "", comment=line))
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    self._data.append(value)
                elif name == "event":
                    self._event = value
        return events

    def close(self, at: float) -> list[Event]:
        """At the end of the body: an event left without its blank line still counts (some servers end so)."""
        events = self.feed(b"\n\n", at) if b"".join(self._pending).strip() or self._data else []
        self._pending = []
        return events
