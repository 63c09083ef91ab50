"""The live feed behind the page: `GET /_mock/feed`, the journal as server-sent events.

A subscriber first gets a `snapshot` of the journal, then, every `FLUSH_S` while something changed, a `requests`
event with the entries that did — new and ended ones whole, those in progress as their new ticks — and a `stats`
event with the open streams. The snapshot and the `requests` events carry the server's clock (`now`), for the page
to draw the streams still running.

The feed reads the journal when it flushes rather than being told of each write: a server nobody watches does no
work for it, and however many chunks a stream writes, it costs one line a flush. Under load the flushes space out
(up to one a second), so that watching costs about the same however busy the server is.

Each subscriber has its own bounded backlog, and its snapshot is made a piece at a time as the page takes it, so a
page that reads slowly (or not at all) never slows the API or grows the server's memory. When the backlog is full,
what it held is dropped and the subscriber gets a `resync` event and a fresh snapshot: the journal is the truth,
the feed only says what changed since.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from aiohttp import web

from ..engine.writer import IN_PROGRESS
from .exchange import current
from .journal import Entry
from .sessions import CONTROL_PREFIX
from .state import STATE, State

FLUSH_S = 0.2
MAX_FLUSH_S = 1.0
BUSY = 1000  # changes a second beyond which flushes space out (1,000 streams in progress: one flush a second)
HEARTBEAT_S = 15.0  # a comment line when nothing happens, so proxies keep the connection and gone pages are noticed
MAX_BACKLOG = 2 * 1024 * 1024  # bytes waiting for one subscriber
PIECE = 64 * 1024  # a snapshot is written in pieces of about this size


def summary(entry: Entry, ticks_from: int = 0) -> dict[str, Any]:
    """An entry as the page needs it: everything but its headers and body, its ticks from pair `ticks_from` on
    (flat: microseconds, chunks, microseconds, chunks...). `call` is the same for two entries with the same body,
    which is how attempts of one call are told."""
    ticks = entry.ticks
    body = entry.body if isinstance(entry.body, (bytes, str)) else None
    return {
        "id": entry.id,
        "time": entry.time,
        "method": entry.method,
        "path": entry.path,
        "session": entry.session,
        "retry_count": entry.retry_count,
        "scenario": entry.scenario,
        "chosen_by": entry.chosen_by,
        "step": entry.step,
        "status": entry.status,
        "ended": entry.ended,
        "chunks": ticks[-1] if ticks and entry.ended == IN_PROGRESS else entry.chunks,
        "duration_ms": entry.duration_ms,
        "fault": entry.fault,
        "chaos": entry.chaos,
        "stall_ms": entry.stall_ms,
        "retry_after": entry.retry_after,
        "should_retry": entry.should_retry,
        "error": entry.error,
        "headers_ms": entry.headers_ms,
        "ttft_ms": entry.ttft_ms,
        "marks": entry.marks,
        "websocket": entry.websocket,  # a Responses WebSocket's connection (method GET) and its turns (method WS)
        "close_code": entry.close_code,
        "call": format(hash(body) % (1 << 48), "x"),  # computed once per body, then cached
        "ticks_from": ticks_from,
        "ticks": ticks[2 * ticks_from :].tolist() if ticks is not None else [],
    }


def progress(entry: Entry, ticks_from: int, named: bool) -> dict[str, Any]:
    """What changed in an entry still in progress since the last flush: its new ticks, and the scenario if it was
    named since (when its stream started)."""
    update: dict[str, Any] = {"id": entry.id, "ticks_from": ticks_from, "ticks": entry.ticks[2 * ticks_from :].tolist()}
    if not named and entry.scenario is not None:
        update.update(scenario=entry.scenario, chosen_by=entry.chosen_by, step=entry.step)
    return update


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _json(data) + b"\n\n"


class Subscriber:
    """One page's connection: what it wants (a session, or all), and what waits to be sent to it."""

    def __init__(self, session: str | None) -> None:
        self.session = session
        self.backlog: list[bytes] = []
        self.size = 0
        self.behind = False  # its backlog overflowed: it needs a fresh snapshot
        self.closed = False
        self.wake = asyncio.Event()

    def push(self, data: bytes) -> None:
        if self.behind:
            return
        if self.size + len(data) > MAX_BACKLOG:
            self.backlog.clear()
            self.size = 0
            self.behind = True
        else:
            self.backlog.append(data)
            self.size += len(data)
        self.wake.set()

    def take(self) -> bytes:
        data = b"".join(self.backlog)
        self.backlog.clear()
        self.size = 0
        return data


