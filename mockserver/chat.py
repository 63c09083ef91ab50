"""The Chat Completions wire format: request checks as the real API makes them, and rendering a plan as
`chat.completion.chunk` events or one `chat.completion` object.

Byte layout follows the real API: key order `id, object, created, model, service_tier, system_fingerprint,
choices, usage`; each choice `index, delta, logprobs, finish_reason`; compact JSON, one `data:` line per event.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import invalid
from .ids import base62, fingerprint
from .plan import Ask, Plan
from .script import Chunk, json_str
from .tokens import estimate_prompt_tokens, message_text

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_JSON_TYPES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    return _JSON_TYPES.get(type(value), "a value")


def _wrong_type(param: str, expected: str, value: Any) -> Exception:
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.", param, "invalid_type"
    )


def optional(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...], expected: str) -> Any:
    """`body[key]` if it has the right JSON type; absent or null is None."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind is not bool:
        raise _wrong_type(key, expected, value)
    if not isinstance(value, kind):
        raise _wrong_type(key, expected, value)
    return value


def token_limit(body: Mapping[str, Any], key: str) -> int | None:
    value = optional(body, key, int, "an integer")
    if value is not None and value < 0:
        raise invalid(
            f"Invalid '{key}': integer below minimum value. Expected a value >= 0, but got {value} instead.",
            key,
            "integer_below_min_value",
        )
    return value


def parse_request(body: Mapping[str, Any]) -> Ask:
    """Check a chat request as the real API does, and keep what the pipeline needs."""
    model = body.get("model")
    if not model:
        raise invalid("you must provide a model parameter")
    if not isinstance(model, str):
        raise _wrong_type("model", "a string", model)
    if "messages" not in body:
        raise invalid("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _wrong_type("messages", "an array", messages)
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        )
    last_user = ""
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            raise _wrong_type(where, "an object", message)
        if "role" not in message:
            raise invalid(f"Missing required parameter: '{where}.role'.", f"{where}.role", "missing_required_parameter")
        role = message["role"]
        if role not in ROLES:
            supported = ", ".join(f"'{name}'" for name in ROLES[:-1]) + f", and '{ROLES[-1]}'"
            raise invalid(
                f"Invalid value: {json.dumps(role)}. Supported values are: {supported}.",
                f"{where}.role",
                "invalid_value",
            )
        content = message.get("content")
        if content is None and role in ("system", "user", "developer", "tool"):
            raise invalid(
                f"Missing required parameter: '{where}.content'.", f"{where}.content", "missing_required_parameter"
            )
        if content is not None and not isinstance(content, (str, list)):
            raise _wrong_type(f"{where}.content", "one of a string or array of objects", content)
        if role == "user":
            last_user = message_text(content)

    stream = optional(body, "stream", bool, "a boolean") or False
    options = optional(body, "stream_options", Mapping, "an object")
    if options is not None and not stream:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    include_usage = bool(options and optional(options, "include_usage", bool, "a boolean"))
    limit = token_limit(body, "max_completion_tokens")
    if limit is None:
        limit = token_limit(body, "max_tokens")
    n = optional(body, "n", int, "an integer")
    if n is not None and not 1 <= n <= 128:
        bound = (
            "below minimum value. Expected a value >= 1" if n < 1 else "above maximum value. Expected a value <= 128"
        )
        code = "integer_below_min_value" if n < 1 else "integer_above_max_value"
        raise invalid(f"Invalid 'n': integer {bound}, but got {n} instead.", "n", code)
    return Ask(
        model=model,
        last_user=last_user,
        prompt_tokens=estimate_prompt_tokens(messages),
        stream=stream,
        include_usage=include_usage,
        max_tokens=limit,
        n=n or 1,
    )


@dataclass(frozen=True)
class Envelope:
    """What every chunk of one response shares."""

    id: str
    created: int
    fingerprint: str
    service_tier: str = "default"


def make_envelope(plan: Plan, rng: random.Random) -> Envelope:
    return Envelope(id="chatcmpl-" + base62(rng, 29), created=int(time.time()), fingerprint=fingerprint(plan.model))


def usage_object(plan: Plan, n: int = 1) -> dict[str, Any]:
    completion = plan.completion_tokens * n
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": plan.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


_ROLE = b',"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]'


