"""What the app keeps between requests: settings, the scenarios, the journal, the id generator."""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from aiohttp import web

from ..engine.selection import Selector
from ..scenario.chaos import ChaosSpec
from ..wire.ids import hex_token
from .journal import Journal
from .metrics import Metrics
from .ratelimits import Limiter
from .refusals import Refusals
from .settings import Settings
from .store import Store

# Request bodies over 1 MiB read and parsed at once (see `bodies.read_object`).
MAX_LARGE_AT_ONCE = 4
MAX_LARGE_ANSWERS_AT_ONCE = 2  # answers over pipeline.LARGE_ANSWER made and sent at once
# Sessions whose sequence counts, draws and scenarios are kept (the journal is bounded on its own).
MAX_SESSIONS = 10_000


@dataclass
class State:
    selector: Selector
    settings: Settings
    journal: Journal = field(init=False)
    store: Store = field(init=False)  # stored responses and conversations
    rng: random.Random = field(init=False)
    chaos: ChaosSpec | None = field(init=False)  # the server's chaos rates, changeable at run time
    limits: Limiter = field(init=False)  # the quotas and the rate-limit counts
    # session -> draw key -> draws made: a session's draws are forgotten with it, in one step
    draws: dict[str, dict[tuple[str, ...], int]] = field(init=False, default_factory=dict)
    sessions: OrderedDict[str, None] = field(init=False, default_factory=OrderedDict)  # by last use
    started: float = field(init=False, default_factory=time.monotonic)
    metrics: Metrics = field(init=False, default_factory=Metrics)  # since the server started; reset keeps them
    loading: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)  # one scenario body loads at a time
    in_flight: set[asyncio.Task[object]] = field(init=False, default_factory=set)  # cancelled when the server stops
    # Large request bodies read and parsed at once (see `bodies.read_object`).
    large_bodies: asyncio.Semaphore = field(init=False, default_factory=lambda: asyncio.Semaphore(MAX_LARGE_AT_ONCE))
    # Large answers made and sent at once (see `pipeline.answer_whole`).
    large_answers: asyncio.Semaphore = field(
        init=False, default_factory=lambda: asyncio.Semaphore(MAX_LARGE_ANSWERS_AT_ONCE)
    )
    refusals: Refusals = field(init=False, default_factory=Refusals)  # WebSocket upgrades a script refuses

    def __post_init__(self) -> None:
        self.journal = Journal(self.settings.journal_size, self.settings.journal_bytes)
        self.store = Store(self.settings.store_size, self.settings.store_bytes)
        # Ids come from a seeded generator: a fresh server given the same requests sends the same bytes,
        # `created` timestamps aside.
        self.rng = random.Random(self.settings.seed)
        self.chaos = self.settings.chaos
        self.limits = Limiter(self.settings.rate_limit)

    def touch(self, session: str) -> None:
        """Note that a session is in use. The state of the MAX_SESSIONS most recently used ones is kept; the
        least recent is forgotten (its counts, draws, scenarios and use()), so a load test with a fresh session per
        request cannot grow it forever; forgetting one costs the same however many there are."""
        self.sessions[session] = None
        self.sessions.move_to_end(session)
        if len(self.sessions) > MAX_SESSIONS:
            oldest, _ = self.sessions.popitem(last=False)
            self.selector.reset(oldest)
            self.limits.reset(oldest)
            self.draws.pop(oldest, None)
            self.refusals.reset(oldest)

    def request_id(self) -> str:
        return "req_" + hex_token(self.rng, 32)

    def next_draw(self, key: tuple[str, ...]) -> int:
        """How many draws were made for `key` (a session's chaos, a scenario's jitter in a session) before
        this one: random choices are seeded with it, so they do not depend on other sessions' requests. The
        session is the last part of every key."""
        draws = self.draws.setdefault(key[-1], {})
        count = draws.get(key, 0)
        draws[key] = count + 1
        return count

    def reset(self, session: str | None = None) -> None:
        """Forget sequence counts, draws, rate-limit counts, journal entries and stored objects: all, or one
        session's (and its scenarios and quota)."""
        self.selector.reset(session)
        self.limits.reset(session)
        self.journal.clear(session)
        self.store.reset(session)
        if session is None:
            self.draws.clear()
        else:
            self.draws.pop(session, None)
        self.refusals.reset(session)


STATE = web.AppKey("mockserver.state", State)
