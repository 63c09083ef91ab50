"""The `chunks` items that are deltas of other kinds than content: `{reasoning: ...}`, `{refusal: ...}`, and a
tool call as it streams — `{tool_call: {name, id}}` for its first fragment, then `{arguments: ...}` for each piece
of its arguments. Each item may have its own `delay_ms`, so an answer can say which delta comes when, whatever
its kind: a recorded stream replays chunk for chunk and millisecond for millisecond. The body keys (`reasoning`,
`refusal`, `tool_calls`) say the same with token-sized pieces and the answer's ttft/interval instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .checks import Checks
from .marked_yaml import line_of
from .model import ARGUMENTS, REASONING, REFUSAL, TOOL_CALL, Chunk, ChunkKind, Fault, ToolCall

# The item keys of these kinds, with the kind of chunk each makes.
STREAM_KINDS: Mapping[str, ChunkKind] = {
    "reasoning": REASONING,
    "refusal": REFUSAL,
    "tool_call": TOOL_CALL,
    "arguments": ARGUMENTS,
}
_CALL_KEYS = ("name", "id")


@dataclass(frozen=True)
class CallHeader(Chunk):
    """The first fragment of a tool call written as a `chunks` item: it names the function and the call id,
    which become the answer's `ToolCall` (renderers read them there, as for `tool_calls`)."""

    name: str = ""
    call_id: str | None = None


class StreamItemChecks(Checks):
    """The delta items of `chunks` beyond content, and the tool calls they make."""

    def stream_chunk(self, item: Mapping[str, Any], kind: str, where: str, delay: float | None) -> Chunk | None:
        """One `{reasoning: ...}`, `{refusal: ...}`, `{tool_call: {...}}` or `{arguments: ...}` item."""
        if kind != "tool_call":
            text = self.text(item, kind, where)
            return None if text is None else Chunk(text, delay, kind=STREAM_KINDS[kind])
        call = self.mapping(item[kind], line_of(item, kind), f"'tool_call' in {where}")
        if call is None:
            return None
        self.keys(call, _CALL_KEYS, f"'tool_call' in {where}")
        if not call.get("name"):
            self.fail(line_of(item, kind), f"'tool_call' in {where} needs a 'name': the function called")
            return None
        name = self.text(call, "name", f"'tool_call' in {where}")
        if name is None:
            return None
        call_id = self.text(call, "id", f"'tool_call' in {where}") if "id" in call else None
        return CallHeader("", delay, kind=TOOL_CALL, name=name, call_id=call_id or None)

    def streamed_calls(
        self, data: Mapping[str, Any], items: list[Chunk | Fault], where: str
    ) -> tuple[ToolCall, ...] | None:
        """The tool calls that `chunks` items make, numbered in order; each `arguments` item belongs to the call
        before it. `items` get their calls' indices. None when an `arguments` item has no call before it."""
        calls: list[tuple[CallHeader, list[str]]] = []
        for position, item in enumerate(items):
            if isinstance(item, CallHeader):
                items[position] = replace(item, tool=len(calls))
                calls.append((item, []))
            elif isinstance(item, Chunk) and item.kind == ARGUMENTS:
                if not calls:
                    line = self._first_arguments_line(data)
                    self.fail(line, f"{where}: an 'arguments' item comes before any 'tool_call'")
                    return None
                items[position] = replace(item, tool=len(calls) - 1)
                calls[-1][1].append(item.content)
        return tuple(
            ToolCall(index=index, name=header.name, arguments="".join(pieces), id=header.call_id)
            for index, (header, pieces) in enumerate(calls)
        )

    @staticmethod
    def _first_arguments_line(data: Mapping[str, Any]) -> int:
        raw: Sequence[Any] = data.get("chunks") or ()
        for index, entry in enumerate(raw):
            if isinstance(entry, Mapping) and "arguments" in entry:
                return line_of(raw, index)
        return line_of(data, "chunks")
