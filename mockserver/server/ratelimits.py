"""Rate limits that count: the x-ratelimit-* numbers of every answer, and the real 429 for a request over a quota.

Each limit is a bucket that empties at its rate — a limit of 60 a minute frees one request a second — as the
real API's arithmetic shows: `x-ratelimit-reset-*` is the time until the bucket is empty again, and the wait a
429 asks for is the time until the request fits. A request costs one request and its tokens: the prompt's
tokens plus its `max_tokens` budget.

The quota that applies is the most specific one: the scenario's `rate_limit`, else the session's (set over the
control API), else the server's (`--rate-limit`). Counts are kept per session, like sequence counts. Without a
quota, the generous default limits still count down but never refuse anything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..scenario.model import Scenario
from ..scenario.quota import KINDS, LimitKind, Quota
from ..wire.errors import RATE_LIMITS, ApiError, Counts, go_duration, retry_headers

# Slack for float arithmetic: a bucket exactly full still takes nothing more.
_EPSILON = 1e-9
_ORGANIZATION = "org-mockserver"
_LEARN_MORE = "Visit https://platform.openai.com/account/rate-limits to learn more."
_SHORT = {"min": "M", "day": "D"}


@dataclass(slots=True)
class Bucket:
    """One count (requests or tokens): `level` is what is in use, and it drains at `rate` (`limit / window`) a
    second. Every request reads and changes two of these: they are kept lean."""

    kind: LimitKind
    limit: int
    window: float
    per: str  # the window in a 429's message: "min", "day", "10s"
    enforced: bool
    level: float = 0.0
    at: float = 0.0
    rate: float = field(init=False)

    def __post_init__(self) -> None:
        self.rate = self.limit / self.window

    def drain(self, now: float) -> None:
        if self.level:
            self.level = max(0.0, self.level - (now - self.at) * self.rate)
        self.at = now

    def fits(self, cost: int) -> bool:
        return not self.enforced or self.level + cost <= self.limit + _EPSILON

    def take(self, cost: int) -> None:
        self.level = min(self.level + cost, float(self.limit))

    @property
    def remaining(self) -> int:
        return max(0, int(self.limit - self.level + _EPSILON))  # int() floors what is not negative

    @property
    def reset(self) -> float:
        """Seconds until nothing is in use."""
        return self.level / self.rate

    def wait(self, cost: int) -> float:
        """Seconds until `cost` fits, rounded up to the millisecond: a client that waits that long gets in."""
        return math.ceil((self.level + cost - self.limit) / self.rate * 1000 - _EPSILON) / 1000

    def bucket_name(self) -> str:
        suffix = f" ({self.kind[0].upper()}P{_SHORT[self.per]})" if self.per in _SHORT else ""
        return f"{self.kind} per {self.per}{suffix}"


def _bucket(quota: Quota | None, kind: LimitKind) -> Bucket:
    limit = quota.limit(kind) if quota is not None else None
    if limit is None:
        return Bucket(kind, RATE_LIMITS[kind], 60.0, "min", enforced=False)
    return Bucket(kind, limit.count, limit.window, limit.per, enforced=True)


@dataclass
class Meter:
    """The two counts of one quota in one session."""

    quota: Quota | None
    requests: Bucket = field(init=False)
    tokens: Bucket = field(init=False)

    def __post_init__(self) -> None:
        self.requests, self.tokens = (_bucket(self.quota, kind) for kind in KINDS)

    def counts(self, exhausted: Bucket | None = None) -> Counts:
        requests, tokens = self.requests, self.tokens
        return Counts(
            requests.limit,
            0 if exhausted is requests else requests.remaining,
            requests.reset,
            tokens.limit,
            0 if exhausted is tokens else tokens.remaining,
            tokens.reset,
        )


class Taken(NamedTuple):
    """What a request's use of its quota gave: the counts its answer reports, the 429 when it did not fit, and
    for the journal (only when a quota applies) the quota and the counts."""

    counts: Counts
    refusal: ApiError | None = None
    record: dict[str, Any] | None = None


class Limiter:
    """The server's quota, the sessions' own quotas, and every session's counts."""

    def __init__(self, server: Quota | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.sessions: dict[str, Quota] = {}
        self.meters: dict[str, dict[str, Meter]] = {}  # session -> scope ("" or a scenario's name) -> meter
        self.clock = clock

    def quota_of(self, session: str) -> tuple[str, Quota | None]:
        """The quota of a session's requests whose scenario has none, and where it comes from."""
        if session in self.sessions:
            return "session", self.sessions[session]
        return "server", self.server

    def _meter(self, session: str, scope: str, quota: Quota | None) -> Meter:
        meters = self.meters.setdefault(session, {})
        meter = meters.get(scope)
        if meter is None or (meter.quota is not quota and meter.quota != quota):  # a changed quota starts afresh
            meter = meters[scope] = Meter(quota)
        return meter

    def take(self, scenario: Scenario, session: str, tokens: int, model: str) -> Taken:
        """Count one request of `tokens` tokens, answered by `scenario`, or refuse it with the real 429."""
        quota = scenario.rate_limit
        if quota is not None:
            where, scope = "scenario", scenario.name
        else:
            (where, quota), scope = self.quota_of(session), ""
        meter = self._meter(session, scope, quota)
        now = self.clock()
        requests, bucket = meter.requests, meter.tokens
        requests.drain(now)
        bucket.drain(now)
        refusal = None
        if requests.fits(1) and bucket.fits(tokens):
            requests.take(1)
            bucket.take(tokens)
        elif not requests.fits(1):
            refusal = _limit_reached(meter, requests, 1, model)
        elif tokens > bucket.limit:
            refusal = _too_large(meter, tokens, model)
        else:
            refusal = _limit_reached(meter, bucket, tokens, model)
        counts = meter.counts()
        if quota is None or not quota.active:
            return Taken(counts, refusal)
        record = {
            "quota": where,
            "remaining_requests": meter.requests.remaining,
            "remaining_tokens": meter.tokens.remaining,
            "refused": refusal.type if refusal is not None else None,
        }
        return Taken(counts, refusal, record)

    def peek(self, session: str) -> Counts:
        """A session's counts as they stand, for an answer that uses nothing (a request refused as invalid)."""
        meter = self._meter(session, "", self.quota_of(session)[1])
        now = self.clock()
        meter.requests.drain(now)
        meter.tokens.drain(now)
        return meter.counts()

    def set_quota(self, quota: Quota | None, session: str | None) -> None:
        """Replace the server's quota (session None), or give a session its own — an empty one exempts it from the
        server's; None makes it follow the server's again. Counts under a changed quota start afresh."""
        if session is None:
            self.server = quota if quota is not None and quota.active else None
        elif quota is None:
            self.sessions.pop(session, None)
        else:
            self.sessions[session] = quota

    def reset(self, session: str | None = None) -> None:
        """Forget counts: everyone's, or one session's along with its own quota."""
        if session is None:
            self.meters.clear()
        else:
            self.meters.pop(session, None)
            self.sessions.pop(session, None)


def _limit_reached(meter: Meter, bucket: Bucket, cost: int, model: str) -> ApiError:
    """The real 429: the limit, what is in use, what was asked for, and how long until it fits."""
    wait = bucket.wait(cost)
    message = (
        f"Rate limit reached for {model} in organization {_ORGANIZATION} on {bucket.bucket_name()}: "
        f"Limit {bucket.limit}, Used {math.ceil(bucket.level - _EPSILON)}, Requested {cost}. "
        f"Please try again in {go_duration(wait)}. {_LEARN_MORE}"
    )
    headers = {**meter.counts(exhausted=bucket).headers(), **retry_headers(wait)}
    return ApiError(429, message, bucket.kind, None, "rate_limit_exceeded", headers)


def _too_large(meter: Meter, tokens: int, model: str) -> ApiError:
    """A request larger than the whole token limit: no wait would help, so none is offered."""
    bucket = meter.tokens
    message = (
        f"Request too large for {model} in organization {_ORGANIZATION} on {bucket.bucket_name()}: "
        f"Limit {bucket.limit}, Requested {tokens}. The input or output tokens must be reduced in order to run "
        f"successfully. {_LEARN_MORE}"
    )
    return ApiError(429, message, "tokens", None, "rate_limit_exceeded", meter.counts(exhausted=bucket).headers())
