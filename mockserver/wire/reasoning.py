"""Reasoning as each kind of server sends it.

OpenAI's hosted models never send their reasoning text. On Chat Completions it is only counted
(`completion_tokens_details.reasoning_tokens`); on the Responses API it is a `reasoning` item with an empty
`summary`, whose summary is streamed only when the request asks for one (`reasoning.summary`) and whose
`encrypted_content` is sent only when `include` asks for it. Open-weight servers (vLLM, DeepSeek, Qwen, ...) stream
the text itself — `reasoning_content` on chat, `response.reasoning_text.*` on Responses —, which `raw_reasoning`
turns on (per answer in a scenario, or for the whole server).

A reasoning model reports reasoning tokens whenever the request's effort is above `minimal`; a script that says
nothing of the reasoning still gets them, a fixed count per effort.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ..engine.ask import Ask
from ..engine.plan import Plan
from .encode import compact

# How a Responses answer shows its reasoning: not at all (an empty summary), as a summary, as raw text.
Style = Literal["hidden", "summary", "raw"]
SUMMARIES = ("auto", "concise", "detailed")
ENCRYPTED = "reasoning.encrypted_content"  # the `include` entry that asks for it
# Reasoning tokens reported for an answer whose script has no reasoning, by the request's effort.
EFFORT_TOKENS = {"low": 64, "medium": 192, "high": 576, "xhigh": 1152}
# Signs the encrypted content the mock makes, so that it knows its own when a client sends one back. The same in
# every process: a token from one worker (or run) is recognised by another.
_KEY = hashlib.sha256(b"mockserver reasoning items").digest()
_MOST_TOKENS = 10_000_000  # more reasoning than any model's context holds
_VERSION = b"\x80"


def raw(plan: Plan, ask: Ask) -> bool:
    """Whether the reasoning text itself is streamed: the answer's `raw_reasoning`, else the server's."""
    scripted = plan.answer.raw_reasoning
    return ask.raw_reasoning if scripted is None else scripted


def style(plan: Plan, ask: Ask, summary: Any) -> Style:
    """How a Responses answer shows its reasoning, given the request's `reasoning.summary`."""
    if summary in SUMMARIES:
        return "summary"
    return "raw" if raw(plan, ask) else "hidden"


def unscripted_tokens(plan: Plan, ask: Ask) -> int:
    """The reasoning tokens a reasoning model reports though the script says nothing of its reasoning."""
    usage = plan.answer.usage
    if plan.reasoning_tokens or (usage is not None and usage.reasoning_tokens is not None):
        return 0  # scripted reasoning, or a scripted count of it
    return EFFORT_TOKENS.get(ask.reasoning_effort or "", 0)


def tokens(plan: Plan, ask: Ask) -> int:
    """The reasoning tokens to report: the scripted reasoning's, or the effort's count."""
    return plan.reasoning_tokens or unscripted_tokens(plan, ask)


def encrypted_content(item_id: str, count: int, created_at: int) -> str:
    """An opaque reasoning token in the shape of the real one (a Fernet token: version byte, time, IV, blocks of
    16 bytes, a 32-byte MAC, URL-safe base64). It is signed, not encrypted: it carries its item's id and token
    count, so that the mock recognises it when a client sends it back."""
    payload = compact({"id": item_id, "tokens": count})
    padding = 16 - len(payload) % 16
    iv = hashlib.sha256(item_id.encode()).digest()[:16]
    body = _VERSION + created_at.to_bytes(8, "big") + iv + payload + bytes([padding]) * padding
    return base64.urlsafe_b64encode(body + hmac.new(_KEY, body, hashlib.sha256).digest()).decode()


def recognised_tokens(token: Any) -> int | None:
    """The reasoning tokens an `encrypted_content` the mock made carries; None for any other (still accepted)."""
    if not isinstance(token, str) or len(token) > 100_000:
        return None
    try:
        raw_bytes = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return None
    body, mac = raw_bytes[:-32], raw_bytes[-32:]
    if len(body) < 41 or body[:1] != _VERSION:
        return None
    if not hmac.compare_digest(mac, hmac.new(_KEY, body, hashlib.sha256).digest()):
        return None
    padded = body[25:]
    try:
        payload = json.loads(padded[: -padded[-1]])
    except (ValueError, IndexError, RecursionError):
        return None
    count = payload.get("tokens") if isinstance(payload, Mapping) else None
    # The signing key is no secret: a token made elsewhere may claim any count, and only a plausible one counts.
    return count if type(count) is int and 0 <= count <= _MOST_TOKENS else None


def input_tokens(items: Iterable[Any]) -> int:
    """The tokens of the reasoning items sent back in a request's input: a model reads its earlier reasoning
    again. Only the mock's own encrypted content says how much there was."""
    total = 0
    for item in items:
        if isinstance(item, Mapping) and item.get("type") == "reasoning":
            total += recognised_tokens(item.get("encrypted_content")) or 0
    return total
