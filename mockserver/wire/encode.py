"""JSON as the real API writes it on the wire, shared by the wire formats."""

from __future__ import annotations

import hashlib
import json
import random
from functools import lru_cache
from typing import Any

from .ids import base62

# One encoder for every call: `json.dumps` with options builds a new one each time, a good part of its cost for the
# small values the hot path writes.
_TEXT = json.JSONEncoder(ensure_ascii=False)


def json_str(text: str) -> str:
    """A string as compact JSON, non-ASCII kept as UTF-8."""
    return _TEXT.encode(text)


def spaced(value: Any) -> str:
    """JSON as `json.dumps` writes it by default (`", "` and `": "`), non-ASCII kept as UTF-8: the non-streaming
    bodies' layout."""
    return _TEXT.encode(value)


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@lru_cache(maxsize=8192)
def padding(seed: str) -> bytes:
    """The `"obfuscation"` field the real API adds to stream events: 0 to 15 characters that blur their sizes.
    Derived from `seed` (the chunk), so a script's bytes do not change from run to run."""
    digest = hashlib.blake2b(seed.encode(), digest_size=16).digest()
    return b',"obfuscation":"' + base62(random.Random(digest), digest[0] % 16).encode() + b'"'
