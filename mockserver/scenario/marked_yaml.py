"""YAML read with line numbers: every mapping and list remembers where each of its keys and items was written,
so that every problem can be reported as `file:line: message`.

The document is built from the parser's events, without recursion, by libyaml's C parser when it is installed
(PyYAML's own otherwise; both give the same lines). Whatever the text holds, the work stays bounded by its size:
nesting is limited, an alias shares the value of its anchor instead of copying it, and a document whose aliases
would expand it past `MAX_VALUES` values is refused before anything walks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .problems import Problem, kind_of, short

_MERGE = "tag:yaml.org,2002:merge"
# libyaml when PyYAML was built with it: ten times quicker than the pure-Python parser.
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 100  # mappings and lists inside each other
MAX_VALUES = 2_000_000  # values in the document once every alias is expanded
_TAG_WORDS = {
    "tag:yaml.org,2002:int": "a whole number (at most 4300 digits)",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:binary": "base64 data",
    "tag:yaml.org,2002:bool": "a boolean",
}
# A surrogate pair written as two escapes, the way JSON writes characters beyond U+FFFF: libyaml refuses the
# halves, so the pair is rewritten as the one escape YAML has for it. An even run of backslashes before it is
# text, not an escape.
_ESCAPED_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class MarkedMap(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key."""

    line = 0
    key_lines: dict[Any, int]


class MarkedList(list[Any]):
    """A YAML sequence that remembers the line of each item."""

    line = 0
    item_lines: list[int]


def line_of(value: Any, key: Any = None) -> int:
    if key is not None and isinstance(value, MarkedMap):
        return value.key_lines.get(key, value.line)
    if key is not None and isinstance(value, MarkedList) and isinstance(key, int) and key < len(value.item_lines):
        return value.item_lines[key]
    return getattr(value, "line", 0)


class _Stop(Exception):
    """The document cannot be read further; the problem is already recorded."""


_MERGE_KEY = object()  # the key `<<`
_SKIPPED = object()  # a key already reported as a problem: its value is read and dropped


@dataclass
class _Open:
    """A mapping or list being read."""

    value: MarkedMap | MarkedList
    anchor: str | None
    weight: int = 1  # values inside it, aliases expanded, itself included
    key: Any = None  # a mapping's key waiting for its value (None: the next value is a key)
    key_line: int = 0
    merged: list[MarkedMap] = field(default_factory=list)


def parse_yaml(text: str, source: str, problems: list[Problem]) -> tuple[Any, bool, int]:
    """The document as Python data with line numbers, whether it parsed at all, and how many values it holds."""
    reader = _Reader(text, source, problems)
    try:
        return reader.read(), True, reader.values
    except _Stop:
        pass
    except yaml.MarkedYAMLError as exc:
        if "invalid Unicode character escape" in str(exc.problem) and _ESCAPED_PAIR.search(text):
            fixed = _ESCAPED_PAIR.sub(lambda m: f"{m[1]}\\U{_pair(m[2], m[3]):08x}", text)
            return parse_yaml(fixed, source, problems)
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark else 0
        if not text.endswith("\n"):  # libyaml puts the end of a text without a last line break a line further
            line = min(line, text.count("\n") + 1)
        problems.append(Problem(source, line, f"YAML syntax error: {what}"))
    except yaml.reader.ReaderError as exc:
        line = _line_at(text, exc.position) if isinstance(exc.position, int) else 0
        code = exc.character if isinstance(exc.character, int) else 0
        problems.append(
            Problem(
                source,
                line,
                f"the character #x{code:04X} is not allowed in YAML text; write it as an escape inside double "
                f'quotes ("\\u{code:04x}")',
            )
        )
    except yaml.YAMLError as exc:
        problems.append(Problem(source, 0, f"YAML error: {exc}"))
    except UnicodeError as exc:  # a str that is not valid Unicode, from a Python caller
        start = getattr(exc, "start", 0)
        problems.append(Problem(source, text.count("\n", 0, start) + 1, "the text holds a lone surrogate"))
    return None, False, reader.values


def _line_at(text: str, position: int) -> int:
    """The line of a reader error's position: a character index for PyYAML's parser, a byte offset in the UTF-8
    text for libyaml's."""
    if LOADER is yaml.SafeLoader or text.isascii():
        return text.count("\n", 0, position) + 1
    return text.encode("utf-8", "surrogatepass").count(b"\n", 0, position) + 1


def _pair(high: str, low: str) -> int:
    return 0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00)


