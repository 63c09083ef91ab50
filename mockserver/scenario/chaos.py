"""Chaos settings: how likely each random fault is, per request, for load tests of gateways and retry layers.

`rate_limit=0.05,server_error=0.02,disconnect=0.01,stall=0.01` gives each request a 5 % chance of a 429, 2 %
of a 500, and so on; at most one fault per request (a WebSocket turn is a request). `refuse` is drawn apart, once
per WebSocket upgrade. This module says what a setting means and checks it; the draw itself, and how a drawn fault
enters an answer, are the engine's (`engine/chaos.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .problems import hint, short

ChaosKind = Literal["rate_limit", "server_error", "overloaded", "disconnect", "stall", "error_event", "close", "refuse"]
KINDS: tuple[ChaosKind, ...] = get_args(ChaosKind)
# The kind drawn once per WebSocket upgrade; every other kind is drawn per request, in this order.
UPGRADE_KIND: ChaosKind = "refuse"
REQUEST_KINDS: tuple[ChaosKind, ...] = tuple(kind for kind in KINDS if kind != UPGRADE_KIND)
# Settings that are not probabilities, with their defaults.
SETTINGS = {"stall_ms": 10000.0, "retry_after": 1.0, "close_code": 1011.0, "refuse_status": 503.0}
# The whole-number settings, with their bounds.
CODES = {"close_code": (1000, 4999), "refuse_status": (400, 599)}
MAXIMA = {"stall_ms": 86_400_000, "retry_after": 86_400}


class ChaosError(ValueError):
    """A chaos setting that cannot be used; the message says why."""


@dataclass(frozen=True)
class ChaosSpec:
    rates: Mapping[ChaosKind, float] = field(default_factory=dict)
    stall_ms: float = SETTINGS["stall_ms"]
    retry_after: float = SETTINGS["retry_after"]
    close_code: int = int(SETTINGS["close_code"])
    refuse_status: int = int(SETTINGS["refuse_status"])

    @property
    def active(self) -> bool:
        return any(self.rates.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "rates": {kind: self.rates.get(kind, 0.0) for kind in KINDS},
            "stall_ms": self.stall_ms,
            "retry_after": self.retry_after,
            "close_code": self.close_code,
            "refuse_status": self.refuse_status,
        }


def from_mapping(values: Mapping[Any, Any]) -> ChaosSpec:
    """A spec from `{kind: probability, ...}` plus `stall_ms` / `retry_after`; raises ChaosError."""
    rates: dict[ChaosKind, float] = {}
    settings = dict(SETTINGS)
    for key, value in values.items():
        if key not in KINDS and key not in SETTINGS:
            raise ChaosError(f"unknown chaos key {short(key)}{hint(str(key), [*KINDS, *SETTINGS])}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
            raise ChaosError(f"chaos '{key}' must be a number >= 0, got {short(value)}")
        if key in KINDS:
            if value > 1:
                raise ChaosError(f"chaos '{key}' is a probability from 0 to 1, got {short(value)}")
            rates[key] = float(value)
        else:
            if key in CODES and not (CODES[key][0] <= value <= CODES[key][1] and value == int(value)):
                low, high = CODES[key]
                raise ChaosError(f"chaos '{key}' must be a whole number from {low} to {high}, got {short(value)}")
            elif key in MAXIMA and value > MAXIMA[key]:
                raise ChaosError(f"chaos '{key}' must be at most {MAXIMA[key]:,} (a day), got {short(value)}")
            settings[key] = float(value)
    total = sum(rate for kind, rate in rates.items() if kind in REQUEST_KINDS)
    if total > 1 + 1e-9:
        raise ChaosError(f"chaos probabilities add up to {total:g}; at most one fault per request (<= 1)")
    return ChaosSpec(
        rates,
        settings["stall_ms"],
        settings["retry_after"],
        int(settings["close_code"]),
        int(settings["refuse_status"]),
    )


def parse(text: str) -> ChaosSpec:
    """A spec from `rate_limit=0.05,stall=0.01,stall_ms=5000`; raises ChaosError."""
    values: dict[str, Any] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep:
            raise ChaosError(f"expected key=value, got {short(part)}")
        try:
            values[key] = float(value)
        except ValueError:
            raise ChaosError(f"chaos {short(key)} must be a number, got {short(value)}") from None
    return from_mapping(values)
