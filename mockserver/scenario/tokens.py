"""Token-sized pieces of text, and the token counts reported in `usage`.

There is no tokenizer offline, so one rule serves everywhere a token is meant: `text:` bodies are streamed
as these pieces, `max_tokens` cuts at a piece boundary, and `usage` counts pieces. Because every count comes
from the same rule, a script's usage always agrees with what was streamed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

# Han ideographs, kana, CJK punctuation and full-width forms: one piece per character, as real
# tokenizers mostly do for Chinese and Japanese.
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_PIECE = re.compile(
    rf"""
      [\r\n]+                          # a run of line breaks
    | [ \t]*[{_CJK}]                   # one CJK character, with any spaces before it
    | [ \t]*[^\W{_CJK}]+               # a word (letters, digits, _), with its leading spaces
    | [ \t]*[^\s\w]                    # one punctuation mark or symbol, with its leading spaces
    | [^\S\r\n]+                       # any other run of spaces (trailing, or before a line break)
    """,
    re.VERBOSE,
)


@lru_cache(maxsize=4096)
def split_tokens(text: str) -> tuple[str, ...]:
    """Split `text` into token-sized pieces whose concatenation is exactly `text`. For scenario text, which the
    answers stream piece by piece; the pieces of the same text are made once (request text is only counted)."""
    pieces = tuple(_PIECE.findall(text))
    # The alternatives above cover every character; this guards the promise that nothing is lost.
    if sum(map(len, pieces)) != len(text):
        raise AssertionError(f"token splitter lost characters of {text!r}")
    return pieces


# Texts up to this long have their count remembered: an agent loop sends its conversation again every turn, so
# the same messages (and roles, names, tool definitions) are counted over and over. The cache holds at most
# `_COUNTED` such texts: 8 MB at worst for texts of one byte a character, 33 MB for texts outside the BMP (four).
_SHORT_TEXT = 2048
_COUNTED = 4096


def count_tokens(text: str) -> int:
    """The number of pieces `split_tokens` would make, without making them: a prompt of megabytes is counted in
    the memory of its text alone, and nothing of it is kept."""
    if len(text) <= _SHORT_TEXT:
        return _count_short(text)
    return count_tokens_once(text)


@lru_cache(maxsize=_COUNTED)
def _count_short(text: str) -> int:
    return count_tokens_once(text)


def count_tokens_once(text: str) -> int:
    """The same count for a text unlikely to come again (a document to embed): its pieces are not kept."""
    return _PIECE.subn("", text)[1]


def message_text(content: Any) -> str:
    """The text of a message's `content`: a string, or the `text` parts of a list, joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def estimate_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """The usual chat estimate: 3 per message, the tokens of role, content and name (+1 for a name), 3 to
    prime the reply."""
    total = 3
    for message in messages:
        total += 3
        total += count_tokens(str(message.get("role", "")))
        total += count_tokens(message_text(message.get("content")))
        name = message.get("name")
        if isinstance(name, str):
            total += count_tokens(name) + 1
    return total


def tool_tokens(tools: Iterable[Any]) -> int:
    """The prompt tokens tool definitions cost: the model reads every definition, so a request offering tools
    counts more input tokens than its messages alone. Per function: a fixed overhead, its name and description,
    and per parameter its name, type, description and allowed values; a fixed end once any tool is offered."""
    total = 0
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        total += 8
        if tool.get("type") != "function":
            continue
        total += count_tokens(str(tool.get("name") or "")) + count_tokens(str(tool.get("description") or ""))
        parameters = tool.get("parameters")
        properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
        for key, spec in properties.items() if isinstance(properties, Mapping) else ():
            total += 3 + count_tokens(str(key))
            if isinstance(spec, Mapping):
                total += count_tokens(str(spec.get("type") or "")) + count_tokens(str(spec.get("description") or ""))
                enum = spec.get("enum")
                total += sum(1 + count_tokens(str(value)) for value in enum) if isinstance(enum, list) else 0
    return total + 12 if total else 0
