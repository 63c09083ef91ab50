"""What the server keeps for clients between their requests — stored responses and conversations — in one place
with one bound.

Everything lives in memory, per session (a request sees only its own session's objects; a reset clears them),
in one least-recently-used order across sessions: beyond `--store-size` objects, or `--store-bytes` of what they
hold, the least recently used is dropped. A dropped id is remembered (as many of them as the bound), so that a
lookup that misses because of the bound can say so in the journal instead of looking like a client's mistake.

What an object holds is estimated, not measured (`held`): a response its own input, instructions and tools as
Python holds them and four bytes a token of its answer, a conversation its items; each object counts `OVERHEAD`
besides.

A stored response keeps what it was made from — the request as checked, the plan, its ids — and is rendered
again when it is read, so keeping one costs the hot path next to nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..engine.ask import Message
from ..engine.plan import Plan
from ..wire.responses_object import Envelope
from ..wire.responses_request import ResponsesAsk

T = TypeVar("T")
OVERHEAD = 2048  # bytes an object counts besides what it holds
BYTES_PER_TOKEN = 4


@dataclass(eq=False)
class Turns:
    """Items read as a conversation: the chat-like messages the token estimate counts, and the turns."""

    estimate: list[Any]
    messages: list[Message]


@dataclass(eq=False)
class Live:
    """A background response's stream as it is sent, for everyone who follows it: each frame with its key —
    an event's sequence number, or for other bytes (a keep-alive, raw bytes) the number of events before them —
    so that resuming after sequence number N sends exactly the frames whose key is above N."""

    keys: list[int] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    events: int = 0  # events so far (and the next one's sequence number)
    finished: bool = False
    cut: bool = False  # the script cut the connection: followers are cut too
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    # Renders the event that ends it when it is cancelled, given the next sequence number and the chunks sent.
    cancel: Callable[[int, int], bytes] | None = None

    def add(self, data: bytes, events: int) -> None:
        """Frames sent together: split into events (each ends with a blank line), or one frame of other bytes."""
        if not data:
            return
        if events:
            for frame in data.split(b"\n\n")[:-1]:
                self.keys.append(self.events)
                self.frames.append(frame + b"\n\n")
                self.events += 1
        else:
            self.keys.append(self.events)
            self.frames.append(data)
        self.wake.set()
        self.wake = asyncio.Event()

    def finish(self) -> None:
        self.finished = True
        self.wake.set()


@dataclass(eq=False)
class StoredResponse:
    """A response as kept: what renders it again, and where it sits in a chain or a conversation."""

    ask: ResponsesAsk
    plans: list[Plan]
    envelope: Envelope
    status: str
    live: Live | None = None  # a background response's stream
    sent: int | None = None  # a cancelled response: the chunks it had sent
    own: Turns | None = None  # its input and output as turns, once read

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def parent(self) -> str | None:
        return self.ask.echoed.previous_response_id


@dataclass(eq=False)
class Conversation:
    """A conversation: its items in order, each with its id."""

    id: str
    created_at: int
    metadata: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    made: int = 0  # item ids handed out so far

    def item_id(self, prefix: str) -> str:
        """A new id for one of its items: derived from the conversation's, so the same run gives the same ids."""
        self.made += 1
        return prefix + hashlib.sha256(f"{self.id}:{self.made}".encode()).hexdigest()[:48]


def response_cost(ask: ResponsesAsk, plans: list[Plan]) -> int:
    """What a stored response holds, about: its own input, instructions and tools as Python holds them, and its
    answers (the earlier turns of its chain are held by the responses before it). Tokens would not do: an 8 MiB
    word is 8 tokens, and 20,000 small parts are 40,000 tokens but 5 MB."""
    settings = ask.echoed
    own = held(ask.input) + held(settings.instructions) + held(settings.tools)
    return own + BYTES_PER_TOKEN * sum(plan.completion_tokens for plan in plans)


def held(value: Any) -> int:
    """About the bytes Python holds for parsed JSON: each text, and each object's and list's own overhead."""
    total, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            total += 50 + len(item)
        elif isinstance(item, dict):
            total += 100 + 50 * len(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            total += 60 + 8 * len(item)
            pending.extend(item)
        else:
            total += 32
    return total


class Store:
    """Every stored object of every session, in least-recently-used order, at most `size` of them holding at most
    `max_bytes`; and the background tasks that fill stored responses in, owned here so that shutdown and resets
    stop them."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0  # what the objects hold, against max_bytes
        self._objects: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._costs: dict[tuple[str, str], int] = {}
        self._dropped: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()

    def put(self, session: str, key: str, value: Any, cost: int) -> None:
        """Keep an object that holds about `cost` bytes."""
        self._forget((session, key))
        self._objects[session, key] = value
        self._costs[session, key] = OVERHEAD + cost
        self.bytes += OVERHEAD + cost
        self._dropped.pop((session, key), None)
        self._bound()

    def room(self, session: str, key: str | None, cost: int) -> bool:
        """Whether an object (`key` None: a new one) could hold `cost` bytes more and still fit the bound alone."""
        has = self._costs.get((session, key), 0) if key is not None else OVERHEAD
        return has + cost <= self.max_bytes

    def charge(self, session: str, key: str, cost: int) -> None:
        """An object kept holds about `cost` bytes more (a conversation's new items)."""
        if (session, key) in self._costs:
            self._costs[session, key] += cost
            self.bytes += cost
            self._objects.move_to_end((session, key))
            self._bound()

    def _bound(self) -> None:
        """Drop the least recently used while over either bound; an object over the bytes alone goes too."""
        objects = self._objects
        while objects and (len(objects) > self.size or self.bytes > self.max_bytes):
            dropped, _ = objects.popitem(last=False)
            self.bytes -= self._costs.pop(dropped)
            self._dropped[dropped] = None
            if len(self._dropped) > self.size:
                self._dropped.popitem(last=False)

    def _forget(self, key: tuple[str, str]) -> Any:
        value = self._objects.pop(key, None)
        self.bytes -= self._costs.pop(key, 0)
        return value

    def get(self, session: str, key: str, kind: type[T]) -> T | None:
        """The object, now the most recently used; None when there is none of that kind."""
        value = self._objects.get((session, key))
        if not isinstance(value, kind):
            return None
        self._objects.move_to_end((session, key))
        return value

    def remove(self, session: str, key: str) -> None:
        self._forget((session, key))

    def dropped(self, session: str, key: str) -> bool:
        """Whether the bound dropped this object (rather than it never having been, or having been deleted)."""
        return (session, key) in self._dropped

    def start(self, task: asyncio.Task[None]) -> None:
        """Own a background task until it ends."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def reset(self, session: str | None = None) -> None:
        """Forget every object (of one session), stopping the background responses among them."""
        if session is None:
            doomed = list(self._objects.values())
            self._objects.clear()
            self._costs.clear()
            self.bytes = 0
            self._dropped.clear()
        else:
            keys = [key for key in self._objects if key[0] == session]
            doomed = [self._forget(key) for key in keys]
            self._dropped = OrderedDict((key, None) for key in self._dropped if key[0] != session)
        for value in doomed:
            if isinstance(value, StoredResponse) and value.live is not None:
                stop(value.live)

    async def close(self) -> None:
        """Stop every background response (the app is shutting down)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def stop(live: Live) -> None:
    """Stop a background response where it is: its task ends, its followers' streams end."""
    if live.task is not None:
        live.task.cancel()
    live.finish()
