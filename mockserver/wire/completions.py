"""The legacy Completions wire format (`POST /v1/completions`): `text_completion` objects with `text` choices.

The same scripts as chat, reduced to their text: reasoning, refusals and tool calls have no place in this API
and are left out. As the real API does, the finish reason rides on the last text chunk (no empty finish chunk),
chunks carry no `system_fingerprint` and no `obfuscation`, and `max_tokens` defaults to 16.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.plan import Ask, Plan
from ..scenario.model import ENDINGS, Chunk, Fault
from ..scenario.tokens import count_tokens
from . import params
from .encode import compact, ending_bytes, json_str
from .errors import invalid
from .ids import base62
from .logprobs import logprob_entries

STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    "cache-control": "no-cache, must-revalidate",
    "access-control-allow-origin": "*",
}
DEFAULT_MAX_TOKENS = 16
MAX_CHOICES = 128  # prompts times n: a small request must not ask for a huge answer


def _prompts(body: Mapping[str, Any]) -> list[str]:
    """The prompts as text: a string, a list of strings, or token arrays (counted, not decoded)."""
    if "prompt" not in body:
        raise invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    prompt = body["prompt"]
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(item, str) for item in prompt):
            return list(prompt)
        if all(isinstance(item, int) and not isinstance(item, bool) for item in prompt):
            return [" ".join(map(str, prompt))]
        if all(isinstance(item, list) for item in prompt):
            return [" ".join(map(str, item)) for item in prompt]
    raise params.wrong_type("prompt", "a string, an array of strings, or an array of token arrays", prompt)


def parse_request(body: Mapping[str, Any]) -> Ask:
    model = params.model(body)
    prompts = _prompts(body)
    stream, options = params.stream_options(body)
    limit = params.integer(body, "max_tokens", 0)
    logprobs = params.integer(body, "logprobs", 0, 5)
    echo = params.optional(body, "echo", bool, "a boolean") or False
    n = params.integer(body, "n", 1, 128) or 1
    if n * len(prompts) > MAX_CHOICES:
        raise invalid(
            f"Invalid 'prompt': {len(prompts)} prompts with n={n} make {n * len(prompts)} choices; "
            f"at most {MAX_CHOICES} are answered.",
            "prompt",
        )
    return Ask(
        model=model,
        last_user=prompts[-1],
        prompt_tokens=sum(count_tokens(prompt) for prompt in prompts),
        stream=stream,
        include_usage=params.flag(options, "include_usage", False),
        max_tokens=DEFAULT_MAX_TOKENS if limit is None else limit,
        n=n * len(prompts),  # one choice per prompt and per n, the prompt's choices together
        logprobs=logprobs is not None,
        top_logprobs=logprobs or 0,
        obfuscation=False,
        text_only=True,
        extra={"echo": prompts if echo else None, "n": n},
    )


@dataclass(frozen=True)
class Envelope:
    id: str
    created: int


def make_envelope(plans: list[Plan], rng: random.Random) -> Envelope:
    return Envelope(id="cmpl-" + base62(rng, 29), created=int(time.time()))


def _logprobs(chunks: Sequence[Chunk], top: int, offset: int) -> dict[str, Any]:
    """The legacy logprobs shape: parallel lists of tokens, their logprobs, alternatives and text offsets."""
    entries = [entry for chunk in chunks for entry in logprob_entries(chunk, max(top, 1))]
    offsets = []
    for entry in entries:
        offsets.append(offset)
        offset += len(entry["token"])
    return {
        "tokens": [entry["token"] for entry in entries],
        "token_logprobs": [entry["logprob"] for entry in entries],
        "top_logprobs": [{alt["token"]: alt["logprob"] for alt in entry["top_logprobs"][:top]} for entry in entries],
        "text_offset": offsets,
    }


def _echo(ask: Ask, choice: int) -> str:
    """With `echo`, the prompt this choice answers, sent before its text."""
    prompts = ask.extra.get("echo")
    return prompts[choice // ask.extra["n"]] if prompts else ""


def _choice(ask: Ask, index: int, text_json: str, chunks: Sequence[Chunk], offset: int, finish: str | None) -> bytes:
    logprobs = compact(_logprobs(chunks, ask.top_logprobs, offset)) if ask.logprobs else b"null"
    finish_json = json_str(finish).encode() if finish else b"null"
    return (
        b'{"text":' + text_json.encode() + b',"index":' + str(index).encode()
        + b',"logprobs":' + logprobs + b',"finish_reason":' + finish_json + b"}"
    )  # fmt: skip


def _choice_events(plan: Plan, index: int, ask: Ask) -> Iterator[tuple[float, int, bytes | Fault]]:
    """One choice's events: (due, order, the choice's JSON or a fault). The last text chunk carries the finish
    reason; an answer without text finishes with one empty chunk. text_only() left only content chunks."""
    carrier = len(plan.chunks) - 1 if plan.chunks and plan.ending is None else None
    echo = _echo(ask, index)
    offset = len(echo)
    order = 0
    for at, first, last, fault in plan.events:
        order += 1
        if fault is not None:
            yield at, order, fault
            if fault.kind in ENDINGS:
                return
            continue
        for position in range(first, last):
            chunk = plan.chunks[position]
            text = json_str(echo + chunk.content) if echo and position == 0 else chunk.content_json
            finish = plan.finish_reason if position == carrier else None
            yield at, order, _choice(ask, index, text, (chunk,), offset, finish)
            offset += len(chunk.content)
            order += 1
    if carrier is None and plan.ending is None:
        yield plan.finish_at, order, _choice(ask, index, json_str(echo), (), offset, plan.finish_reason)


def stream_events(plans: list[Plan], ask: Ask, envelope: Envelope) -> Iterator[tuple[float, bytes, int]]:
    """`data:` events of `text_completion` chunks, the choices interleaved in time order, then the usage chunk
    when asked for, and `[DONE]`; a fault that ends the stream comes in their place."""
    head = f'data: {{"id":"{envelope.id}","object":"text_completion","created":{envelope.created},"choices":['.encode()
    model = json_str(plans[0].model)
    tail = (f'],"model":{model}' + (',"usage":null' if ask.include_usage else "") + "}\n\n").encode()
    last_at = 0.0
    streams = [_choice_events(plan, index, ask) for index, plan in enumerate(plans)]
    for at, _, event in heapq.merge(*streams, key=lambda event: event[:2]):
        last_at = at  # events come in time order
        if not isinstance(event, Fault):
            yield at, head + event + tail, 1
        elif event.kind in ENDINGS:
            yield at, ending_bytes(event), int(event.kind == "error")
            return
        else:
            yield at, event.raw, 0
    final = b""
    if ask.include_usage:
        final = (
            (
                f'data: {{"id":"{envelope.id}","object":"text_completion","created":{envelope.created},'
                f'"model":{model},"usage":'
            ).encode()
            + compact(usage_object(plans))
            + b',"choices":[]}\n\n'
        )
    yield last_at, final + b"data: [DONE]\n\n", int(ask.include_usage)


def usage_object(plans: list[Plan]) -> dict[str, int]:
    completion = sum(plan.completion_tokens for plan in plans)
    return {
        "prompt_tokens": plans[0].prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": plans[0].prompt_tokens + completion,
    }


def completion_body(plans: list[Plan], ask: Ask, envelope: Envelope) -> bytes:
    choices = []
    for index, plan in enumerate(plans):
        echo = _echo(ask, index)
        choices.append(
            {
                "text": echo + plan.content,
                "index": index,
                "logprobs": _logprobs(plan.chunks, ask.top_logprobs, len(echo)) if ask.logprobs else None,
                "finish_reason": plan.finish_reason,
            }
        )
    body = {
        "id": envelope.id,
        "object": "text_completion",
        "created": envelope.created,
        "model": plans[0].model,
        "choices": choices,
        "usage": usage_object(plans),
    }
    return json.dumps(body, ensure_ascii=False).encode()
