"""Embedding vectors that are deterministic and meaningful: texts that share words are near each other.

A text is read as features — its words (lower case, lightly stemmed; common words weigh little), their
character trigrams, and pairs of neighbouring words — and a token array as its token ids and their pairs. Each
feature is hashed, with the model's name, to a signed position in every band of dimensions (0-8, 8-16,
16-32, ... 2048-4096), weighted by the band's size; the sum is scaled to unit length. So the same input gives
the same vector on every machine, inputs that share features point the same way, and a vector shortened to
`dimensions` is the start of the longer one scaled to unit length again, as the real API shortens its vectors.

Values are float32, as the real API's are: little-endian bytes for base64, and their shortest decimal text,
never in exponent notation, for floats.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from collections.abc import Iterable, Sequence
from functools import lru_cache

MAX_DIMENSIONS = 4096
_BANDS = tuple((0, 8) if size == 8 else (size // 2, size) for size in (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096))
_AMPLITUDE = tuple(math.sqrt(end - start) for start, end in _BANDS)
_POSITION_BITS = 11  # enough for the largest band
_WORD = re.compile(r"\w+")
_SUFFIXES = ("ing", "ed", "es", "s", "ly")
# Words that say little about what a text is about: they count, but little.
# fmt: off
_STOP_WORDS = frozenset((
    "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for",
    "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of",
    "on", "or", "our", "should", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with",
    "would", "you", "your"
))
# fmt: on
_FLOAT32 = struct.Struct("<f")

Source = str | tuple[int, ...]  # a text, or a token array


@lru_cache(maxsize=16384)
def _slots(model: str, feature: str) -> tuple[int, ...]:
    """A feature's signed position (1-based) in each band: the same on every machine."""
    bits = int.from_bytes(hashlib.blake2b(f"{model}\0{feature}".encode(), digest_size=16).digest(), "little")
    slots = []
    for start, end in _BANDS:
        position = start + (bits & (end - start - 1))
        bits >>= _POSITION_BITS
        slots.append(position + 1 if bits & 1 else -(position + 1))
        bits >>= 1
    return tuple(slots)


def _stem(word: str) -> str:
    """A light stem, so that `passwords` meets `password` and `resetting` meets `reset`."""
    if len(word) > 4:
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                    word = word[:-1]
                break
    return word


def _text_features(text: str) -> dict[str, float]:
    features: dict[str, float] = {}
    previous = None
    for word in _WORD.findall(text.casefold()):
        if word in _STOP_WORDS:
            features[word] = features.get(word, 0.0) + 0.1
            previous = None
            continue
        stem = _stem(word)
        features[stem] = features.get(stem, 0.0) + 1.0
        padded = f"#{stem}#"
        for index in range(len(padded) - 2):
            trigram = "\1" + padded[index : index + 3]
            features[trigram] = features.get(trigram, 0.0) + 0.3
        if previous is not None:
            pair = f"{previous} {stem}"
            features[pair] = features.get(pair, 0.0) + 0.5
        previous = stem
    return features


def _token_features(tokens: Iterable[int]) -> dict[str, float]:
    features: dict[str, float] = {}
    previous = None
    for token in tokens:
        features[f"\2{token}"] = features.get(f"\2{token}", 0.0) + 1.0
        if previous is not None:
            pair = f"\2{previous},{token}"
            features[pair] = features.get(pair, 0.0) + 0.5
        previous = token
    return features


@lru_cache(maxsize=512)
def embedding(model: str, source: Source, dimensions: int) -> bytes:
    """The unit vector of a text or token array, `dimensions` long, as little-endian float32 bytes."""
    features = _text_features(source) if isinstance(source, str) else _token_features(source)
    if not features:  # only spaces or punctuation: the text itself is the feature
        features = {"\3" + str(source): 1.0}
    sums = [0.0] * dimensions
    for feature, weight in features.items():
        for band, slot in enumerate(_slots(model, feature)):
            position = abs(slot) - 1
            if position >= dimensions:
                break
            sums[position] += weight * _AMPLITUDE[band] if slot > 0 else -weight * _AMPLITUDE[band]
    norm = math.sqrt(math.fsum(value * value for value in sums))
    if norm == 0:  # every feature cancelled out in a very short vector
        sums[0], norm = 1.0, 1.0
    return struct.pack(f"<{dimensions}f", *(value / norm for value in sums))


def pack(values: Sequence[float]) -> bytes:
    """Scripted values as the float32 bytes they are sent as."""
    return struct.pack(f"<{len(values)}f", *values)


def _positional(text: str) -> str:
    """A number in exponent notation (`-1.4385998e-06`) written without the exponent (`-0.0000014385998`)."""
    mantissa, _, exponent = text.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    figures = mantissa.lstrip("-").replace(".", "").rstrip("0")
    if not figures:
        return "0"
    point = int(exponent) + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{figures}"
    if point >= len(figures):
        return sign + figures + "0" * (point - len(figures))
    return f"{sign}{figures[:point]}.{figures[point:]}"


_PACK, _UNPACK = _FLOAT32.pack, _FLOAT32.unpack
_DIGITS = tuple(f"%.{digits - 1}e" for digits in range(1, 10))  # _DIGITS[n - 1] writes n significant digits


def float32_text(value: float) -> str:
    """The shortest decimal text that reads back as this float32 value (most need 7 or 8 digits)."""
    text = _DIGITS[7] % value
    if _UNPACK(_PACK(float(text)))[0] == value:
        for digits in range(7, 0, -1):
            shorter = _DIGITS[digits - 1] % value
            if _UNPACK(_PACK(float(shorter)))[0] != value:
                break
            text = shorter
    else:
        text = _DIGITS[8] % value
    return _positional(text)


@lru_cache(maxsize=256)
def float_lines(packed: bytes, indent: bytes) -> bytes:
    """The values of a packed vector, one per line as the real API writes them, joined by `,\\n` + indent."""
    count = len(packed) // 4
    values = struct.unpack(f"<{count}f", packed)
    return (b",\n" + indent).join(float32_text(value).encode() for value in values)
