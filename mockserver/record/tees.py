"""Each wire format read into a `Take`: the events of a stream as they arrive (chat chunks, legacy completion
chunks, typed Responses events), and the whole body of an answer that did not stream or failed.

The readers are lenient: an event they do not know is skipped, a field of the wrong type is left out. What they
read is what a scenario can say; ids and `created` times are not kept (a replay draws its own).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Mapping
from typing import Any

from ..scenario.endpoints import FLOAT32_MAX
from ..scenario.marked_yaml import MAX_VALUES
from .emit import Flow, float32
from .sse import Event
from .take import COMPLETED, END, ERROR, Take, Track

_DONE = "[DONE]"
ERROR_FIELDS = ("message", "type", "param", "code")
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}
# What reading an answer whose fields have types the API never sends raises (`choices: 5`, a number of 400
# digits): the answer is relayed as it is, and not recorded.
MISSHAPEN = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)
MISSHAPEN_SAID = "the answer holds a field of a type the API never sends"
_MOST_VALUES = MAX_VALUES - 1000  # what a recorded embeddings answer may hold: the rest of its item fits beside


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def error_object(error: Mapping[str, Any]) -> Flow:
    """An error object as a `chunks` error item writes it: message and type as text, code and param as given."""
    fields = Flow()
    for key in ERROR_FIELDS:
        value = error.get(key)
        if key in ("code", "param") and key in error:
            fields[key] = str(value) if value is not None and not isinstance(value, str) else value
        elif isinstance(value, str):
            fields[key] = value
    return fields


def usage_keys(usage: Mapping[str, Any]) -> dict[str, int]:
    """Usage as a scenario's `usage` writes it, from chat's or legacy completions' names or the Responses API's."""
    prompt = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = _count(usage.get("completion_tokens", usage.get("output_tokens")))
    details = _mapping(usage.get("completion_tokens_details") or usage.get("output_tokens_details"))
    cached = _mapping(usage.get("prompt_tokens_details") or usage.get("input_tokens_details"))
    keys = {"prompt_tokens": prompt, "completion_tokens": completion}
    reasoning = _count(details.get("reasoning_tokens"))
    if reasoning:
        keys["reasoning_tokens"] = reasoning
    if _count(cached.get("cached_tokens")):
        keys["cached_tokens"] = cached["cached_tokens"]
    return {key: value for key, value in keys.items() if value is not None}


def _logprob(entries: Any) -> dict[str, float]:
    """A chunk's `logprob`: its token's (the mean, if a chunk holds several; top_logprobs are not kept)."""
    if not isinstance(entries, list) or not entries:
        return {}
    values = [entry.get("logprob") for entry in entries if isinstance(entry, Mapping)]
    numbers = [value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if not numbers:
        return {}
    return {"logprob": min(0.0, round(sum(numbers) / len(numbers), 6))}


# --- streams ---------------------------------------------------------------------------------------------------


class StreamTee:
    """Reads the events of one stream into `take`: chat and legacy completions (`data:` chunks ending with
    `[DONE]`) or the Responses API (typed events)."""

    def __init__(self, take: Take) -> None:
        self.take = take
        self.done = False  # the stream said it finished ([DONE], response.completed, ...)

    def event(self, event: Event, at: float) -> None:
        """One event, `at` ms after the headers."""
        take = self.take
        if take.unreadable is not None:  # it will not be recorded: the rest is not read
            return
        if event.comment is not None:
            if event.comment.strip() == ": keep-alive":
                take.track(0).add("keepalive", True, at)
            else:
                take.track(0).add("raw", event.comment + "\n\n", at)
            return
        if event.data == _DONE:
            self.done = True
            return
        try:
            payload = json.loads(event.data)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser
            return
        if not isinstance(payload, Mapping):
            return
        kind: Any = payload.get("type") or event.event
        typed = isinstance(kind, str) and (kind.startswith("response.") or take.endpoint == "/responses")
        try:
            if typed and kind != "error":
                self._responses(kind, payload, at)
            elif isinstance(payload.get("error"), Mapping) and not payload.get("choices"):
                take.track(0).add("error", error_object(payload["error"]), at)
                take.ended, take.end_at, self.done = ERROR, at, True
            elif kind == "error":  # a Responses stream's flat error event
                take.track(0).add("error", error_object(payload), at, standalone=True)
                take.ended, take.end_at, self.done = ERROR, at, True
            else:
                self._chunk(payload, at)
        except MISSHAPEN:
            take.unreadable = "an event holds a field of a type the API never sends"

    def _chunk(self, payload: Mapping[str, Any], at: float) -> None:
        """A chat or legacy completion chunk."""
        take = self.take
        take.model = _text(payload.get("model")) or take.model
        take.fingerprint = _text(payload.get("system_fingerprint")) or take.fingerprint
        for choice in payload.get("choices") or ():
            if not isinstance(choice, Mapping):
                continue
            track = take.track(_count(choice.get("index")) or 0)
            if isinstance(choice.get("delta"), Mapping):
                self._delta(track, choice["delta"], _logprob(_mapping(choice.get("logprobs")).get("content")), at)
            elif (text := _text(choice.get("text"))) is not None:  # legacy completions
                logprobs = _mapping(choice.get("logprobs")).get("token_logprobs")
                track.add("content", text, at, **_logprob([{"logprob": value} for value in logprobs or ()]))
            if _text(choice.get("finish_reason")):
                track.finish = choice["finish_reason"]
        if isinstance(payload.get("usage"), Mapping):
            take.usage = usage_keys(payload["usage"])

    def _delta(self, track: Track, delta: Mapping[str, Any], logprob: dict[str, float], at: float) -> None:
        for key in ("reasoning_content", "reasoning"):  # as OpenAI-compatible reasoning servers send it
            if (reasoning := _text(delta.get(key))) is not None:
                track.add("reasoning", reasoning, at)
                self.take.raw_reasoning = True
        if (content := _text(delta.get("content"))) is not None:
            track.add("content", content, at, **logprob)
        if (refusal := _text(delta.get("refusal"))) is not None:
            track.add("refusal", refusal, at)
        for call in delta.get("tool_calls") or ():
            if not isinstance(call, Mapping):
                continue
            function = _mapping(call.get("function"))
            if _text(call.get("id")) or _text(function.get("name")):
                header = Flow(name=_text(function.get("name")) or "function")
                if _text(call.get("id")):
                    header["id"] = call["id"]
                track.add("tool_call", header, at)
            if (arguments := _text(function.get("arguments"))) is not None:
                track.add("arguments", arguments, at)

    def _responses(self, kind: str, payload: Mapping[str, Any], at: float) -> None:
        take, track = self.take, self.take.track(0)
        response = _mapping(payload.get("response"))
        take.model = _text(response.get("model")) or take.model
        delta = _text(payload.get("delta"))
        if kind == "response.output_text.delta" and delta is not None:
            track.add("content", delta, at, **_logprob(payload.get("logprobs")))
        elif kind == "response.refusal.delta" and delta is not None:
            track.add("refusal", delta, at)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta") and delta is not None:
            track.add("reasoning", delta, at)
            take.raw_reasoning = take.raw_reasoning or kind == "response.reasoning_text.delta"
        elif kind == "response.function_call_arguments.delta" and delta is not None:
            track.add("arguments", delta, at)
        elif kind == "response.output_item.added":
            item = _mapping(payload.get("item"))
            if item.get("type") == "function_call":
                header = Flow(name=_text(item.get("name")) or "function")
                if _text(item.get("call_id")):
                    header["id"] = item["call_id"]
                track.add("tool_call", header, at)
        elif kind in ("response.completed", "response.incomplete"):
            reason = _mapping(response.get("incomplete_details")).get("reason")
            track.finish = _INCOMPLETE.get(str(reason), "length") if kind == "response.incomplete" else None
            track.finish = track.finish or ("tool_calls" if track.calls else "stop")
            if isinstance(response.get("usage"), Mapping):
                take.usage = usage_keys(response["usage"])
            take.end_at, self.done = at, True
        elif kind == "response.failed":
            track.add("error", error_object(_mapping(response.get("error"))), at)
            take.ended, take.end_at, self.done = ERROR, at, True

    def end(self, at: float, how: str) -> None:
        """The body ended `at` ms after the headers: cleanly (`how` = end) or not (disconnect, client left). A
        stream that ends without saying it finished ends with that fault."""
        take = self.take
        if not take.end_at:
            take.end_at = at
        if self.done:
            return
        take.ended = how
        take.track(0).add("end" if how == END else "disconnect", True, at)


# --- whole bodies ------------------------------------------------------------------------------------------


def read_body(take: Take, body: Any) -> None:
    """The JSON answer of a request that did not stream (or an error), into `take`."""
    if not isinstance(body, Mapping):
        take.unreadable = "the answer is not a JSON object"
        return
    take.model = _text(body.get("model")) or take.model
    if isinstance(body.get("usage"), Mapping):
        take.usage = usage_keys(body["usage"])
    if take.endpoint == "/embeddings":
        _embeddings(take, body)
    elif take.endpoint == "/moderations":
        _moderations(take, body)
    elif take.endpoint == "/responses":
        _response_object(take, body)
    else:
        take.fingerprint = _text(body.get("system_fingerprint"))
        choices = [_choice(take, choice) for choice in body.get("choices") or () if isinstance(choice, Mapping)]
        if len(choices) == 1:
            take.whole.update(choices[0])
        elif choices:
            take.whole["choices"] = choices


def _choice(take: Take, choice: Mapping[str, Any]) -> dict[str, Any]:
    """A chat or legacy completion choice as body keys; as chunks when it mixes what body keys keep apart."""
    message = _mapping(choice.get("message"))
    content = _text(message.get("content")) if message else _text(choice.get("text"))
    reasoning = _text(message.get("reasoning_content")) or _text(message.get("reasoning"))
    refusal = _text(message.get("refusal"))
    calls = []
    for call in message.get("tool_calls") or ():
        function = _mapping(_mapping(call).get("function"))
        arguments = function.get("arguments")
        written = {"name": _text(function.get("name")) or "function"}
        written["arguments"] = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
        if _text(_mapping(call).get("id")):
            written["id"] = call["id"]
        calls.append(written)
    keys: dict[str, Any] = {}
    if reasoning:
        keys["reasoning"] = reasoning
        take.raw_reasoning = True
    if refusal and (content or calls):
        track = Track()
        for kind, value in (("content", content), ("refusal", refusal)):
            if value:
                track.add(kind, value, 0)
        keys["chunks"] = track.items
    elif refusal:
        keys["refusal"] = refusal
    elif content is not None or not calls:
        keys["text"] = content or ""
    if calls:
        keys["tool_calls"] = calls
    if _text(choice.get("finish_reason")):
        keys["finish_reason"] = choice["finish_reason"]
    return keys


def _response_object(take: Take, body: Mapping[str, Any]) -> None:
    reasoning, content, refusal, calls = [], [], [], []
    for item in body.get("output") or ():
        item = _mapping(item)
        if item.get("type") == "reasoning":
            reasoning += [_mapping(part).get("text") or "" for part in item.get("summary") or ()]
            texts = [_mapping(part).get("text") or "" for part in item.get("content") or ()]
            reasoning += texts
            take.raw_reasoning = take.raw_reasoning or any(texts)
        elif item.get("type") == "message":
            for part in item.get("content") or ():
                part = _mapping(part)
                if part.get("type") == "output_text":
                    content.append(part.get("text") or "")
                elif part.get("type") == "refusal":
                    refusal.append(part.get("refusal") or "")
        elif item.get("type") == "function_call":
            call = {"name": _text(item.get("name")) or "function", "arguments": item.get("arguments") or ""}
            if _text(item.get("call_id")):
                call["id"] = item["call_id"]
            calls.append(call)
    message: dict[str, Any] = {"message": {"content": "".join(content) or None, "refusal": "".join(refusal) or None}}
    if reasoning and "".join(reasoning):
        message["message"]["reasoning"] = "\n\n".join(text for text in reasoning if text)
    message["message"]["tool_calls"] = [
        {"id": call.get("id"), "function": {"name": call["name"], "arguments": call["arguments"]}} for call in calls
    ]
    raw = take.raw_reasoning
    keys = _choice(take, message)
    take.raw_reasoning = raw  # a summary is not raw reasoning
    reason = _mapping(body.get("incomplete_details")).get("reason")
    if body.get("status") == "incomplete":
        keys["finish_reason"] = _INCOMPLETE.get(str(reason), "length")
    elif calls:
        keys["finish_reason"] = "tool_calls"
    take.whole.update(keys)


def _embeddings(take: Take, body: Mapping[str, Any]) -> None:
    vectors = []
    held = 0
    for item in body.get("data") or ():
        embedding = _mapping(item).get("embedding")
        if isinstance(embedding, str):
            try:
                packed = base64.b64decode(embedding, validate=True)
                values = list(struct.unpack(f"<{len(packed) // 4}f", packed[: len(packed) // 4 * 4]))
            except ValueError:
                values = []
        elif isinstance(embedding, list):
            values = [value for value in embedding if isinstance(value, (int, float)) and not isinstance(value, bool)]
        else:
            values = []
        held += len(values)
        if held > _MOST_VALUES:  # found before the seconds it would take to write and check the file
            take.unreadable = (
                f"the answer holds more than {_MOST_VALUES:,} embedding values, and a scenario file loads at most "
                f"{MAX_VALUES:,} values"
            )
            return
        if any(abs(value) > FLOAT32_MAX for value in values):
            take.unreadable = "an embedding value is beyond the largest float32 (3.4e+38), which no answer can send"
            return
        if values:
            vectors.append([float32(value) for value in values])
    if not vectors:
        take.unreadable = "the answer holds no embedding vectors"
        return
    take.whole["embeddings"] = vectors
    take.usage = {key: value for key, value in take.usage.items() if key == "prompt_tokens"}


def _moderations(take: Take, body: Mapping[str, Any]) -> None:
    results = []
    for result in body.get("results") or ():
        result = _mapping(result)
        categories = _mapping(result.get("categories"))
        scores = _mapping(result.get("category_scores"))
        script: dict[str, Any] = {"flagged": [name for name, value in categories.items() if value is True]}
        numbers = {name: value for name, value in scores.items() if isinstance(value, (int, float))}
        if numbers:
            # clamped before the conversion: a score of 400 digits is past floats
            script["scores"] = {name: float(max(0, min(1, value))) for name, value in numbers.items()}
        results.append(script)
    if not results:
        take.unreadable = "the answer holds no moderation results"
        return
    take.whole["moderation"] = results if len(results) > 1 else results[0]
    take.usage = {}


def read_error(take: Take, status: int, body: bytes, headers: Mapping[str, str]) -> None:
    """An HTTP error answer as `error:` writes it: its status, the four fields, the headers a client reads."""
    error: dict[str, Any] = {"status": status}
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser
        parsed = None
    fields = _mapping(_mapping(parsed).get("error"))
    if fields:
        error.update(error_object(fields))
    else:
        text = body.decode("utf-8", "replace").strip()
        error["message"] = text[:2000] if text else f"HTTP {status}"
    kept = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower == "retry-after-ms":
            try:
                error["retry_after_ms"] = float(value)
            except ValueError:
                kept[lower] = value
        elif lower.startswith("x-ratelimit-") or lower in ("x-should-retry", "retry-after"):
            kept[lower] = value
    if kept:
        error["headers"] = kept
    take.error = error
    take.ended = COMPLETED
