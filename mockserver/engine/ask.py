"""What the engine needs from a request, whatever its wire format. A wire format's request checks build one
(or a subclass with what only that format needs); choosing, planning and rendering read it, never the raw body.

The conversation is kept in one shape for every wire format — chat messages, Responses input items and a legacy
prompt all become `Message`s — so a `match` rule reads the same on each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]


@dataclass(frozen=True)
class Call:
    """A tool call an assistant turn made."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    """One turn of the conversation: its role and text; an assistant turn's tool calls; for a tool result, the
    id of the call it answers."""

    role: Role
    text: str = ""
    calls: tuple[Call, ...] = ()
    call_id: str | None = None


@dataclass
class Ask:
    model: str
    last_user: str  # the text of the last user message, for `match`
    prompt_tokens: int
    stream: bool
    include_usage: bool = False
    max_tokens: int | None = None
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    obfuscation: bool | None = None  # None: the server's default
    text_only: bool = False  # the wire format has room for content alone (legacy completions)
    reasoning_effort: str | None = None  # as the request asks (`reasoning_effort`, `reasoning.effort`)
    raw_reasoning: bool = False  # stream reasoning text as open-weight servers do (the server's default)
    service_tier: str | None = None  # as the request asks
    messages: tuple[Message, ...] = ()  # this request's conversation, in order
    # Turns before this request's own, that the request refers to (a stored response chain, a conversation).
    prior: tuple[Message, ...] = ()

    @property
    def conversation(self) -> tuple[Message, ...]:
        """Every turn, the prior ones first."""
        return self.prior + self.messages if self.prior else self.messages
