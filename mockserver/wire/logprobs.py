"""Log probabilities for `logprobs: true` requests: made up, but the same for the same token every time, and a
scripted `logprob` wins."""

from __future__ import annotations

import hashlib
from typing import Any

from ..scenario.model import Chunk

# Alternatives offered as top_logprobs after the chosen token, with lower logprobs.
_ALTERNATIVES = (
    *(" the", " a", ",", ".", " and", " of", " to", " in", " is", " that", "\n", " it", " for", " on"),
    *(" with", " as", " I", " you", " this", " be", " not"),
)


def token_logprob(token: str) -> float:
    """Mostly near 0 (likely tokens), now and then down to -4."""
    digest = hashlib.blake2b(token.encode(), digest_size=4).digest()
    return -round((int.from_bytes(digest, "big") % 1000 / 1000) ** 3 * 4, 6)


def logprob_entries(chunk: Chunk, top: int) -> list[dict[str, Any]]:
    """One entry per token of the chunk, in the chat shape, each with `top` alternatives (the token first)."""
    entries = []
    for token in chunk.tokens:
        logprob = chunk.logprob if chunk.logprob is not None else token_logprob(token)
        others = [alternative for alternative in _ALTERNATIVES if alternative != token][: max(top - 1, 0)]
        alternatives = [(token, logprob)] + [
            (other, round(logprob - 0.8 * (i + 1), 6)) for i, other in enumerate(others)
        ]
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives[:top]
                ],
            }
        )
    return entries
