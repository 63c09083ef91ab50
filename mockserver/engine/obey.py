"""Answers that obey the request. The real API guarantees some things whatever the model "wants": no tool call
under `tool_choice: "none"`, at least one under `"required"`, exactly the function a named choice forces, one
call at most without `parallel_tool_calls`, content that ends before a `stop` sequence. Where a script
contradicts such a guarantee, the guarantee wins, and a note says what was changed.

This is also where what the request shapes is made: the whole answer of a scenario without a body (schema JSON,
a forced tool call, or text), `json: auto`, `tool_calls: auto`, `arguments: auto`. A scripted answer that does
not fit a strict schema is sent as written — testing bad-JSON handling needs it — with a note.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..scenario.model import (
    ARGUMENTS,
    CONTENT,
    REASONING,
    TOOL_CALL,
    Answer,
    Chunk,
    Fault,
    MemoKind,
    ToolCall,
    derive,
)
from ..scenario.tokens import split_tokens
from .ask import Ask, Tool
from .schema_check import problem
from .schema_values import generate

# What a request that requires nothing in particular gets from a scenario without a body.
DEFAULT_TEXT = "Hello! I'm a scripted assistant served by mockserver. How can I help you today?"
_SCHEMA_SEARCH = 100_000  # characters of a system prompt searched for a JSON schema
_OPENINGS = 32  # '{' positions tried there
_DOCUMENTS: OrderedDict[tuple[str, int], str] = OrderedDict()  # made JSON by (schema, seed): the last 256
_KEPT = 256


def concerned(answer: Answer, ask: Ask) -> bool:
    """Whether the request or the answer asks for any of this (cheap: the common request skips it all)."""
    return bool(
        answer.shaped
        or answer.auto_call
        or answer.choices
        or ask.stop
        or (ask.tools and (ask.tool_choice != "auto" or not ask.parallel_tool_calls or answer.tool_calls))
        or (ask.output.strict and answer.content)
        or (answer.tool_calls and any(call.auto for call in answer.tool_calls))
    )


def obey(answer: Answer, ask: Ask, seed: int) -> tuple[Answer, list[str]]:
    """The answer this request gets, and notes on what the request changed in the script."""
    if not concerned(answer, ask):
        return answer, []
    if _plain(answer, ask):
        # A request that requires nothing in particular: the same answer every time, made once (with the
        # renderers' work on it kept, as for any scripted answer).
        return answer.memo.get(_PLAIN, seed, lambda: _obeyed(answer, ask, seed)[0]), []
    if _as_scripted(answer, ask):
        # Tools offered, and the scripted calls fit them: every request of an agent loop's step gets the same
        # answer, made once, so the renderers' work on it is kept too.
        return answer.memo.get(_AS_SCRIPTED, seed, lambda: _obeyed(answer, ask, seed)[0]), []
    return _obeyed(answer, ask, seed)


_PLAIN = MemoKind[Answer]("what a plain request gets")
_AS_SCRIPTED = MemoKind[Answer]("scripted calls the request leaves as they are")


def _as_scripted(answer: Answer, ask: Ask) -> bool:
    """Whether the request changes nothing of a fully scripted answer and has nothing to note on it: no choice of
    tool other than `auto`, no limit on parallel calls it exceeds, no stop sequence, no strict schema to check."""
    calls = answer.tool_calls
    return (
        not (answer.shaped or answer.auto_call or answer.choices or ask.stop or ask.output.strict)
        and (ask.tool_choice == "auto" or not ask.tools)
        and (ask.parallel_tool_calls or len(calls) <= 1)
        and not any(call.auto for call in calls)
        and not any((tool := ask.tool(call.name)) is not None and tool.strict for call in calls)
    )


def _plain(answer: Answer, ask: Ask) -> bool:
    """Whether nothing of the request shapes this answer: no tools, no structured output, no stop sequences."""
    return not (ask.tools or ask.stop or ask.output.type != "text" or answer.auto_call or answer.choices) and not (
        answer.tool_calls and any(call.auto for call in answer.tool_calls)
    )


def _obeyed(answer: Answer, ask: Ask, seed: int) -> tuple[Answer, list[str]]:
    notes: list[str] = []
    if answer.choices:
        choices = tuple(_Shaper(choice, ask, seed, notes).answer() for choice in answer.choices)
        return derive(choices[0], choices=choices), notes
    return _Shaper(answer, ask, seed, notes).answer(), notes


def document(schema: Any, seed: int) -> str:
    """The JSON a schema makes with a seed, as compact text (members in the schema's order); the last few are
    kept, so an agent loop's repeated requests do not make them again."""
    key = (json.dumps(schema, sort_keys=True, ensure_ascii=False, default=str), seed)
    text = _DOCUMENTS.get(key)
    if text is None:
        text = json.dumps(generate(schema, seed), ensure_ascii=False, separators=(",", ":"))
        _DOCUMENTS[key] = text
        if len(_DOCUMENTS) > _KEPT:
            _DOCUMENTS.popitem(last=False)
    else:
        _DOCUMENTS.move_to_end(key)
    return text


def schema_in_text(text: str) -> Mapping[str, Any] | None:
    """A JSON schema written into a prompt (JSON mode with the schema in the system message): the first JSON
    object in the text that has `properties`."""
    text = text[:_SCHEMA_SEARCH]
    decoder = json.JSONDecoder()
    start = text.find("{")
    for _ in range(_OPENINGS):
        if start < 0:
            return None
        try:
            value, _end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser
            value = None
        if isinstance(value, dict) and isinstance(value.get("properties"), dict):
            return value
        start = text.find("{", start + 1)
    return None


class _Shaper:
    """One answer (one choice) made to obey one request."""

    def __init__(self, answer: Answer, ask: Ask, seed: int, notes: list[str]) -> None:
        self.source, self.ask, self.seed, self.notes = answer, ask, seed, notes
        self.items = [item for item in answer.items if not (isinstance(item, Chunk) and item.kind in _CALL_KINDS)]
        self.kept = list(self.items)  # to tell whether anything changed
        self.calls = list(answer.tool_calls)
        self.finish = answer.finish_reason
        self.made_content = False  # content made from a schema (valid by construction)
        self.made_calls: set[int] = set()  # ids of calls whose arguments were made from a schema

    def answer(self) -> Answer:
        answer, ask = self.source, self.ask
        if answer.shaped == "body":
            self.fill()
        elif answer.shaped == "json":
            self.put_content(self.json_text())
        if answer.auto_call and (tool := self.pick()) is not None:
            self.calls.append(self.call(tool))
        self.calls = [self.call(ask.tool(c.name), c.name, c.id) if c.auto else c for c in self.calls]
        if ask.tools:
            self.tool_choice()
        if not ask.parallel_tool_calls and len(self.calls) > 1:
            self.notes.append(f"parallel_tool_calls false: only the first call ({self.calls[0].name}) was kept")
            self.calls = self.calls[:1]
        if ask.stop:
            self.stop()
        self.check_strict()
        if self.calls and self.finish == "stop":
            self.finish = "tool_calls"
        elif not self.calls and self.finish == "tool_calls":
            self.finish = "stop"
        return self.build()

    # --- making what the request shapes

    def fill(self) -> None:
        """A scenario without a body: whatever the request requires — a forced tool call, schema JSON, or text."""
        ask = self.ask
        if ask.tools and ask.tool_choice in ("function", "required") and (tool := self.pick()) is not None:
            self.calls.append(self.call(tool))
        elif ask.output.type != "text":
            self.put_content(self.json_text())
        else:
            self.put_content(DEFAULT_TEXT, made=False)

    def json_text(self) -> str:
        """JSON for the request's schema (`response_format` / `text.format`), or for a schema its system prompt
        holds (JSON mode); an object with the default text when there is none."""
        output = self.ask.output
        schema: Any = output.schema if output.type == "json_schema" else None
        if schema is None and output.type == "json_object":
            prompts = [turn.text for turn in self.ask.conversation if turn.role in ("system", "developer")]
            schema = next((found for text in prompts if (found := schema_in_text(text)) is not None), None)
        if schema is None:
            return json.dumps({"answer": DEFAULT_TEXT}, separators=(",", ":"))
        return document(schema, self.seed)

    def put_content(self, text: str, made: bool = True) -> None:
        """Content after any reasoning, before a refusal or tool calls, in token-sized pieces."""
        reasoning = [i + 1 for i, item in enumerate(self.items) if isinstance(item, Chunk) and item.kind == REASONING]
        at = max(reasoning, default=0)
        self.items[at:at] = [Chunk(piece) for piece in split_tokens(text)]
        self.made_content = made

    def pick(self) -> Tool | None:
        """The function to call: the one the request forces; else the first offered that was not called since the
        last user message (an agent works through its tools, then its final one); else the last offered."""
        ask = self.ask
        if ask.forced_tool is not None:
            return ask.tool(ask.forced_tool)
        if not ask.tools:
            return None
        called: set[str] = set()
        for turn in reversed(ask.conversation):
            if turn.role == "user":
                break
            called.update(call.name for call in turn.calls)
        return next((tool for tool in ask.tools if tool.name not in called), ask.tools[-1])

    def call(self, tool: Tool | None, name: str | None = None, call_id: str | None = None) -> ToolCall:
        """A call with arguments made from the tool's schema (`{}` for a function the request does not offer)."""
        if tool is None:
            self.notes.append(f"arguments: auto for {name}, which the request does not offer: {{}}")
            return ToolCall(0, name or "", "{}", call_id)
        arguments = document(tool.parameters or {"type": "object", "properties": {}}, self.seed)
        made = ToolCall(0, tool.name, arguments, call_id)
        self.made_calls.add(id(made))
        return made

    # --- the guarantees

    def tool_choice(self) -> None:
        ask = self.ask
        if ask.tool_choice == "none" and self.calls:
            self.notes.append(f"tool_choice none: the tool calls ({_names(self.calls)}) were left out")
            self.calls = []
            if not any(isinstance(i, Chunk) and i.kind != REASONING for i in self.items):
                self.fill()
        elif ask.tool_choice == "required" and not self.calls and (tool := self.pick()) is not None:
            self.notes.append(f"tool_choice required: a call of {tool.name} was added")
            self.calls = [self.call(tool)]
        elif ask.tool_choice == "function" and ask.forced_tool is not None:
            forced = ask.forced_tool
            kept = [call for call in self.calls if call.name == forced][:1] or [self.call(ask.tool(forced), forced)]
            if kept != self.calls:
                self.notes.append(f"tool_choice {forced}: the answer calls {forced} alone")
            self.calls = kept

    def stop(self) -> None:
        """The content ends before the first stop sequence; nothing after it is sent."""
        content = "".join(i.content for i in self.items if isinstance(i, Chunk) and i.kind == CONTENT)
        found = [(position, sequence) for sequence in self.ask.stop if (position := content.find(sequence)) >= 0]
        if not found:
            return
        position, sequence = min(found)
        kept: list[Chunk | Fault] = []
        seen = 0
        for item in self.items:
            if isinstance(item, Chunk) and item.kind == CONTENT:
                if seen + len(item.content) > position:
                    if position > seen:
                        kept.append(Chunk(item.content[: position - seen], item.delay_ms, logprob=item.logprob))
                    break
                seen += len(item.content)
            kept.append(item)
        self.items = kept
        self.notes.append(f"stop: the content ends before {sequence!r}")
        if self.calls:
            self.calls = []
        self.finish = "stop"

    def check_strict(self) -> None:
        """Notes for a scripted answer that does not fit a strict schema of the request (it is sent as written)."""
        output = self.ask.output
        content = "".join(i.content for i in self.items if isinstance(i, Chunk) and i.kind == CONTENT)
        if output.strict and output.schema is not None and content and not self.made_content:
            self.notes += _fit(content, output.schema, f"the content, for the strict schema '{output.name}'")
        for call in self.calls:
            tool = self.ask.tool(call.name)
            if tool is not None and tool.strict and tool.parameters is not None and id(call) not in self.made_calls:
                self.notes += _fit(call.arguments, tool.parameters, f"the arguments of {call.name} (strict)")

    def build(self) -> Answer:
        if self.unchanged():  # the script's own items: its tool-call fragments and their delays as written
            return (
                self.source
                if self.finish == self.source.finish_reason
                else derive(self.source, finish_reason=self.finish)
            )
        calls = tuple(ToolCall(index, c.name, c.arguments, c.id) for index, c in enumerate(self.calls))
        items = list(self.items)
        for call in calls:
            items.append(Chunk("", kind=TOOL_CALL, tool=call.index))
            items += [Chunk(piece, kind=ARGUMENTS, tool=call.index) for piece in split_tokens(call.arguments)]
        return derive(
            self.source, items=tuple(items), tool_calls=calls, finish_reason=self.finish, shaped=None, auto_call=False
        )

    def unchanged(self) -> bool:
        source = self.source
        return (
            source.shaped is None
            and not source.auto_call
            and len(self.calls) == len(source.tool_calls)
            and all(call is scripted for call, scripted in zip(self.calls, source.tool_calls, strict=True))
            and len(self.items) == len(self.kept)
            and all(item is kept for item, kept in zip(self.items, self.kept, strict=True))
        )


_CALL_KINDS = (TOOL_CALL, ARGUMENTS)


def _names(calls: list[ToolCall]) -> str:
    return ", ".join(call.name for call in calls)


def _fit(text: str, schema: Mapping[str, Any], what: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        return [f"{what}: not valid JSON; sent as scripted"]
    found = problem(value, schema)
    return [f"{what}: {found}; sent as scripted"] if found else []