def _content_item(chunk: Chunk, end: bytes) -> bytes:
    """A content chunk from just after `"choices":[{"index":0` to its end, index 0 included."""
    return b'0,"delta":{"content":' + chunk.content_json.encode() + b'},"logprobs":null,"finish_reason":null}]' + end


def _content_items(plan: Plan, end: bytes) -> list[bytes]:
    """Every chunk's item, serialized once per scripted answer (and ending); a chunk cut by max_tokens is a
    new object, serialized for this request only."""
    items = plan.answer.cache.get(("chat", end))
    if items is None:
        items = plan.answer.cache[("chat", end)] = [_content_item(chunk, end) for chunk in plan.answer.chunks]
    if plan.truncated:
        kept = len(plan.chunks)
        items = [*items[: kept - 1], _content_item(plan.chunks[-1], end)] if kept else []
    return items


def _for_choices(items: list[bytes], n: int) -> list[bytes]:
    """Each index-0 item repeated for choices 0..n-1, interleaved as the real API sends them."""
    if n == 1:
        return items
    return [str(index).encode() + item[1:] for item in items for index in range(n)]


def stream_events(plan: Plan, ask: Ask, envelope: Envelope) -> Iterator[tuple[float, bytes, int]]:
    """The SSE body as (due time, bytes, chunks in them) events: the role chunk with the first content, each
    run of content chunks, then the finish chunk, the usage chunk when asked for, and `[DONE]` together.
    Scripted faults come in their place: raw bytes and keep-alives as they are, an error event followed by
    `[DONE]`, or the end of the events where the stream ends early or is cut. Each event is serialized only
    when the writer asks for it, so an open stream holds no bytes it has not sent yet.

    Every chunk starts with the same per-response bytes (`head`), so a run of chunks is `head` joined with
    their pre-serialized items: one join per run, however many chunks it holds."""
    prefix = (
        f'data: {{"id":"{envelope.id}","object":"chat.completion.chunk","created":{envelope.created},'
        f'"model":{json_str(plan.model)},"service_tier":"{envelope.service_tier}",'
        f'"system_fingerprint":"{envelope.fingerprint}","choices":['
    ).encode()
    head = prefix + b'{"index":'
    end = b',"usage":null}\n\n' if ask.include_usage else b"}\n\n"
    n = ask.n
    # The role chunk opens the answer when it starts: with the first content, or with the finish of an
    # answer that has none.
    role = head + head.join(_for_choices([b"0" + _ROLE + end], n))
    items = _for_choices(_content_items(plan, end), n)
    for at, first, last, fault in plan.events:
        if fault is None:
            run = head + head.join(items[first * n : last * n])
            if first == 0:
                yield at, role + run, (last + 1) * n
            else:
                yield at, run, (last - first) * n
        elif fault.kind == "error":
            yield at, b"data: " + _compact({"error": fault.error}) + b"\n\ndata: [DONE]\n\n", 1
        elif fault.kind in ("disconnect", "end"):
            yield at, b"", 0  # the stream stops here: the writer ends or cuts it once this is due
        else:
            yield at, fault.raw, 0
    if plan.ending is not None:
        return
    finish = f'0,"delta":{{}},"logprobs":null,"finish_reason":"{plan.finish_reason}"}}]'.encode() + end
    final = head + head.join(_for_choices([finish], n))
    if ask.include_usage:
        final += prefix + b'],"usage":' + _compact(usage_object(plan, n)) + b"}\n\n"
    opened = not plan.chunks
    yield plan.finish_at, (role if opened else b"") + final + b"data: [DONE]\n\n", n * (1 + opened) + ask.include_usage


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def completion_body(plan: Plan, ask: Ask, envelope: Envelope) -> bytes:
    """The non-streaming `chat.completion` object."""
    message = {"role": "assistant", "content": plan.content, "refusal": None, "annotations": []}
    choices = [
        {"index": index, "message": message, "logprobs": None, "finish_reason": plan.finish_reason}
        for index in range(ask.n)
    ]
    body = {
        "id": envelope.id,
        "object": "chat.completion",
        "created": envelope.created,
        "model": plan.model,
        "choices": choices,
        "usage": usage_object(plan, ask.n),
        "service_tier": envelope.service_tier,
        "system_fingerprint": envelope.fingerprint,
    }
    return json.dumps(body, ensure_ascii=False).encode()
