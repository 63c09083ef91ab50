"""Chaos: faults drawn at random, per request, for load tests of gateways and retry layers.

`rate_limit=0.05,server_error=0.02,disconnect=0.01,stall=0.01` gives each request a 5 % chance of a 429, 2 %
of a 500, and so on; at most one fault per request. Draws are seeded, and each depends only on the seed, the
session and how many requests that session made before, so a run repeats exactly however its requests
interleave with other sessions'.
"""

from __future__ import annotations

import difflib
import math
import random
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Fault kinds, in the order the draw walks them.
KINDS = ("rate_limit", "server_error", "overloaded", "disconnect", "stall", "error_event")
# The kinds answered with an HTTP error instead of a stream, and its status.
CHAOS_ERRORS = {"rate_limit": 429, "server_error": 500, "overloaded": 503}
# Settings that are not probabilities, with their defaults.
SETTINGS = {"stall_ms": 10000.0, "retry_after": 1.0}


class ChaosError(ValueError):
    """A chaos setting that cannot be used; the message says why."""


@dataclass(frozen=True)
class ChaosSpec:
    rates: Mapping[str, float] = field(default_factory=dict)
    stall_ms: float = SETTINGS["stall_ms"]
    retry_after: float = SETTINGS["retry_after"]

    @property
    def active(self) -> bool:
        return any(self.rates.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "rates": {kind: self.rates.get(kind, 0.0) for kind in KINDS},
            "stall_ms": self.stall_ms,
            "retry_after": self.retry_after,
        }

    def draw(self, seed: int, session: str, index: int) -> tuple[str | None, random.Random]:
        """The fault for a session's `index`-th request (or None), and the generator that placed it, for any
        further choice that fault needs (where in the stream it strikes)."""
        rng = random.Random(f"chaos:{seed}:{session}:{index}")
        roll = rng.random()
        total = 0.0
        for kind in KINDS:
            total += self.rates.get(kind, 0.0)
            if roll < total:
                return kind, rng
        return None, rng


def from_mapping(values: Mapping[str, Any]) -> ChaosSpec:
    """A spec from `{kind: probability, ...}` plus `stall_ms` / `retry_after`; raises ChaosError."""
    rates: dict[str, float] = {}
    settings = dict(SETTINGS)
    for key, value in values.items():
        if key not in KINDS and key not in SETTINGS:
            close = difflib.get_close_matches(str(key), [*KINDS, *SETTINGS], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of: {', '.join([*KINDS, *SETTINGS])}"
            raise ChaosError(f"unknown chaos key {reprlib.repr(key)}{hint}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ChaosError(f"chaos '{key}' must be a number >= 0, got {reprlib.repr(value)}")
        if key in KINDS:
            if value > 1:
                raise ChaosError(f"chaos '{key}' is a probability from 0 to 1, got {value:g}")
            rates[key] = float(value)
        else:
            settings[key] = float(value)
    if sum(rates.values()) > 1 + 1e-9:
        raise ChaosError(f"chaos probabilities add up to {sum(rates.values()):g}; at most one fault per request (<= 1)")
    return ChaosSpec(rates, settings["stall_ms"], settings["retry_after"])


def parse(text: str) -> ChaosSpec:
    """A spec from `rate_limit=0.05,stall=0.01,stall_ms=5000`; raises ChaosError."""
    values: dict[str, Any] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep:
            raise ChaosError(f"expected key=value, got {reprlib.repr(part)}")
        try:
            values[key] = float(value)
        except ValueError:
            raise ChaosError(f"chaos {reprlib.repr(key)} must be a number, got {reprlib.repr(value)}") from None
    return from_mapping(values)
