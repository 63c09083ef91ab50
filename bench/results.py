"""A folder of raw benchmark results, as bench/run.sh leaves it, read for report.py and charts.py.

    OUT/suite/<target>/w1-r1.json ...   the shared suite's W1-W4 (run_all.py --out), and its summary.json
    OUT/w3-big/<target>/w3-r1.json ...  W3 again with many more open streams (run_all.py --out)
    OUT/w5/<target>/w5-r1.json ...      W5, the agent loop (run_w5.py --out)

Every figure is the median over a target's runs of one number of its raw results, so the report can be made
again from the folder alone, and a run cut short still reports what it measured. Stdlib only.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

# The order targets are shown in, and their names in tables and charts.
NAMES = {
    "mockserver": "mockserver",
    "mockserver-asyncio": "mockserver, asyncio loop",
    "baseline-aiohttp-coalesce": "bare aiohttp, coalesced",
    "baseline-aiohttp": "bare aiohttp, one write per chunk",
    "same-bytes": "bare aiohttp, same bytes",
    "baseline-aiohttp-uvloop": "bare aiohttp, uvloop",
    "aimock": "aimock (Node)",
    "w5-baseline": "bare aiohttp, coalesced (W5 turns)",
}
Key = tuple[str | int, ...]  # a path into a raw result; an int picks the W2 level of that concurrency


@dataclass(frozen=True)
class Metric:
    """One number of a workload's raw result: where it is, and how it reads."""

    part: str  # suite, w3-big or w5
    workload: str
    key: Key
    label: str
    unit: str = ""
    digits: int = 1

    def format(self, value: float | None) -> str:
        if value is None:
            return "—"
        text = f"{value:,.{self.digits}f}"
        return f"{text} {self.unit}".rstrip() if self.unit else text


W1_STREAMS = Metric("suite", "w1", ("streams_per_s",), "W1 streams/s", digits=0)
W1_CPU = Metric("suite", "w1", ("server_cpu_s_per_1000_streams",), "W1 server CPU s per 1,000 streams", "s", 2)
W2_TTFT_P50 = Metric("suite", "w2", ("levels", 100, "ttft_err_ms", "p50"), "W2@100 TTFT error p50", "ms")
W2_TTFT_P99 = Metric("suite", "w2", ("levels", 100, "ttft_err_ms", "p99"), "W2@100 TTFT error p99", "ms")
W2_GAP_P50 = Metric("suite", "w2", ("levels", 100, "gap_err_ms", "p50"), "W2@100 gap error p50", "ms", 2)
W2_GAP_P99 = Metric("suite", "w2", ("levels", 100, "gap_err_ms", "p99"), "W2@100 gap error p99", "ms")
W2_500_TTFT_P50 = Metric("suite", "w2", ("levels", 500, "ttft_err_ms", "p50"), "W2@500 TTFT error p50", "ms")
W2_500_TTFT_P99 = Metric("suite", "w2", ("levels", 500, "ttft_err_ms", "p99"), "W2@500 TTFT error p99", "ms")
W2_500_GAP_P50 = Metric("suite", "w2", ("levels", 500, "gap_err_ms", "p50"), "W2@500 gap error p50", "ms", 2)
W2_500_GAP_P99 = Metric("suite", "w2", ("levels", 500, "gap_err_ms", "p99"), "W2@500 gap error p99", "ms")
W3_KB = Metric("suite", "w3", ("rss_per_open_stream_kb",), "W3 memory per open stream", "KB")
W3_STREAMS = Metric("suite", "w3", ("streams",), "W3 streams", digits=0)
W3_BIG_KB = Metric("w3-big", "w3", ("rss_per_open_stream_kb",), "W3 memory per open stream", "KB")
W3_BIG_OK = Metric("w3-big", "w3", ("ok",), "W3 streams complete", digits=0)
W3_BIG_STREAMS = Metric("w3-big", "w3", ("streams",), "W3 streams", digits=0)
W4_P50 = Metric("suite", "w4", ("latency_ms", "p50"), "W4 non-streaming p50", "ms", 2)
W4_P99 = Metric("suite", "w4", ("latency_ms", "p99"), "W4 non-streaming p99", "ms", 2)
W5_RATE = Metric("w5", "w5", ("conversations_per_s",), "W5 conversations/s", digits=0)
W5_CPU = Metric("w5", "w5", ("server_cpu_s_per_conversation",), "W5 server CPU per conversation", "ms", 2)
W5_TURN_P50 = Metric("w5", "w5", ("turn_ms", "p50"), "W5 turn p50", "ms")
SCALE = {W5_CPU: 1000.0}  # seconds in the raw result, milliseconds shown


