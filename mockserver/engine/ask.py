"""What the engine needs from a request, whatever its wire format. A wire format's request checks build one
(or a subclass with what only that format needs); planning and rendering read it, never the raw body."""

from __future__ import annotations

from dataclasses import dataclass


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
