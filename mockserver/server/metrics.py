"""What `/metrics` counts, recorded once per answered request: a few dictionary updates, nothing per chunk.

The label values are bounded: endpoints are route templates, statuses and endings are few, fault and chaos kinds
are fixed sets, and scenario names — which a test may invent at run time, one per session — stop at
`MAX_SERIES` label sets a family, past which the scenario reads `(other)`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from ..engine.writer import Outcome
from .journal import Entry
from .sessions import SESSION_PREFIX

# Seconds. Requests run from a fraction of a millisecond (an error, a plain answer without delays) to a long stream.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TTFT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_SERIES = 1000
OTHER = "(other)"


class Histogram:
    """Observations counted per bucket (not yet cumulative: the text format's cumulative counts are made when
    scraped), their sum and count."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bound >= value: `le` holds it
        self.total += value

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, observations <= le) per bucket, +Inf last."""
        running, result = 0, []
        for bound, count in zip((*(repr(bound) for bound in self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            result.append((bound, running))
        return result


def endpoint_of(canonical: str) -> str:
    """The route template a request matched, without its session prefix: `/v1/chat/completions`,
    `/v1/models/{model}`; `other` for a path no route serves (its text is the client's, unbounded)."""
    if canonical.startswith(SESSION_PREFIX):
        canonical = canonical[canonical.index("/", len(SESSION_PREFIX)) :]
    if not canonical.startswith("/v1/"):
        return "other"
    return canonical


class Metrics:
    """The counters of one server process since it started (a reset of the journal does not touch them)."""

    def __init__(self) -> None:
        # (endpoint, status, scenario, ended) -> requests; status "none" when nothing was answered
        self.requests: dict[tuple[str, str, str, str], int] = {}
        self.duration: dict[str, Histogram] = {}  # by endpoint
        self.ttft: dict[str, Histogram] = {}
        self.chunks: dict[str, int] = {}
        self.bytes: dict[str, int] = {}
        self.faults: dict[str, int] = {}  # by kind, scripted or drawn
        self.chaos: dict[str, int] = {}  # the draws that struck, by kind
        self.finished = 0  # requests answered (or left) so far
        self.open_streams = 0

    def stream_opened(self) -> None:
        self.open_streams += 1

    def record(self, endpoint: str, entry: Entry, faults: Iterable[str], stream: Outcome | None) -> None:
        """Count a request whose journal entry was just completed; `stream` is the outcome of a stream."""
        self.finished += 1
        status = str(entry.status) if entry.status is not None else "none"
        key = (endpoint, status, entry.scenario or "", entry.ended)
        if key not in self.requests and len(self.requests) >= MAX_SERIES:
            key = (endpoint, status, OTHER, entry.ended)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.duration.get(endpoint) or self.duration.setdefault(endpoint, Histogram(DURATION_BUCKETS))
        histogram.observe((entry.duration_ms or 0.0) / 1000)
        for kind in faults:
            self.faults[kind] = self.faults.get(kind, 0) + 1
        if entry.chaos:
            self.chaos[entry.chaos] = self.chaos.get(entry.chaos, 0) + 1
        if stream is None:
            return
        self.open_streams -= 1
        self.chunks[endpoint] = self.chunks.get(endpoint, 0) + stream.chunks
        self.bytes[endpoint] = self.bytes.get(endpoint, 0) + stream.sent
        if stream.first_token is not None:
            first = self.ttft.get(endpoint) or self.ttft.setdefault(endpoint, Histogram(TTFT_BUCKETS))
            first.observe(stream.first_token)
