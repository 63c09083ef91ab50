"""The Responses API's `response` object: the ids one response draws, the settings it echoes back, its status,
usage and times, keys in the real API's order."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from ..engine.plan import Plan
from ..scenario.model import FinishReason
from . import reasoning
from .chat import TIERS  # the tier a finished response reports: the one chat reports
from .ids import base62, hex_token
from .responses_request import ResponsesAsk

# finish_reason -> the response's status (its last output item's too) and its incomplete_details reason
STATUSES: dict[FinishReason, tuple[str, str | None]] = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
}
# Statuses a response ends in, and those of a response still running.
DONE = ("completed", "incomplete", "failed", "cancelled")
RUNNING = ("queued", "in_progress")


@dataclass(frozen=True)
class Envelope:
    """The ids drawn for one response: its own and its items'."""

    id: str
    created_at: int
    reasoning_id: str
    message_id: str
    calls: tuple[tuple[str, str], ...]  # per tool call: its item id and its call id


def make_envelope(plans: list[Plan], rng: random.Random) -> Envelope:
    calls = plans[0].answer.tool_calls
    return Envelope(
        id="resp_" + hex_token(rng, 48),
        created_at=int(time.time()),
        reasoning_id="rs_" + hex_token(rng, 48),
        message_id="msg_" + hex_token(rng, 48),
        calls=tuple(("fc_" + hex_token(rng, 48), call.id or "call_" + base62(rng, 24)) for call in calls),
    )


def usage(plan: Plan, ask: ResponsesAsk) -> dict[str, Any]:
    """Usage: output tokens count every token, reasoning included — also the reasoning a reasoning model did
    without a script for it."""
    output = plan.completion_tokens + reasoning.unscripted_tokens(plan, ask)
    return {
        "input_tokens": plan.prompt_tokens,
        "input_tokens_details": {"cached_tokens": plan.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning.tokens(plan, ask)},
        "total_tokens": plan.prompt_tokens + output,
    }


def service_tier(ask: ResponsesAsk, status: str) -> str:
    """The tier as asked while the response runs (or when it failed); the tier that served it once it is done."""
    asked = ask.echoed.service_tier
    return TIERS.get(asked, asked) if status in ("completed", "incomplete") else asked


def completed_at(plan: Plan, envelope: Envelope) -> int:
    """When the response completed: its latency and its answer's time after its creation (the same whether it is
    read from the stream, from the object, or later from the store)."""
    return envelope.created_at + int(plan.timeline.latency + plan.finish_at)


def response_object(
    plan: Plan,
    ask: ResponsesAsk,
    envelope: Envelope,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    error: dict[str, Any] | None = None,
    incomplete: str | None = None,
) -> dict[str, Any]:
    """The response object, keys in the real API's order: the first five, then alphabetical, `metadata` last.
    `conversation` is there only for a response in one."""
    settings = ask.echoed
    head = {
        "id": envelope.id,
        "object": "response",
        "created_at": envelope.created_at,
        "status": status,
        "background": settings.background,
        "completed_at": completed_at(plan, envelope) if status == "completed" else None,
    }
    if ask.conversation_id is not None:
        head["conversation"] = {"id": ask.conversation_id}
    return {
        **head,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": settings.instructions,
        "max_output_tokens": settings.max_output_tokens,
        "max_tool_calls": settings.max_tool_calls,
        "model": plan.model,
        "output": output,
        "parallel_tool_calls": settings.parallel_tool_calls,
        "previous_response_id": settings.previous_response_id,
        "prompt_cache_key": settings.prompt_cache_key,
        "reasoning": settings.reasoning,
        "safety_identifier": settings.safety_identifier,
        "service_tier": service_tier(ask, status),
        "store": settings.store,
        "temperature": settings.temperature,
        "text": settings.text,
        "tool_choice": settings.tool_choice,
        "tools": settings.tools,
        "top_logprobs": settings.top_logprobs,
        "top_p": settings.top_p,
        "truncation": settings.truncation,
        "usage": usage,
        "user": settings.user,
        "metadata": settings.metadata,
    }
