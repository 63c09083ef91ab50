"""The Moderations wire format (`POST /v1/moderations`), which never streams: one result per input, each with
`flagged`, `categories`, `category_scores` and `category_applied_input_types`, the categories in the real
API's (not alphabetical) order; two-space indentation, scores as float64 in their shortest form.

omni-moderation models answer with 13 categories, the applied input types, and an id of 32 hex digits;
text-moderation models (and a request without a model) with 11 categories, no applied input types, an id of
29 base62 characters, and `text-moderation-007` as the model. Nothing is flagged unless the scenario says so
(`moderation:`); the scores nobody scripted are small, made up from the input, and the same every time.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..engine.plan import Plan
from ..scenario.endpoints import MODERATION_CATEGORIES, ModerationScript
from .encode import json_str
from .ids import base62, hex_token
from .moderations_request import Moderated, ModerationsAsk, legacy, parse_request

__all__ = [
    "RATE_LIMITED",
    "answer_bytes",
    "answer_headers",
    "call_ids",
    "completion_body",
    "make_envelope",
    "parse_request",
]

# The real API sends no x-ratelimit-* headers on moderations, and they are free: they count toward no quota.
RATE_LIMITED = False
LEGACY_CATEGORIES = (
    "sexual",
    "hate",
    "harassment",
    "self-harm",
    "sexual/minors",
    "hate/threatening",
    "violence/graphic",
    "self-harm/intent",
    "self-harm/instructions",
    "harassment/threatening",
    "violence",
)
# The categories an omni model also judges in images.
IMAGE_CATEGORIES = frozenset(
    ("sexual", "self-harm", "self-harm/intent", "self-harm/instructions", "violence", "violence/graphic")
)
_LEGACY_MODEL = "text-moderation-007"


def reported_model(model: str) -> str:
    """The model an answer names: text-moderation aliases resolve to their snapshot; the rest are echoed."""
    return _LEGACY_MODEL if model in ("text-moderation-latest", "text-moderation-stable") else model


def make_envelope(plans: list[Plan], rng: random.Random) -> str:
    """The answer's id: `modr-` and 29 base62 characters (text models) or 32 hex digits (omni models)."""
    return "modr-" + (base62(rng, 29) if legacy(plans[0].model) else hex_token(rng, 32))


def call_ids(envelope: str) -> tuple[str, ...]:
    return ()  # no tool calls here


def answer_headers(plans: list[Plan], ask: ModerationsAsk) -> Mapping[str, str]:
    return {}


def answer_bytes(plans: list[Plan], ask: ModerationsAsk) -> int:
    return 2048 * len(ask.inputs)  # about 2 KB of categories and scores an input


def score_text(score: float) -> str:
    """A float64 as the real API writes scores: shortest digits, positional down to 0.00001, below that with an
    exponent (`2.212566909570261e-6`), and `.0` on whole numbers."""
    sign, digits, exponent = Decimal(repr(float(score))).normalize().as_tuple()
    assert isinstance(exponent, int)  # finite
    figures = "".join(map(str, digits))
    point = len(figures) + exponent  # the value is 0.<figures> * 10**point
    prefix = "-" if sign else ""
    if exponent >= 0 and point <= 16:
        return f"{prefix}{figures}{'0' * exponent}.0"
    if 0 < point <= 16:
        return f"{prefix}{figures[:point]}.{figures[point:]}"
    if -5 < point <= 0:
        return f"{prefix}0.{'0' * -point}{figures}"
    mantissa = figures if len(figures) == 1 else f"{figures[0]}.{figures[1:]}"
    return f"{prefix}{mantissa}e{point - 1}"


def _result(moderated: Moderated, script: ModerationScript | None, categories: tuple[str, ...], omni: bool) -> Any:
    seed = hashlib.blake2b(f"{moderated.text}\0{moderated.images}".encode(), digest_size=16).digest()
    rng = random.Random(seed)
    flagged = set(script.flagged) if script else set()
    scripted = dict(script.scores) if script else {}
    text_types = ["text"] if moderated.text or not moderated.images else []
    scores: dict[str, float] = {}
    applied: dict[str, list[str]] = {}
    for category in categories:
        types = text_types + (["image"] if moderated.images and category in IMAGE_CATEGORIES else [])
        applied[category] = types
        made_up = rng.uniform(0.8, 0.99) if category in flagged else 10 ** -rng.uniform(2.5, 7.0)
        scores[category] = scripted.get(category, made_up if types else 0.0)
    result: dict[str, Any] = {
        "flagged": any(category in flagged for category in categories),
        "categories": {category: category in flagged for category in categories},
        "category_scores": scores,
    }
    if omni:
        result["category_applied_input_types"] = applied
    return result


def _pretty(value: Any, indent: str = "") -> str:
    """JSON with two-space indentation, every array item on its own line, scores as `score_text` writes them."""
    inner = indent + "  "
    if isinstance(value, dict):
        lines = (f"{inner}{json_str(key)}: {_pretty(item, inner)}" for key, item in value.items())
        return "{\n" + ",\n".join(lines) + f"\n{indent}}}" if value else "{}"
    if isinstance(value, list):
        return "[\n" + ",\n".join(inner + _pretty(item, inner) for item in value) + f"\n{indent}]" if value else "[]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return score_text(value)
    return json_str(value)


def completion_body(plans: list[Plan], ask: ModerationsAsk, envelope: str) -> bytes:
    plan = plans[0]
    omni = not legacy(plan.model)
    categories = MODERATION_CATEGORIES if omni else LEGACY_CATEGORIES
    scripts = plan.answer.moderation
    results = [
        _result(moderated, scripts[index % len(scripts)] if scripts else None, categories, omni)
        for index, moderated in enumerate(ask.inputs)
    ]
    body = {"id": envelope, "model": reported_model(plan.model), "results": results}
    return _pretty(body).encode()