class Feed:
    """The subscribers of one app, and what the last flush saw of the journal."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.subscribers: set[Subscriber] = set()
        self.last_id = 0  # the newest entry flushed
        self.live: dict[int, Live] = {}  # the entries in progress at the last flush
        self.stats: dict[str, int] = {}
        self.flusher: asyncio.Task[None] | None = None

    def snapshot(self, session: str | None) -> Iterator[bytes]:
        """The `snapshot` event in pieces of about `PIECE` bytes, each entry serialized only once the pieces before
        it are taken: a journal of long streams makes a snapshot of many megabytes, and each page that asked for
        one would hold all of it (however slowly it reads), and stop the server while it was made."""
        journal = self.state.journal
        keys = [entry.id for entry in journal.select(session=session)]  # not the entries: a page may never read
        head = {"now": time.time(), "journal_size": self.state.settings.journal_size, "stats": self._stats()}
        pieces = [b"event: snapshot\ndata: " + _json(head)[:-1] + b',"requests":[']
        size, comma = 0, b""
        for key in keys:
            entry = journal.find(key)
            if entry is None:  # gone from the journal meanwhile
                continue
            pieces.append(comma + _json(summary(entry)))
            size, comma = size + len(pieces[-1]), b","
            if size >= PIECE:
                yield b"".join(pieces)
                pieces.clear()
                size = 0
        yield b"".join(pieces) + b"]}\n\n"

    def subscribe(self, session: str | None) -> Subscriber:
        """A new subscriber, from the flusher's starting point; its snapshot (the caller's) lists the entries of
        that moment, each as it is when its piece is made."""
        if self.flusher is None:
            entries = self.state.journal.entries
            self.last_id = entries[-1].id if entries else 0
            self.live = {entry.id: Live.of(entry) for entry in entries if entry.ended == IN_PROGRESS}
            self.stats = self._stats()
            self.flusher = asyncio.create_task(self._flush_while_watched())
        subscriber = Subscriber(session)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def reset(self, session: str | None) -> None:
        """The journal was cleared (of one session): subscribers drop those entries."""
        self.live = {
            key: live for key, live in self.live.items() if session is not None and live.entry.session != session
        }
        data = event("reset", {"session": session})
        for subscriber in self.subscribers:
            if subscriber.session is None or session is None or subscriber.session == session:
                subscriber.push(data)

    async def close(self, app: web.Application | None = None) -> None:
        """End every feed (the server is stopping)."""
        for subscriber in self.subscribers:
            subscriber.closed = True
            subscriber.wake.set()
        if self.flusher is not None:
            self.flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.flusher

    async def _flush_while_watched(self) -> None:
        try:
            changes = 0
            while self.subscribers:
                await asyncio.sleep(min(MAX_FLUSH_S, max(FLUSH_S, changes / BUSY)))
                changes = self.flush()
        finally:
            self.flusher = None

    def flush(self) -> int:
        """Send every subscriber what changed in the journal since the last flush — new entries and ended ones
        whole, for the others in progress only their new ticks; returns how many changed."""
        changed: list[tuple[Entry, dict[str, Any]]] = []
        for key, live in list(self.live.items()):
            entry = live.entry
            start = max(0, live.sent - 1)  # the last pair sent moves once a stream's ticks are full
            if entry.ended != IN_PROGRESS:
                del self.live[key]
                changed.append((entry, summary(entry, start)))
            elif live.changed():
                changed.append((entry, progress(entry, start, live.named)))
                self.live[key] = Live.of(entry)
        new = []
        for entry in reversed(self.state.journal.entries):
            if entry.id <= self.last_id:
                break
            new.append(entry)
            if entry.ended == IN_PROGRESS:
                self.live[entry.id] = Live.of(entry)
        if new:
            self.last_id = new[0].id
            changed.extend((entry, summary(entry)) for entry in reversed(new))
        stats = self._stats()
        if stats != self.stats:
            self.stats = stats
            self._send(event("stats", stats))
        if changed:
            self._send_changes(changed)
        return len(changed)

    def _send(self, data: bytes) -> None:
        for subscriber in self.subscribers:
            subscriber.push(data)

    def _send_changes(self, changed: list[tuple[Entry, dict[str, Any]]]) -> None:
        """One `requests` event per session filter, serialized once for all its subscribers."""
        by_filter: dict[str | None, list[Subscriber]] = {}
        for subscriber in self.subscribers:
            by_filter.setdefault(subscriber.session, []).append(subscriber)
        for session, subscribers in by_filter.items():
            summaries = [change for entry, change in changed if session in (None, entry.session)]
            if summaries:
                data = event("requests", {"now": time.time(), "requests": summaries})
                for subscriber in subscribers:
                    subscriber.push(data)

    def _stats(self) -> dict[str, int]:
        metrics = self.state.metrics
        return {
            "open_streams": metrics.open_streams,
            "in_flight": self.state.journal.next_id - 1 - metrics.finished,
            "answered": metrics.finished,
        }


class Live(NamedTuple):
    """An entry in progress as the last flush left it: the tick pairs sent, the last one's time, whether its
    scenario was sent."""

    entry: Entry
    sent: int
    last: int
    named: bool

    @classmethod
    def of(cls, entry: Entry) -> Live:
        ticks = entry.ticks
        if not ticks:
            return cls(entry, 0, 0, entry.scenario is not None)
        return cls(entry, len(ticks) // 2, ticks[-2], entry.scenario is not None)

    def changed(self) -> bool:
        ticks = self.entry.ticks
        if not self.named and self.entry.scenario is not None:
            return True
        return bool(ticks) and (len(ticks) // 2 != self.sent or ticks[-2] != self.last)


FEED = web.AppKey("mockserver.feed", Feed)


async def feed(request: web.Request) -> web.StreamResponse:
    """`GET /_mock/feed` (`?session=` for one session's requests)."""
    hub = request.app[FEED]
    session = current().session or None
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    subscriber = hub.subscribe(session)
    try:
        await _write_snapshot(response, hub, session)
        while not subscriber.closed:
            try:
                await asyncio.wait_for(subscriber.wake.wait(), HEARTBEAT_S)
            except asyncio.TimeoutError:
                await response.write(b": ping\n\n")
                continue
            subscriber.wake.clear()
            if subscriber.behind:
                subscriber.behind = False
                await response.write(event("resync", {}))
                await _write_snapshot(response, hub, session)
            elif subscriber.backlog:
                await response.write(subscriber.take())
    except ConnectionError:
        pass  # the page went away
    finally:
        hub.unsubscribe(subscriber)
    return response


async def _write_snapshot(response: web.StreamResponse, hub: Feed, session: str | None) -> None:
    """A piece at a time, each once the one before has left (or, for a page that reads fast, after the loop has
    served the others)."""
    for piece in hub.snapshot(session):
        await response.write(piece)  # waits while the page has not taken what was written
        await asyncio.sleep(0)


def add_routes(app: web.Application) -> None:
    hub = app[FEED] = Feed(app[STATE])
    app.on_shutdown.append(hub.close)
    app.router.add_get(CONTROL_PREFIX + "feed", feed, allow_head=False)  # a stream: no head without its body
