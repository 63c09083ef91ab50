"""What the app keeps between requests: settings, the scenarios, the journal, the id generator."""

from __future__ import annotations

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
    draws: dict[tuple[str, ...], int] = field(init=False, default_factory=dict)
    sessions: OrderedDict[str, None] = field(init=False, default_factory=OrderedDict)  # by last use
    started: float = field(init=False, default_factory=time.monotonic)
    metrics: Metrics = field(init=False, default_factory=Metrics)  # since the server started; reset keeps them
    refusals: Refusals = field(init=False, default_factory=Refusals)  # WebSocket upgrades a script refuses

    def __post_init__(self) -> None:
        self.journal = Journal(self.settings.journal_size)
        self.store = Store(self.settings.store_size)
        # Ids come from a seeded generator: a fresh server given the same requests sends the same bytes,
        # `created` timestamps aside.
        self.rng = random.Random(self.settings.seed)
        self.chaos = self.settings.chaos
        self.limits = Limiter(self.settings.rate_limit)

    def touch(self, session: str) -> None:
        """Note that a session is in use. The state of the MAX_SESSIONS most recently used ones is kept; the
        least recent is forgotten, so a load test with a fresh session per request cannot grow it forever."""
        self.sessions[session] = None
        self.sessions.move_to_end(session)
        if len(self.sessions) > MAX_SESSIONS:
            oldest, _ = self.sessions.popitem(last=False)
            self.selector.reset(oldest)
            self.limits.reset(oldest)
            self.refusals.reset(oldest)
            self.draws = {key: n for key, n in self.draws.items() if key[-1] != oldest}

    def request_id(self) -> str:
        return "req_" + hex_token(self.rng, 32)

    def next_draw(self, key: tuple[str, ...]) -> int:
        """How many draws were made for `key` (a session's chaos, a scenario's jitter in a session) before
        this one: random choices are seeded with it, so they do not depend on other sessions' requests."""
        count = self.draws.get(key, 0)
        self.draws[key] = count + 1
        return count

    def reset(self, session: str | None = None) -> None:
        """Forget sequence counts, draws, rate-limit counts, journal entries and stored objects: all, or one
        session's (and its scenarios and quota)."""
        self.selector.reset(session)
        self.limits.reset(session)
        self.journal.clear(session)
        self.store.reset(session)
        self.refusals.reset(session)
        # The session is the last part of every draw key.
        self.draws = {key: n for key, n in self.draws.items() if session is not None and key[-1] != session}


STATE = web.AppKey("mockserver.state", State)
