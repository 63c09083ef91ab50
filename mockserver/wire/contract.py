"""The contract every wire format keeps. A wire format (chat, legacy completions, responses) is a module that
checks its requests into an `Ask` and renders plans, one per choice, as a stream of `Due` events or one JSON
body; the pipeline around it — choosing, chaos, planning, writing on time — is shared."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, TypeVar

from ..engine.ask import Ask
from ..engine.plan import Plan
from ..engine.writer import Due

AskT = TypeVar("AskT", bound=Ask)
EnvelopeT = TypeVar("EnvelopeT")


class WireFormat(Protocol[AskT, EnvelopeT]):
    @property
    def STREAM_HEADERS(self) -> Mapping[str, str]:
        """The headers of its streams, the content type among them."""

    def parse_request(self, body: Mapping[str, Any]) -> AskT:
        """Check a request as the real API does (raising its 400s); keep what planning and rendering need."""

    def make_envelope(self, plans: list[Plan], rng: random.Random) -> EnvelopeT:
        """The ids and the time one response shares, drawn from the server's generator."""

    def stream_events(self, plans: list[Plan], ask: AskT, envelope: EnvelopeT) -> Iterator[Due]:
        """The stream's bytes, rendered only as the writer asks for them."""

    def completion_body(self, plans: list[Plan], ask: AskT, envelope: EnvelopeT) -> bytes:
        """The whole answer of a request that does not stream."""

    def call_ids(self, envelope: EnvelopeT) -> tuple[str, ...]:
        """The ids of the (first choice's) tool calls, as sent: the journal records them."""
