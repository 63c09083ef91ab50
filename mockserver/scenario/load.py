"""Loading scenarios: from files and folders, from YAML text, from Python data. Every problem is reported as
`file:line: message`, and all problems of a load are collected, not only the first: a person fixing a file
wants the whole list. Nothing is silently dropped: unknown keys, duplicate keys and duplicate names are all
errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .documents import ScenarioChecks
from .marked_yaml import parse_yaml
from .model import Scenario
from .problems import LoadResult, Problem, ScenarioError, short

_SURROGATE = re.compile(r"[\ud800-\udfff]")

__all__ = [
    "BUNDLED",
    "LoadResult",
    "Problem",
    "ScenarioError",
    "load_data",
    "load_paths",
    "load_text",
    "scenario_files",
]

SCENARIO_SUFFIXES = (".yaml", ".yml")
_PACKAGE = Path(__file__).resolve().parent.parent
BUNDLED = _PACKAGE / "scenarios"
if not BUNDLED.is_dir():  # a source checkout or editable install: the top-level folder
    BUNDLED = _PACKAGE.parent / "scenarios"

# --- entry points -----------------------------------------------------------------------------------------


def load_text(text: str, source: str = "<inline>", *, snippet: bool = False) -> LoadResult:
    """Validate scenario YAML (JSON is YAML too). A file must hold `scenarios:`; with `snippet`, one scenario
    or a list of them is accepted as well."""
    result = LoadResult()
    data, parsed, result.values = parse_yaml(text, source, result.problems)
    if parsed:
        checker = ScenarioChecks(source, result.problems)
        result.scenarios = checker.snippet(data) if snippet else checker.document(data)
        result.parts = checker.parts
    result.files.append((source, len(result.scenarios)))
    return _check_names(result)


def load_data(data: Any, source: str = "<inline>") -> LoadResult:
    """Validate scenarios given as Python data — one scenario, a list of them, or `{"scenarios": [...]}` —
    with the same checks and messages as files."""
    result = LoadResult()
    bad = _lone_surrogate(data)
    if bad is not None:
        result.problems.append(Problem(source, 0, f"the text {short(bad)} holds half of a surrogate pair"))
    else:
        result.scenarios = ScenarioChecks(source, result.problems).snippet(data)
    result.files.append((source, len(result.scenarios)))
    return _check_names(result)


def _lone_surrogate(data: Any) -> str | None:
    """The first text in Python data (keys included) that is not valid Unicode: it could never be sent. YAML
    text is checked as it is read."""
    pending, seen = [data], set()
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                return value
        elif isinstance(value, (dict, list, tuple)) and id(value) not in seen:  # all alive: ids stay theirs
            seen.add(id(value))
            pending.extend(value)
            if isinstance(value, dict):
                pending.extend(value.values())
    return None


def scenario_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Expand files and folders (recursively, `*.yaml`/`*.yml`, sorted by path) into the files to load."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # Hidden files and folders are skipped: editors' swap files, and the `..data` copies a Kubernetes
            # ConfigMap mount keeps beside its files, which would otherwise load every scenario twice.
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SCENARIO_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                problems.append(Problem(str(path), 0, "no scenario files (*.yaml, *.yml) in this folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), 0, _not_found(path)))
    return files, problems


def _not_found(path: Path) -> str:
    """Why a path is neither a file nor a folder to read."""
    try:
        path.stat()
    except OSError as exc:
        if path.is_symlink():
            return "a symbolic link to nothing (or to a loop of links)"
        return "no such file or folder" if isinstance(exc, FileNotFoundError) else f"cannot read: {exc.strerror}"
    return "not a file or a folder (a device, a pipe or a socket)"


def load_paths(paths: Iterable[str | Path]) -> LoadResult:
    """Load every scenario file under `paths`, in order; names must be unique across all of them."""
    files, problems = scenario_files(paths)
    result = LoadResult(problems=problems)
    for path in files:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            result.problems.append(Problem(source, 0, "not UTF-8 text"))
            continue
        except OSError as exc:
            result.problems.append(Problem(source, 0, f"cannot read: {exc.strerror or exc}"))
            continue
        data, parsed, values = parse_yaml(text, source, result.problems)
        if not parsed:
            continue
        checker = ScenarioChecks(source, result.problems)
        scenarios = checker.document(data)
        result.values, result.parts = max(result.values, values), max(result.parts, checker.parts)
        result.scenarios.extend(scenarios)
        result.files.append((source, len(scenarios)))
    return _check_names(result)


def _check_names(result: LoadResult) -> LoadResult:
    """Names must be unique across everything loaded; then every problem is put in reading order (file by
    file, line by line)."""
    seen: dict[str, Scenario] = {}
    for scenario in result.scenarios:
        first = seen.get(scenario.name)
        if first is not None:
            result.problems.append(
                Problem(
                    scenario.source,
                    scenario.line,
                    f"duplicate scenario name '{scenario.name}' (first defined at {first.where})",
                )
            )
        else:
            seen[scenario.name] = scenario
    order = {source: index for index, source in enumerate(dict.fromkeys(p.source for p in result.problems))}
    result.problems.sort(key=lambda problem: (order[problem.source], problem.line))
    return result
