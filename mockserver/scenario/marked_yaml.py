"""YAML read with line numbers: every mapping and list remembers where each of its keys and items was written,
so that every problem can be reported as `file:line: message`."""

from __future__ import annotations

from typing import Any

import yaml

from .problems import Problem, kind_of, short

_MERGE = "tag:yaml.org,2002:merge"


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


def parse_yaml(text: str, source: str, problems: list[Problem]) -> tuple[Any, bool]:
    """The document as Python data with line numbers, and whether it parsed at all."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return (None if node is None else _convert(loader, node, source, problems, {})), True
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        problems.append(Problem(source, mark.line + 1 if mark else 0, f"YAML syntax error: {what}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(source, 0, f"YAML error: {exc}"))
    finally:
        loader.dispose()
    return None, False


def _convert(
    loader: yaml.SafeLoader, node: yaml.Node, source: str, problems: list[Problem], done: dict[int, Any]
) -> Any:
    """A node as Python data. Each node is converted once (`done`): an alias shares its anchor's value, so a
    document that refers to itself, or nests aliases to blow up in size, costs no more than it is long."""
    if id(node) in done:
        return done[id(node)]
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = done[id(node)] = MarkedMap()
        result.line, result.key_lines = line, {}
        merged: list[MarkedMap] = []
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:  # `<<: *base` or `<<: [*a, *b]`
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for merge_node in sources:
                    base = _convert(loader, merge_node, source, problems, done)
                    if isinstance(base, MarkedMap):
                        merged.append(base)
                    else:
                        problems.append(Problem(source, key_line, "'<<' merges a mapping, or a list of mappings"))
                continue
            key = _convert(loader, key_node, source, problems, done)
            if not isinstance(key, str):
                problems.append(Problem(source, key_line, f"keys must be text, got {kind_of(key)} {short(key)}"))
                continue
            if key in result:
                problems.append(
                    Problem(source, key_line, f"duplicate key '{key}' (first given on line {result.key_lines[key]})")
                )
                continue
            result[key] = _convert(loader, value_node, source, problems, done)
            result.key_lines[key] = key_line
        # As YAML has it: a key written in the mapping wins over a merged one, and an earlier merge over a later.
        for base in merged:
            for key, value in base.items():
                if key not in result:
                    result[key] = value
                    result.key_lines[key] = base.key_lines.get(key, line)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = done[id(node)] = MarkedList()
        items.line, items.item_lines = line, [item.start_mark.line + 1 for item in node.value]
        items.extend(_convert(loader, item, source, problems, done) for item in node.value)
        return items
    return loader.construct_object(node, deep=True)
