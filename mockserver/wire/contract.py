"""The contract every wire format keeps. A wire format is a module that checks its requests into an `Ask` and
renders plans, one per choice, as one JSON body — and, for the formats that stream (chat, legacy completions,
responses), as a stream of `Due` events. The pipeline around it — choosing, quotas, chaos, planning, writing on
time — is shared.

Formats that never stream (embeddings, moderations) keep `WholeFormat`: they say whether their requests count
toward rate limits, and which headers of their own their answers carry.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, TypeVar

from ..engine.ask import Ask
from ..engine.plan import Plan
from ..engine.writer import Due

AskT = TypeVar("AskT", bound=Ask)
EnvelopeT = TypeVar("EnvelopeT")


class Renders(Protocol[AskT, EnvelopeT]):
    """What every wire format does."""

    def parse_request(self, body: Mapping[str, Any]) -> AskT:
        """Check a request as the real API does (raising its 400s); keep what planning and rendering need."""

    def make_envelope(self, plans: list[Plan], rng: random.Random) -> EnvelopeT:
        """The ids and the time one response shares, drawn from the server's generator."""

    def completion_body(self, plans: list[Plan], ask: AskT, envelope: EnvelopeT) -> bytes:
        """The whole answer of a request that does not stream."""

    def call_ids(self, envelope: EnvelopeT) -> tuple[str, ...]:
        """The ids of the (first choice's) tool calls, as sent: the journal records them."""


class WireFormat(Renders[AskT, EnvelopeT], Protocol):
    """A format that streams when the request asks it to."""

    @property
    def STREAM_HEADERS(self) -> Mapping[str, str]:
        """The headers of its streams, the content type among them."""

    def stream_events(self, plans: list[Plan], ask: AskT, envelope: EnvelopeT) -> Iterator[Due]:
        """The stream's bytes, rendered only as the writer asks for them."""


class WholeFormat(Renders[AskT, EnvelopeT], Protocol):
    """A format that never streams: its answer is one JSON body, sent when the scripted time has passed."""

    @property
    def RATE_LIMITED(self) -> bool:
        """Whether its requests count toward rate limits and its answers carry the x-ratelimit-* headers."""

    def answer_headers(self, plans: list[Plan], ask: AskT) -> Mapping[str, str]:
        """Headers of its own on a successful answer."""

    def answer_bytes(self, plans: list[Plan], ask: AskT) -> int:
        """About how large its answer will be: a large one takes its turn to be made and sent."""
