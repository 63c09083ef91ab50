"""What a recording never keeps: credential headers, and text shaped like a key or a token.

Headers are never copied into a recording wholesale — only the few an error answer needs (`x-ratelimit-*`,
`x-should-retry`, `retry-after`) — and `secret_header()` is checked even for those. Text is another matter:
a prompt, a tool result or an error message (a 401 quotes part of the key) can hold a key, so every text that is
written — content, match rules, descriptions, header values — goes through a `Redactor` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..server.credentials import REDACTED as MARK
from ..server.credentials import is_credential

# The shapes redacted by default: OpenAI keys (user, project, service account, admin; also other vendors' `sk-`
# keys, and the masked form a 401 quotes, `sk-abc***...wxyz`), bearer tokens, JSON Web Tokens (Azure AD), and the
# organization and project ids that say whose account it is.
DEFAULT_PATTERNS: tuple[str, ...] = (
    r"\bsk-[A-Za-z0-9_*-]{20,}",
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    r"\borg-[A-Za-z0-9]{24}\b",
    r"\bproj_[A-Za-z0-9]{24}\b",
)


def secret_header(name: str) -> bool:
    """Whether a header carries a credential or an account's identity (the journal's rule): such a header is never
    written."""
    return is_credential(name.lower())


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """The user's `--redact` patterns, compiled; a ValueError names the first that does not compile."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"--redact {pattern!r} is not a valid regular expression: {exc}") from None
    return compiled


class Redactor:
    """Replaces every match of the default shapes and of the user's patterns with `[redacted]`."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns = [re.compile(pattern) for pattern in DEFAULT_PATTERNS] + compile_patterns(patterns)

    def __call__(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.sub(MARK, text)
        return text

    def pieces(self, pieces: list[str]) -> list[str]:
        """Text streamed in pieces, redacted as the whole it makes: the piece where a match starts carries the
        mark, the rest of the match is taken out of the pieces it spans."""
        whole = "".join(pieces)
        spans = sorted(
            (found.start(), found.end())
            for pattern in self.patterns
            for found in pattern.finditer(whole)
            if found.end() > found.start()
        )
        if not spans:
            return pieces
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        result, offset = [], 0
        for piece in pieces:
            end = offset + len(piece)
            kept = []
            for position in range(offset, end):
                span = next((s for s in merged if s[0] <= position < s[1]), None)
                if span is None:
                    kept.append(whole[position])
                elif position == span[0]:
                    kept.append(MARK)
            result.append("".join(kept))
            offset = end
        return result

    def data(self, value: Any) -> Any:
        """Every text in `value` (mappings, lists and their keys) redacted; the rest as it is."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):  # of the same class: a chunk stays a chunk
            mapping = type(value)()
            mapping.update((self.data(key), self.data(item)) for key, item in value.items())
            return mapping
        if isinstance(value, list):
            items = type(value)()
            items.extend(self.data(item) for item in value)
            return items
        return value
