"""Checking a scenario's answers and building them: steps, content and faults, tool calls, choices, errors."""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Mapping
from typing import Any

from . import chaos
from .endpoints import EndpointChecks
from .marked_yaml import line_of
from .model import (
    ARGUMENTS,
    ENDINGS,
    FINISH_REASONS,
    KEEPALIVE,
    MID_STREAM_ERROR,
    REASONING,
    REFUSAL,
    TOOL_CALL,
    Answer,
    Chunk,
    ErrorReply,
    Fault,
    FaultKind,
    Shaped,
    Step,
    ToolCall,
    Usage,
    derive,
)
from .problems import hint, kind_of, short
from .stream_items import STREAM_KINDS, StreamItemChecks
from .tokens import split_tokens

# What the endpoints that do not stream answer with: settings of an answer, inherited by a sequence's steps, and
# enough for an answer on their own.
ENDPOINT_KEYS = ("embeddings", "moderation")
# Not on error answers.
_ANSWER_KEYS = (
    "finish_reason",
    "ttft_ms",
    "interval_ms",
    "usage",
    "model",
    "system_fingerprint",
    "chaos",
    "raw_reasoning",
)
_TIMING_KEYS = ("latency_ms", "jitter_ms")  # error answers too
# What an answer says. `error` and `choices` stand alone; the others combine (see _Checker.answer). Without any,
# the answer is what the request requires.
BODY_KEYS = ("chunks", "text", "json", "tool_calls", "refusal", "reasoning", "choices", "error")
AUTO = "auto"  # `json: auto`, `tool_calls: auto`, `arguments: auto`: made from the request
STEP_KEYS = (*BODY_KEYS, *_ANSWER_KEYS, *_TIMING_KEYS, *ENDPOINT_KEYS)
_CHOICE_KEYS = ("chunks", "text", "json", "tool_calls", "refusal", "reasoning", "finish_reason")
_CONTENT_KEYS = ("chunks", "text", "json")
_TOOL_KEYS = ("name", "arguments", "id")
_CHUNK_KINDS = ("content", *STREAM_KINDS, "error", "disconnect", "end", "stall_ms", "raw", "keepalive")
_CHUNK_KEYS = (*_CHUNK_KINDS, "delay_ms", "logprob", "standalone")
_ERROR_KEYS = ("status", "message", "type", "code", "param", "retry_after", "retry_after_ms", "headers")
_ERROR_FIELDS = ("message", "type", "code", "param")
_STREAM_ERROR_KEYS = ("status", *_ERROR_FIELDS)
# The chunk items that are faults with no value but `true`.
_SIGNALS: dict[str, FaultKind] = {"disconnect": "disconnect", "end": "end", "keepalive": "keepalive"}
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token, used with fullmatch


