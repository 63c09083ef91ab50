"""Ids shaped like the real API's, drawn from a seeded generator so that runs repeat exactly."""

from __future__ import annotations

import hashlib
import random
import string
from functools import lru_cache

# Maps any byte to a base62 digit, so random bytes become an id in one call.
_BASE62 = ((string.digits + string.ascii_letters).encode() * 5)[:256]


def base62(rng: random.Random, length: int) -> str:
    return rng.randbytes(length).translate(_BASE62).decode()


def hex_token(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(4 * length):0{length}x}"


@lru_cache(maxsize=256)
def fingerprint(model: str) -> str:
    """A stable `system_fingerprint` per model, shaped like the real ones (`fp_` and 10 hex digits)."""
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]
