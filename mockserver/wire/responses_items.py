"""The output items of a Responses answer: how a plan's chunks group into a `reasoning` item, a `message` (its
text or refusal as content parts) and one `function_call` item per tool call, in order. A reasoning item has
parts only when its text is sent (as a summary, or raw); a reasoning model whose script has no reasoning still
opens with an empty reasoning item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..engine.plan import Plan
from ..scenario.model import ARGUMENTS, CONTENT, REASONING, REFUSAL, TOOL_CALL, Chunk, ChunkKind, MemoKind
from .reasoning import Style

ItemKind = Literal["reasoning", "message", "function_call"]
# A part's kind: content or refusal (of a message); reasoning text, as open-weight reasoning models send it; a
# summary when the request asks for one (`reasoning.summary`), as OpenAI's reasoning models send it.
PartKind = Literal["content", "refusal", "reasoning_text", "summary_text"]
TEXT_PART: PartKind = "content"
REFUSAL_PART: PartKind = "refusal"
REASONING_TEXT: PartKind = "reasoning_text"
SUMMARY_TEXT: PartKind = "summary_text"
ITEM_KINDS: dict[ChunkKind, ItemKind] = {
    REASONING: "reasoning",
    CONTENT: "message",
    REFUSAL: "message",
    TOOL_CALL: "function_call",
    ARGUMENTS: "function_call",
}


@dataclass
class Part:
    """A content part of an item (a summary part, for a reasoning summary): chunks[start:end] of one kind."""

    kind: PartKind
    index: int  # its content_index (summary_index)
    start: int
    end: int


@dataclass
class Item:
    """An output item: chunks[start:end], in parts. An empty message starts and ends at the end of the chunks; a
    reasoning item without scripted reasoning starts and ends before the first."""

    kind: ItemKind
    index: int  # its output_index
    start: int
    end: int
    parts: list[Part] = field(default_factory=list)
    tool: int | None = None  # a function call's index among the answer's tool calls

    @property
    def call(self) -> int:
        """The index of the tool call a function_call item is."""
        assert self.tool is not None
        return self.tool


# The items of a plan that sends its whole answer: the same for every request (never changed once made).
_LAYOUT = MemoKind["list[Item]"]("responses layout")  # by (style, thinking)


def layout(plan: Plan, style: Style, thinking: bool, sent: int | None = None) -> list[Item]:
    """The output items a plan's chunks make, in order — of its first `sent` chunks only, for a response
    cancelled on the way. `thinking` opens them with an empty reasoning item. Worked out once per answer for the
    plans that send it whole (the items are never changed once made); a plan cut short gets its own."""
    if sent is not None:
        return _items(plan.chunks[:sent], style, False, thinking)
    if plan.ending is None and not plan.truncated:
        key = (style, thinking)
        return plan.answer.memo.get(_LAYOUT, key, lambda: _items(plan.chunks, style, True, thinking))
    return _items(plan.chunks, style, False, thinking)


def _items(chunks: tuple[Chunk, ...], style: Style, empty: bool, thinking: bool) -> list[Item]:
    """The items of these chunks. With `empty`, an answer that says nothing (no text, refusal or tool call)
    still ends with a message, empty: not when max_output_tokens or a fault cut it short."""
    items: list[Item] = [Item("reasoning", 0, 0, 0)] if thinking else []
    for position, chunk in enumerate(chunks):
        kind = ITEM_KINDS[chunk.kind]
        if not items or items[-1].kind != kind or chunk.kind == TOOL_CALL:
            items.append(Item(kind, len(items), position, position, tool=chunk.tool))
        item = items[-1]
        item.end = position + 1
        if kind == "function_call" or (chunk.kind == REASONING and style == "hidden"):
            continue
        part: PartKind
        if chunk.kind == REASONING:
            part = SUMMARY_TEXT if style == "summary" else REASONING_TEXT
        else:
            part = REFUSAL_PART if chunk.kind == REFUSAL else TEXT_PART
        if not item.parts or item.parts[-1].kind != part:
            item.parts.append(Part(part, len(item.parts), position, position))
        item.parts[-1].end = position + 1
    if empty and all(item.kind == "reasoning" for item in items):
        end = len(chunks)
        items.append(Item("message", len(items), end, end, [Part(TEXT_PART, 0, end, end)]))
    return items