class AnswerChecks(EndpointChecks, StreamItemChecks):
    """Steps and what they answer."""

    def step(self, data: Mapping[str, Any], line: int, where: str, inherited: Mapping[str, Any]) -> Step | None:
        bodies = sorted((key for key in BODY_KEYS if key in data), key=lambda key: line_of(data, key))
        for alone in ("error", "choices"):
            if alone in bodies and len(bodies) > 1:
                other = next(key for key in bodies if key != alone)
                self.fail(
                    line_of(data, bodies[1]),
                    f"{where} has both '{alone}' and '{other}'; "
                    + ("an error is the whole answer" if alone == "error" else f"put '{other}' inside each choice"),
                )
                return None
        settings = {**inherited, **self.settings(data, where)}
        if not bodies:  # what the request requires (with the embeddings or moderation scripted, if any)
            return Answer(items=(), shaped="body", **settings)
        if bodies[0] == "error":
            for key in (*_ANSWER_KEYS, *ENDPOINT_KEYS):
                if key in data:
                    self.fail(line_of(data, key), f"'{key}' has no effect on an error answer ({where})")
            timing = {key: value for key, value in settings.items() if key in _TIMING_KEYS}
            return self.error(data, where, timing)
        if bodies and bodies[0] == "choices":
            return self.choices(data, where, settings)
        return self.answer(data, where, settings)

    def answer(self, data: Mapping[str, Any], where: str, settings: Mapping[str, Any]) -> Answer | None:
        """An answer from its parts, streamed in this order: reasoning, content (`chunks` or `text`), a refusal,
        tool calls."""
        given = sorted((key for key in _CONTENT_KEYS if key in data), key=lambda key: line_of(data, key))
        if len(given) > 1:
            self.fail(line_of(data, given[1]), f"{where} has both '{given[0]}' and '{given[1]}'; give exactly one")
            return None
        for other in (*_CONTENT_KEYS, "tool_calls"):
            if "refusal" in data and other in data:
                self.fail(
                    line_of(data, "refusal"), f"a refusal is the whole answer: {where} has 'refusal' and '{other}'"
                )
                return None
        items: list[Chunk | Fault] = []
        if "reasoning" in data and (reasoning := self.text(data, "reasoning", where)) is not None:
            items += [Chunk(piece, kind=REASONING) for piece in split_tokens(reasoning)]
        shaped: Shaped | None = "json" if data.get("json") == AUTO else None
        content: list[Chunk | Fault] | None
        if "chunks" in data:
            content = self.chunks(data, where)
        elif "text" in data:
            content = self.text_chunks(data, where)
        else:
            content = self.json_chunks(data, where) if "json" in data and not shaped else []
        if content is None:
            return None
        items += content
        streamed = self.streamed_calls(data, items, where)  # tool calls written as `chunks` items
        if streamed is None:
            return None
        if "refusal" in data and (refusal := self.text(data, "refusal", where)) is not None:
            items += [Chunk(piece, kind=REFUSAL) for piece in split_tokens(refusal)]
        calls: tuple[ToolCall, ...] = streamed
        auto_call = data.get("tool_calls") == AUTO
        if "tool_calls" in data and streamed:
            self.fail(
                line_of(data, "tool_calls"), f"{where} has 'tool_calls' and 'tool_call' items in 'chunks'; give one"
            )
            return None
        if "tool_calls" in data and not auto_call:
            ending = next((item.kind for item in items if isinstance(item, Fault) and item.kind in ENDINGS), None)
            if ending is not None:
                self.fail(
                    line_of(data, "tool_calls"),
                    f"{where}: the tool calls come after '{ending}', which ends the stream",
                )
            calls = self.tool_calls(data, where)
            for call in calls:
                items.append(Chunk("", kind=TOOL_CALL, tool=call.index))
                items += [Chunk(piece, kind=ARGUMENTS, tool=call.index) for piece in split_tokens(call.arguments)]
        finish = settings.get("finish_reason", "tool_calls" if calls or auto_call else "stop")
        return Answer(
            items=tuple(items),
            tool_calls=calls,
            shaped=shaped,
            auto_call=auto_call,
            **{**settings, "finish_reason": finish},
        )

    def json_chunks(self, data: Mapping[str, Any], where: str) -> list[Chunk | Fault] | None:
        """`json: {...}`: a scripted document, streamed as compact JSON in token-sized pieces."""
        document = data["json"]
        if not isinstance(document, (Mapping, list)):
            self.fail(
                line_of(data, "json"),
                f"'json' in {where} must be auto (made from the request's schema), or the document as a mapping or "
                f"a list; got {kind_of(document)} {short(document)}",
            )
            return None
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return [Chunk(piece) for piece in split_tokens(text)]

    def choices(self, data: Mapping[str, Any], where: str, settings: Mapping[str, Any]) -> Answer | None:
        """Per-choice answers for requests with n > 1; the first also answers n = 1."""
        listed = self.listed(data, "choices", where, "choice", _CHOICE_KEYS)
        if listed is None:
            return None
        answers = []
        for choice, _, choice_where in listed:
            if not any(key in choice for key in _CHOICE_KEYS[:-1]):
                self.fail(line_of(choice), f"{choice_where} has no answer; give {', '.join(_CHOICE_KEYS[:-1])}")
                continue
            answer = self.answer(choice, choice_where, {**settings, **self.settings(choice, choice_where)})
            if answer is not None:
                answers.append(answer)
        if len(answers) != len(data["choices"]):
            return None
        return derive(answers[0], choices=tuple(answers))

    def tool_calls(self, data: Mapping[str, Any], where: str) -> tuple[ToolCall, ...]:
        calls: list[ToolCall] = []
        for call, _, call_where in self.listed(data, "tool_calls", where, "tool call", _TOOL_KEYS) or ():
            name = self.text(call, "name", call_where) if "name" in call else None
            if not name:
                self.fail(line_of(call, "name"), f"{call_where} needs a 'name': the function called")
                continue
            arguments = call.get("arguments", {})
            auto = arguments == AUTO
            if auto:
                arguments = ""
            elif isinstance(arguments, Mapping):
                arguments = json.dumps(arguments, ensure_ascii=False)
            elif not isinstance(arguments, str):
                self.fail(
                    line_of(call, "arguments"),
                    f"'arguments' in {call_where} must be auto, a mapping, or the JSON text as a string; "
                    f"got {kind_of(arguments)}",
                )
                continue
            call_id = self.text(call, "id", call_where) if "id" in call else None
            calls.append(ToolCall(index=len(calls), name=name, arguments=arguments, id=call_id or None, auto=auto))
        return tuple(calls)

    def settings(self, data: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The answer settings given in `data` (finish_reason, timing, usage, model, chaos), checked and typed."""
        result: dict[str, Any] = {}
        if "finish_reason" in data:
            value = data["finish_reason"]
            if value in FINISH_REASONS:
                result["finish_reason"] = value
            else:
                self.fail(
                    line_of(data, "finish_reason"),
                    f"unknown finish_reason {short(value)} in {where}{hint(str(value), FINISH_REASONS)}",
                )
        for key in ("ttft_ms", "interval_ms", *_TIMING_KEYS):
            if key in data and (value := self.number(data, key, where)) is not None:
                result[key] = float(value)
        if "usage" in data and (usage := self.usage(data, where)) is not None:
            result["usage"] = usage
        if "model" in data and (model := self.text(data, "model", where)) is not None:
            if model:
                result["model"] = model
            else:
                self.fail(line_of(data, "model"), f"'model' in {where} is empty")
        if "system_fingerprint" in data and (fingerprint := self.text(data, "system_fingerprint", where)) is not None:
            result["system_fingerprint"] = fingerprint
        if "embeddings" in data and (vectors := self.embeddings(data, where)) is not None:
            result["embeddings"] = vectors
        if "moderation" in data and (results := self.moderation(data, where)) is not None:
            result["moderation"] = results
        if (
            "chaos" in data
            and (rates := self.mapping(data["chaos"], line_of(data, "chaos"), f"'chaos' in {where}")) is not None
        ):
            try:
                result["chaos"] = chaos.from_mapping(rates)
            except chaos.ChaosError as exc:
                self.fail(line_of(rates), f"{exc} ({where})")
        if "raw_reasoning" in data:
            if isinstance(data["raw_reasoning"], bool):
                result["raw_reasoning"] = data["raw_reasoning"]
            else:
                self.fail(line_of(data, "raw_reasoning"), f"'raw_reasoning' in {where} must be true or false")
        return result

    def text_chunks(self, data: Mapping[str, Any], where: str) -> list[Chunk | Fault] | None:
        text = self.text(data, "text", where)
        return None if text is None else [Chunk(piece) for piece in split_tokens(text)]

    def chunks(self, data: Mapping[str, Any], where: str) -> list[Chunk | Fault] | None:
        items = data["chunks"]
        if not isinstance(items, list):
            self.fail(line_of(data, "chunks"), f"'chunks' in {where} must be a list, got {kind_of(items)}")
            return None
        result: list[Chunk | Fault] = []
        ended_by = None
        for index, item in enumerate(items):
            line = line_of(items, index) or line_of(data, "chunks")
            item_where = f"chunk {index + 1} of {where}"
            if ended_by is not None:
                self.fail(line, f"{item_where} comes after '{ended_by}', which ends the stream; it would never be sent")
                break
            if isinstance(item, str):
                result.append(Chunk(item))
                continue
            if not isinstance(item, Mapping):
                self.fail(line, f"{item_where} must be text or a mapping, got {kind_of(item)} {short(item)}")
                continue
            self.keys(item, _CHUNK_KEYS, item_where)
            kinds = [key for key in _CHUNK_KINDS if key in item]
            if len(kinds) != 1:
                found = " and ".join(f"'{kind}'" for kind in kinds)
                self.fail(
                    line,
                    f"{item_where} needs exactly one of {', '.join(_CHUNK_KINDS)}"
                    + (f"; it has {found}" if kinds else ""),
                )
                continue
            entry = self.chunk_item(item, kinds[0], item_where)
            if entry is not None:
                result.append(entry)
                if isinstance(entry, Fault) and entry.kind in ENDINGS:
                    ended_by = entry.kind
        return result

    def chunk_item(self, item: Mapping[str, Any], kind: str, where: str) -> Chunk | Fault | None:
        """One mapping item of `chunks`: content with its own delay, or a fault."""
        line = line_of(item, kind)
        delay = self.number(item, "delay_ms", where) if "delay_ms" in item else None
        delay = None if delay is None else float(delay)
        standalone = False
        if "standalone" in item:
            if kind != "error" or not isinstance(item["standalone"], bool):
                self.fail(line_of(item, "standalone"), f"'standalone' in {where} goes with 'error', as true or false")
            else:
                standalone = item["standalone"]
        if kind == "content":
            content = self.text(item, "content", where)
            logprob = None
            if "logprob" in item:
                value = item["logprob"]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1e9 < value <= 0:
                    self.fail(
                        line_of(item, "logprob"), f"'logprob' in {where} must be a number <= 0, got {short(value)}"
                    )
                else:
                    logprob = float(value)
            return None if content is None else Chunk(content, delay, logprob=logprob)
        if "logprob" in item:
            self.fail(line_of(item, "logprob"), f"'logprob' in {where} goes with 'content' only")
        if kind in STREAM_KINDS:
            return self.stream_chunk(item, kind, where, delay)
        if kind == "stall_ms":
            if "delay_ms" in item:
                self.fail(line_of(item, "delay_ms"), f"{where}: a stall is a delay already; give 'stall_ms' alone")
            stall = self.number(item, "stall_ms", where)
            return None if stall is None else Fault("stall", float(stall))
        value = item[kind]
        if kind == "raw":
            if not isinstance(value, str) or not value:
                self.fail(line, f"'raw' in {where} must be non-empty text, got {kind_of(value)}")
                return None
            return Fault("raw", delay, raw=value.encode())
        if kind == "error":
            if value is True:
                return Fault("error", delay, error=MID_STREAM_ERROR, standalone=standalone)
            spec = self.mapping(value, line, f"'error' in {where}")
            if spec is None:
                return None
            self.keys(spec, _STREAM_ERROR_KEYS, f"'error' in {where}")
            fields = {
                key: self.text(spec, key, where, nullable=key in ("code", "param"))
                for key in _ERROR_FIELDS
                if key in spec
            }
            if "status" not in spec:
                return Fault("error", delay, error={**MID_STREAM_ERROR, **fields}, standalone=standalone)
            status = self.status(spec, where)
            return None if status is None else Fault("error", delay, error=fields, standalone=standalone, status=status)
        if value is not True:  # disconnect, end, keepalive
            self.fail(line, f"'{kind}' in {where} must be true, got {short(value)}")
            return None
        return Fault(_SIGNALS[kind], delay, raw=KEEPALIVE if kind == "keepalive" else b"")

    def usage(self, data: Mapping[str, Any], where: str) -> Usage | None:
        where = f"'usage' of {where}"
        value = self.mapping(data["usage"], line_of(data, "usage"), where)
        if value is None:
            return None
        self.keys(value, _USAGE_KEYS, where)
        counts = {key: self.number(value, key, where, integer=True) for key in _USAGE_KEYS if key in value}
        return Usage(**{key: int(count) for key, count in counts.items() if count is not None})

    def error(self, data: Mapping[str, Any], where: str, timing: Mapping[str, float]) -> ErrorReply | None:
        where = f"'error' of {where}"
        spec = self.mapping(data["error"], line_of(data, "error"), where)
        if spec is None:
            return None
        self.keys(spec, _ERROR_KEYS, where)
        if "status" not in spec:
            self.fail(line_of(data, "error"), f"{where} has no 'status'")
            return None
        status = self.status(spec, where)
        if status is None:
            return None
        # message and type are always text in the envelope; code and param may be null
        fields = {
            key: self.text(spec, key, where, nullable=key in ("code", "param")) for key in _ERROR_FIELDS if key in spec
        }
        retry_after: float | str | None = None
        if isinstance(spec.get("retry_after"), str):
            retry_after = self.http_date(spec, "retry_after", where)
        elif "retry_after" in spec and (seconds := self.number(spec, "retry_after", where)) is not None:
            retry_after = float(seconds)
        retry_after_ms = self.number(spec, "retry_after_ms", where) if "retry_after_ms" in spec else None
        headers = self.headers(spec, where) if "headers" in spec else ()
        return ErrorReply(
            status=status,
            message=fields.get("message"),
            type=fields.get("type"),
            code=fields.get("code"),
            param=fields.get("param"),
            retry_after=retry_after,
            retry_after_ms=None if retry_after_ms is None else float(retry_after_ms),
            headers=headers,
            given=frozenset(fields),
            latency_ms=timing.get("latency_ms", 0.0),
            jitter_ms=timing.get("jitter_ms", 0.0),
        )

    def status(self, spec: Mapping[str, Any], where: str) -> int | None:
        status = spec["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            self.fail(
                line_of(spec, "status"),
                f"'status' in {where} must be an HTTP error status 400-599, got {short(status)}",
            )
            return None
        return status

    def http_date(self, spec: Mapping[str, Any], key: str, where: str) -> str | None:
        value = spec[key]
        try:
            email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            self.fail(
                line_of(spec, key),
                f"'{key}' in {where} must be seconds or an HTTP date "
                f"like 'Wed, 21 Oct 2026 07:28:00 GMT', got {short(value)}",
            )
            return None
        date: str = value
        return date

    def headers(self, spec: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
        value = self.mapping(spec["headers"], line_of(spec, "headers"), f"'headers' in {where}")
        if value is None:
            return ()
        result = []
        for name, header in value.items():
            line = line_of(value, name)
            if not _HEADER_NAME.fullmatch(name):
                self.fail(line, f"{short(name)} is not a valid HTTP header name")
            elif isinstance(header, bool) or not isinstance(header, (str, int, float)):
                self.fail(
                    line, f"header '{name}' must be text or a number, got {kind_of(header)} (write \"true\" in quotes)"
                )
            elif any(ch in str(header) for ch in "\r\n"):
                self.fail(line, f"header '{name}' must be on one line")
            else:
                result.append((name.lower(), str(header)))
        return tuple(result)
