"""Scenarios as YAML a person reads, diffs and edits: block mappings, one chunk a line as a flow mapping, text
left plain where YAML reads it back as the same text, quoted where it must be — and always read back exactly as
written (`tests/unit/test_recording_emit.py` checks the round trip on hostile text).

PyYAML's own dumper is not used: it cannot put one chunk on a line while keeping the rest in block style, and
the text it writes for some characters (line separators, a lone surrogate) does not read back the same."""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping
from typing import Any

# Words YAML reads as something else than text, in any case (a plain scalar that starts with a letter can only
# be one of these: numbers and dates start with a digit, a sign or a dot).
_WORDS = frozenset({"yes", "no", "y", "n", "true", "false", "on", "off", "null"})
# Text written without quotes: words, and the punctuation that means nothing to YAML inside a line.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ ./()+=@-]*")
# What YAML cannot hold as it is, even in double quotes: controls, line and paragraph separators, the BOM,
# non-characters. (JSON escapes the C0 controls, quotes and backslashes already.)
_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SINGLE_SAFE = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]*")
FLOW_WIDTH = 100  # a mapping of plain values shorter than this stays on one line


class Flow(dict[str, Any]):
    """A mapping written on one line, `{content: "Hi", delay_ms: 12}`, whatever its length: a chunk."""


class Lines(list[Any]):
    """A list written one item a line, however short its items: chunks."""


def text(value: str) -> str:
    """A string as a YAML scalar that reads back as exactly `value`."""
    value = _SURROGATE.sub("\ufffd", value)
    if _PLAIN.fullmatch(value) and not value.endswith(" ") and value.lower() not in _WORDS:
        return value
    if _SINGLE_SAFE.fullmatch(value) and "\t" not in value and not value.startswith(" ") and "\\" in value:
        return "'" + value.replace("'", "''") + "'"  # a regex reads best without its backslashes doubled
    quoted = json.dumps(value, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", quoted)


class Unwritable(ValueError):
    """A value of an answer that a scenario file cannot hold: the answer is not recorded, and this says why."""


def number(value: float) -> str:
    """A number as YAML reads it back: a float always has a dot (YAML 1.1 reads `1e-06` as text)."""
    if isinstance(value, (bool, int)):
        return str(value).lower()
    if not math.isfinite(value):
        raise Unwritable(f"it holds {value}, which has no form in a scenario file")
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    written = repr(value)
    if "e" in written and "." not in written.split("e")[0]:
        mantissa, exponent = written.split("e")
        written = f"{mantissa}.0e{exponent}"
    return written


def float32(value: float) -> float:
    """The shortest float that is the same float32: how an embedding's value reads best."""
    single = struct.unpack("<f", struct.pack("<f", value))[0]
    for digits in range(6, 10):
        shorter = float(f"{single:.{digits}g}")
        if struct.pack("<f", shorter) == struct.pack("<f", single):
            return shorter
    return float(single)


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return text(value)
    if isinstance(value, (bool, int, float)):
        return number(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{text(key)}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return scalar(value)


def _flat(value: Any) -> bool:
    """Whether a value holds no mapping or list of mappings below it (a list of numbers, of text)."""
    if isinstance(value, Mapping):
        return all(not isinstance(item, (Mapping, list)) for item in value.values())
    if isinstance(value, list):
        return all(not isinstance(item, (Mapping, list)) or _flat_list(item) for item in value)
    return True


def _flat_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(item, (Mapping, list)) for item in value)


def _block(value: Any, indent: int) -> list[str]:
    """The lines of a value written in block style at `indent` spaces."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = text(key)
            if _inline(item):
                lines.append(f"{pad}{name}: {_flow(item)}")
            else:
                lines.append(f"{pad}{name}:")
                lines += _block(item, indent + 2)
        return lines
    for item in value:
        if _inline(item):
            lines.append(f"{pad}- {_flow(item)}")
        else:
            inner = _block(item, indent + 2)
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines += inner[1:]
    return lines


def _inline(value: Any) -> bool:
    if isinstance(value, Flow) or not isinstance(value, (Mapping, list)):
        return True
    if isinstance(value, Lines):
        return not value
    if isinstance(value, list) and not value:
        return True
    if isinstance(value, Mapping) and not value:
        return True
    if _flat_list(value):
        return True
    return isinstance(value, Mapping) and _flat(value) and len(_flow(value)) <= FLOW_WIDTH


def item(data: Mapping[str, Any], indent: int, comment: str | None = None) -> str:
    """One scenario (or a `continues` step) as an item of a block list whose dashes are at column `indent`,
    ending with a line break; a comment line before it, if given."""
    body = _block(data, indent + 2)
    lines = [f"{' ' * indent}- {body[0].lstrip()}", *body[1:]]
    if comment:
        lines.insert(0, f"{' ' * indent}# {' '.join(comment.split())}")
    return "\n".join(lines) + "\n"