def dig(result: object, key: Key) -> float | None:
    """The number at `key` in a raw result, or None."""
    value = result
    for part in key:
        if isinstance(part, int) and isinstance(value, list):
            value = next(
                (level for level in value if isinstance(level, dict) and level.get("concurrency") == part), None
            )
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def round_number(path: Path) -> int:
    found = re.search(r"-r(\d+)\.json$", path.name)
    return int(found.group(1)) if found else 0


class Results:
    """The raw results under one folder, or under several taken as rounds of one run (runs made one after the
    other, e.g. with the targets' order alternating)."""

    def __init__(self, folder: str | Path, *more: str | Path) -> None:
        self.folders = [Path(f) for f in (folder, *more)]
        self.folder = self.folders[0]
        for found in self.folders:
            if not found.is_dir():
                raise SystemExit(f"{found}: no such folder")

    def runs(self, part: str, target: str, workload: str) -> list[dict[str, object]]:
        """The target's raw results of a workload, round by round (runs that failed left no file)."""
        found = []
        paths = [
            path
            for folder in self.folders
            for path in sorted((folder / part / target).glob(f"{workload}-r*.json"), key=round_number)
        ]
        for path in paths:
            try:
                result = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(result, dict) and "failed" not in result:
                found.append(result)
        return found

    def value(self, metric: Metric, target: str) -> float | None:
        """The median of the metric over the target's runs."""
        values = [v for r in self.runs(metric.part, target, metric.workload) if (v := dig(r, metric.key)) is not None]
        if not values:
            return None
        return statistics.median(values) * SCALE.get(metric, 1.0)

    def count(self, part: str, target: str, workload: str) -> int:
        return len(self.runs(part, target, workload))

    def targets(self, part: str) -> list[str]:
        """The targets with results in a part, in the order of NAMES, then by name."""
        found = {
            p.name
            for folder in self.folders
            if (folder / part).is_dir()
            for p in (folder / part).iterdir()
            if p.is_dir() and any(p.glob("*-r*.json"))
        }
        order = list(NAMES)
        return sorted(found, key=lambda name: (order.index(name) if name in order else len(order), name))

    def meta(self, part: str) -> dict[str, object]:
        """The part's summary.json (environment, versions; repeats added up over the folders), or {}."""
        found: list[dict[str, object]] = []
        for folder in self.folders:
            try:
                data = json.loads((folder / part / "summary.json").read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                found.append(data)
        if not found:
            return {}
        repeats = [r for data in found if isinstance(r := data.get("repeats"), int)]
        return {**found[0], "repeats": sum(repeats)} if repeats else found[0]

    def environment(self) -> dict[str, object]:
        for part in ("suite", "w3-big", "w5"):
            environment = self.meta(part).get("environment")
            if isinstance(environment, dict):
                return environment
        return {}

    def versions(self) -> dict[str, str]:
        versions: dict[str, str] = {}
        for part in ("w5", "w3-big", "suite"):
            found = self.meta(part).get("versions")
            if isinstance(found, dict):
                versions.update({str(k): str(v) for k, v in found.items()})
        return versions

    def wall_time(self) -> int | None:
        """The seconds the run took (bench/run.sh's wall-time.txt), added up over the folders."""
        total = None
        for folder in self.folders:
            try:
                found = re.search(r"(\d+) s", (folder / "wall-time.txt").read_text())
            except OSError:
                continue
            if found:
                total = (total or 0) + int(found.group(1))
        return total


def name(target: str) -> str:
    return NAMES.get(target, target)
