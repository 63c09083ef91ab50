"""What the app keeps between requests: settings, the scenarios, the journal, the id generator."""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field

from aiohttp import web

from .journal import Journal
from .selection import Selector

# Maps any byte to a base62 digit, so random bytes become an id in one call.
_BASE62_BYTES = ((string.digits + string.ascii_letters).encode() * 5)[:256]


@dataclass
class Settings:
    speed: float = 1.0
    api_key: str | None = None
    admin_token: str | None = None
    journal_size: int = 1000
    seed: int = 0


@dataclass
class State:
    selector: Selector
    settings: Settings
    journal: Journal = field(init=False)
    rng: random.Random = field(init=False)
    started: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.journal = Journal(self.settings.journal_size)
        # Ids come from a seeded generator: a fresh server given the same requests sends the same bytes,
        # `created` timestamps aside.
        self.rng = random.Random(self.settings.seed)

    def chat_id(self) -> str:
        """`chatcmpl-` and 29 base62 characters, like the real ids."""
        return "chatcmpl-" + self.rng.randbytes(29).translate(_BASE62_BYTES).decode()

    def request_id(self) -> str:
        return f"req_{self.rng.getrandbits(128):032x}"


STATE = web.AppKey("mockserver.state", State)