class _Reader:
    """Builds the document from parser events, keeping a stack of the mappings and lists still open."""

    def __init__(self, text: str, source: str, problems: list[Problem]) -> None:
        self.text = text
        self.source = source
        self.problems = problems
        self.stack: list[_Open] = []
        self.anchors: dict[str, tuple[Any, int | None]] = {}  # anchor -> (value, weight; None while open)
        self.values = 0  # values read so far, aliases expanded
        self.aliased = False  # whether an alias was expanded
        self.root: Any = None

    def fail(self, line: int, message: str) -> _Stop:
        self.problems.append(Problem(self.source, line, message))
        return _Stop()

    def read(self) -> Any:
        loader = LOADER(self.text)
        try:
            documents = 0
            while not loader.check_event(yaml.StreamEndEvent):
                event = loader.get_event()
                line = event.start_mark.line + 1
                if isinstance(event, yaml.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        raise self.fail(line, "expected one YAML document, but found another ('---')")
                elif isinstance(event, yaml.ScalarEvent):
                    self.add(self.scalar(loader, event, line), line, 1, event.anchor)
                elif isinstance(event, yaml.AliasEvent):
                    self.alias(event.anchor or "", line)
                elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    self.open(event, line)
                elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    self.close()
        finally:
            loader.dispose()
        return self.root

    def scalar(self, loader: Any, event: yaml.ScalarEvent, line: int) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _MERGE:
            return _MERGE_KEY
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
        constructor = loader.yaml_constructors.get(tag, loader.yaml_constructors.get(None))
        try:
            value = constructor(loader, node)
        except (ValueError, TypeError, ArithmeticError, AttributeError, LookupError):
            raise self.fail(line, f"{short(event.value)} cannot be read as {_TAG_WORDS.get(tag, tag)}") from None
        if isinstance(value, str) and not value.isascii() and _SURROGATE.search(value):
            try:  # a pair written as two escapes (the pure-Python parser keeps the halves): one character
                value = value.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeDecodeError:
                raise self.fail(
                    line, f"the text {short(value)} holds half of a surrogate pair, which is not a character"
                ) from None
        return value

    def alias(self, anchor: str, line: int) -> None:
        if anchor not in self.anchors:
            raise self.fail(line, f"the alias *{anchor} has no anchor &{anchor}")
        value, weight = self.anchors[anchor]
        if weight is None:
            raise self.fail(line, f"the alias *{anchor} is inside the value it stands for")
        self.aliased = True
        self.add(value, line, weight, None)

    def open(self, event: yaml.CollectionStartEvent, line: int) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(line, f"mappings and lists are nested more than {MAX_DEPTH} deep")
        value: MarkedMap | MarkedList
        if isinstance(event, yaml.MappingStartEvent):
            value = MarkedMap()
            value.key_lines = {}
        else:
            value = MarkedList()
            value.item_lines = []
        value.line = line
        self.anchor(event.anchor, value, None, line)
        self.stack.append(_Open(value, event.anchor))

    def close(self) -> None:
        done = self.stack.pop()
        value = done.value
        if isinstance(value, MarkedMap):
            # As YAML has it: a key written in the mapping wins over a merged one, and an earlier merge over a
            # later.
            for base in done.merged:
                for key, item in base.items():
                    if key not in value:
                        value[key] = item
                        value.key_lines[key] = base.key_lines.get(key, value.line)
        if done.anchor is not None:
            self.anchors[done.anchor] = (value, done.weight)
        self.values -= done.weight - 1  # its contents were counted as they came; add() counts the whole
        self.add(value, value.line, done.weight, None, anchored=True)

    def anchor(self, name: str | None, value: Any, weight: int | None, line: int) -> None:
        if name is None:
            return
        if name in self.anchors:
            raise self.fail(line, f"the anchor &{name} is defined twice")
        self.anchors[name] = (value, weight)

    def add(self, value: Any, line: int, weight: int, anchor: str | None, anchored: bool = False) -> None:
        """Put a value in the mapping or list being read (or make it the document)."""
        if value is _MERGE_KEY and (not self.stack or self.stack[-1].key is not None):
            value = "<<"  # `<<` merges only as a key
        if not anchored:
            self.anchor(anchor, value, weight, line)
        self.values += weight
        if self.values > MAX_VALUES:
            if not self.aliased:
                raise self.fail(line, f"the document holds more than {MAX_VALUES:,} values: split it into files")
            raise self.fail(
                line,
                f"the document holds more than {MAX_VALUES:,} values once its aliases (*name) are expanded; "
                "write fewer aliases, or split the file",
            )
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        parent.weight += weight
        if isinstance(parent.value, MarkedList):
            parent.value.append(value)
            parent.value.item_lines.append(line)
        elif parent.key is None:
            self.key(parent, value, line)
        else:
            self.entry(parent, value)

    def key(self, parent: _Open, key: Any, line: int) -> None:
        mapping = parent.value
        assert isinstance(mapping, MarkedMap)
        parent.key, parent.key_line = key, line
        if key is _MERGE_KEY:
            return
        if not isinstance(key, str):
            self.problems.append(Problem(self.source, line, f"keys must be text, got {kind_of(key)} {short(key)}"))
            parent.key = _SKIPPED
        elif key in mapping:
            self.problems.append(
                Problem(self.source, line, f"duplicate key '{key}' (first given on line {mapping.key_lines[key]})")
            )
            parent.key = _SKIPPED

    def entry(self, parent: _Open, value: Any) -> None:
        mapping = parent.value
        assert isinstance(mapping, MarkedMap)
        key, parent.key = parent.key, None
        if key is _MERGE_KEY:  # `<<: *base` or `<<: [*a, *b]`
            bases = value if isinstance(value, MarkedList) else [value]
            for base in bases:
                if isinstance(base, MarkedMap):
                    parent.merged.append(base)
                else:
                    self.problems.append(
                        Problem(self.source, parent.key_line, "'<<' merges a mapping, or a list of mappings")
                    )
        elif key is not _SKIPPED:
            mapping[key] = value
            mapping.key_lines[key] = parent.key_line
