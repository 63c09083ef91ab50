"""Checking a scenario's answers and building them: steps, content and faults, tool calls, choices, errors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import chaos
from .endpoints import EndpointChecks
from .fault_checks import FaultChecks
from .marked_yaml import line_of
from .model import (
    ARGUMENTS,
    CONTENT,
    ENDINGS,
    FINISH_REASONS,
    REASONING,
    REFUSAL,
    TOOL_CALL,
    Answer,
    Chunk,
    ChunkKind,
    Fault,
    Shaped,
    Step,
    ToolCall,
    Usage,
    derive,
)
from .problems import hint, kind_of, short
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
# What an answer says. `error` and `choices` stand alone; the others combine (see AnswerChecks.answer). Without any,
# the answer is what the request requires.
BODY_KEYS = ("chunks", "text", "json", "tool_calls", "refusal", "reasoning", "choices", "error")
AUTO = "auto"  # `json: auto`, `tool_calls: auto`, `arguments: auto`: made from the request
STEP_KEYS = (*BODY_KEYS, *_ANSWER_KEYS, *_TIMING_KEYS, *ENDPOINT_KEYS)
_CHOICE_KEYS = ("chunks", "text", "json", "tool_calls", "refusal", "reasoning", "finish_reason")
_CONTENT_KEYS = ("chunks", "text", "json")
_TOOL_KEYS = ("name", "arguments", "id")
# How a document is written: tool-call arguments as JSON.dumps writes them, a `json` answer compact.
_SEPARATORS: dict[str, tuple[str, str]] = {"arguments": (", ", ": "), "json": (",", ":")}
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens")


class AnswerChecks(EndpointChecks, FaultChecks):  # FaultChecks brings HangupChecks
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
        if bodies[0] == "choices":
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
            items += self.pieces(reasoning, REASONING, line_of(data, "reasoning")) or ()
        shaped: Shaped | None = "json" if data.get("json") == AUTO else None
        content: Sequence[Chunk | Fault] | None
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
            items += self.pieces(refusal, REFUSAL, line_of(data, "refusal")) or ()
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
                items += self.pieces(call.arguments, ARGUMENTS, line_of(data, "tool_calls"), call.index) or ()
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
        text = self.json_text(document, line_of(data, "json"), where, "json")
        if text is None:
            return None
        return list(self.pieces(text, CONTENT, line_of(data, "json")) or ())

    def choices(self, data: Mapping[str, Any], where: str, settings: Mapping[str, Any]) -> Answer | None:
        """Per-choice answers for requests with n > 1; the first also answers n = 1."""
        listed = self.listed(data, "choices", where, "choice", _CHOICE_KEYS)
        if listed is None:
            return None
        answers = []
        for choice, line, choice_where in listed:
            if not self.spend(1, line):
                continue
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
                arguments = self.json_text(arguments, line_of(call, "arguments"), call_where)
                if arguments is None:
                    continue
            elif not isinstance(arguments, str):
                self.fail(
                    line_of(call, "arguments"),
                    f"'arguments' in {call_where} must be auto, a mapping, or the JSON text as a string; "
                    f"got {kind_of(arguments)}",
                )
                continue
            call_id = self.text(call, "id", call_where) if "id" in call else None
            if self.spend(1, line_of(call)):
                calls.append(ToolCall(index=len(calls), name=name, arguments=arguments, id=call_id or None, auto=auto))
        return tuple(calls)

    def json_text(self, value: Any, line: int, where: str, key: str = "arguments") -> str | None:
        """A document written as YAML (tool-call arguments, a `json` answer), as the JSON text streamed. YAML has
        values JSON has not: dates, timestamps, binary data, sets, infinity."""

        def refuse(other: Any) -> Any:
            raise TypeError(f"{kind_of(other)} {short(other)}")

        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False, default=refuse, separators=_SEPARATORS[key])
        except TypeError as exc:
            what = f"holds {exc}, which JSON has no form for; write it as text in quotes"
        except ValueError:
            what = "holds a number JSON has no form for (.inf or .nan)"
        self.fail(line, f"'{key}' in {where} {what}")
        return None

    def pieces(self, text: str, kind: ChunkKind, line: int, tool: int | None = None) -> list[Chunk] | None:
        """Text as token-sized chunks of one kind; None past the load's MAX_PARTS."""
        tokens = split_tokens(text)
        if not self.spend(len(tokens), line):
            return None
        return [Chunk(piece, kind=kind, tool=tool) for piece in tokens]

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
            self.upgrade_chaos(rates, where)
        if "raw_reasoning" in data:
            if isinstance(data["raw_reasoning"], bool):
                result["raw_reasoning"] = data["raw_reasoning"]
            else:
                self.fail(line_of(data, "raw_reasoning"), f"'raw_reasoning' in {where} must be true or false")
        return result

    def text_chunks(self, data: Mapping[str, Any], where: str) -> list[Chunk] | None:
        text = self.text(data, "text", where)
        return None if text is None else self.pieces(text, CONTENT, line_of(data, "text"))

    def usage(self, data: Mapping[str, Any], where: str) -> Usage | None:
        where = f"'usage' of {where}"
        value = self.mapping(data["usage"], line_of(data, "usage"), where)
        if value is None:
            return None
        self.keys(value, _USAGE_KEYS, where)
        counts = {key: self.number(value, key, where, integer=True) for key in _USAGE_KEYS if key in value}
        return Usage(**{key: int(count) for key, count in counts.items() if count is not None})
