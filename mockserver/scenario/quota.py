"""Rate-limit quotas: how many requests and tokens a window allows, for `serve --rate-limit`, a scenario's
`rate_limit:` and a session's quota set over the control API.

`requests=60/min,tokens=40000/min` allows 60 requests and 40,000 tokens a minute. This module says what a quota
means and checks it; the counting is the server's (`server/ratelimits.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .problems import hint, short

LimitKind = Literal["requests", "tokens"]
KINDS: tuple[LimitKind, ...] = ("requests", "tokens")
# Window units, in seconds. The real API counts per minute and per day.
UNITS = {
    **dict.fromkeys(("s", "sec", "second"), 1.0),
    **dict.fromkeys(("min", "minute"), 60.0),
    **dict.fromkeys(("h", "hour"), 3600.0),
    **dict.fromkeys(("d", "day"), 86400.0),
}
_LIMIT = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*")
MAX_COUNT = 10**12
MAX_WINDOW = 365 * 86400.0  # a longer window would drain at a rate of nothing
_DIGITS = 20  # past this a count or window cannot be in range (and Python refuses to read 4,300 digits)


class QuotaError(ValueError):
    """A quota that cannot be used; the message says why."""


@dataclass(frozen=True)
class Limit:
    """`count` requests (or tokens) per `window` seconds; `text` is how it was written (`60/min`)."""

    count: int
    window: float
    text: str

    @property
    def per(self) -> str:
        """The window as the real API's 429 message names it: `min`, `day`, or the window as written."""
        named = {1.0: "second", 60.0: "min", 3600.0: "hour", 86400.0: "day"}
        return named.get(self.window, self.text.partition("/")[2])


@dataclass(frozen=True)
class Quota:
    """The limits of a quota; a kind left out keeps the generous default limit, counted but never enforced."""

    requests: Limit | None = None
    tokens: Limit | None = None

    @property
    def active(self) -> bool:
        return self.requests is not None or self.tokens is not None

    def limit(self, kind: LimitKind) -> Limit | None:
        return self.requests if kind == "requests" else self.tokens

    def to_json(self) -> dict[str, str | None]:
        return {kind: limit.text if (limit := self.limit(kind)) else None for kind in KINDS}


def parse_limit(kind: str, text: Any) -> Limit:
    """`60/min`, `40000/min`, `5/10s`, `1000/day`: a count and a window; raises QuotaError."""
    example = "'60/min'" if kind == "requests" else "'40000/min'"
    found = _LIMIT.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise QuotaError(f"'{kind}' must be a count per window like {example}, got {short(text)}")
    count, amount, unit = found.groups()
    if unit not in UNITS:
        raise QuotaError(f"unknown window unit {short(unit)} in '{kind}'{hint(unit, list(UNITS))}")
    window = float(amount or 1) * UNITS[unit] if len(amount or "") <= _DIGITS else math.inf
    if len(count) > _DIGITS or not 1 <= int(count) <= MAX_COUNT or not 0 < window <= MAX_WINDOW:
        raise QuotaError(
            f"'{kind}' must allow 1 to {MAX_COUNT:,} per window of more than 0 s and at most a year, got {short(text)}"
        )
    return Limit(int(count), window, f"{count}/{amount or ''}{unit}")


def from_mapping(values: Mapping[Any, Any]) -> Quota:
    """A quota from `{"requests": "60/min", "tokens": "40000/min"}` (a kind may be null or left out)."""
    limits: dict[str, Limit] = {}
    for key, value in values.items():
        if key not in KINDS:
            raise QuotaError(f"unknown rate-limit key {short(key)}{hint(str(key), KINDS)}")
        if value is not None:
            limits[key] = parse_limit(key, value)
    return Quota(**limits)


def parse(text: str) -> Quota:
    """A quota from `requests=60/min,tokens=40000/min`; empty text is no quota at all. Raises QuotaError."""
    values: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep:
            raise QuotaError(f"expected requests=N/WINDOW or tokens=N/WINDOW, got {short(part)}")
        values[key] = value
    return from_mapping(values)
