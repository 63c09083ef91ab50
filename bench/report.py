#!/usr/bin/env python3
"""The performance targets as ratios of one run: each line the measured ratio, its target, PASS or MISS.

  python3 bench/report.py RESULTS_DIR                  # the table and the ratios, as text
  python3 bench/report.py RESULTS_DIR --markdown       # the same as Markdown
  python3 bench/report.py RESULTS_DIR --doc docs/benchmarks.md --save docs/benchmarks/results
  python3 bench/report.py RESULTS_DIR --check          # exit status 1 when a target is missed
  python3 bench/report.py RUN1 RUN2 RUN3               # separate runs taken as the rounds of one

RESULTS_DIR is the folder bench/run.sh wrote (--out). --doc rewrites the part of a Markdown file between
`<!-- results:begin -->` and `<!-- results:end -->`; --save copies the raw JSON results (no server logs, absolute
paths cut to their last part; several runs as the rounds of one) so that the charts can be drawn again from
them. Every ratio is mockserver's median over the median of the target it is measured against, both from the
same run. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from results import (
    W1_CPU,
    W1_STREAMS,
    W2_500_TTFT_P50,
    W2_GAP_P99,
    W2_TTFT_P50,
    W3_BIG_KB,
    W3_BIG_OK,
    W3_BIG_STREAMS,
    W3_KB,
    W3_STREAMS,
    W4_P50,
    W5_CPU,
    W5_RATE,
    W5_TURN_P50,
    Metric,
    Results,
    name,
    round_number,
)

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
COALESCE, ONE_WRITE, AIMOCK, W5_BASELINE = "baseline-aiohttp-coalesce", "baseline-aiohttp", "aimock", "w5-baseline"
SAME_BYTES = "same-bytes"
W3_BUDGET_KB = 16.0
TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Line:
    """One performance target: what was measured, the figure compared, its bound, the verdict."""

    label: str
    figure: str  # the ratio, difference or value compared with the bound
    target: str
    verdict: str  # PASS, MISS, n/a, or "" for a figure shown without a target
    detail: str

    def text(self, width: int = 44) -> str:
        return (
            f"{self.verdict or '':4}  {self.label:<{width}} {self.figure:>9}   target {self.target:<14} {self.detail}"
        )


def ratio_line(
    results: Results, me: str, label: str, metric: Metric, other: str, bound: float | None, higher: bool
) -> Line:
    """`me`'s median over `other`'s: ≥ bound when higher is better, ≤ bound otherwise."""
    target = "—" if bound is None else f"{'≥' if higher else '≤'} {bound:.2f}{TIMES}"
    mine, theirs = results.value(metric, me), results.value(metric, other)
    if mine is None or theirs is None or theirs == 0:
        missing = ", ".join(name(t) for t, v in ((me, mine), (other, theirs)) if v is None) or name(other)
        return Line(label, "—", target, "n/a", f"no {metric.workload.upper()} result for {missing}")
    ratio = mine / theirs
    verdict = ""
    if bound is not None:
        verdict = "PASS" if (ratio >= bound if higher else ratio <= bound) else "MISS"
    return Line(label, f"{ratio:.2f}{TIMES}", target, verdict, f"{metric.format(mine)} against {metric.format(theirs)}")


def lines(results: Results, me: str = "mockserver") -> list[Line]:
    out = [
        ratio_line(results, me, "W1 server CPU per 1,000 streams / coalesced", W1_CPU, COALESCE, 1.2, False),
        ratio_line(results, me, "W1 streams/s / coalesced", W1_STREAMS, COALESCE, 0.85, True),
        ratio_line(results, me, "W1 streams/s / aimock", W1_STREAMS, AIMOCK, 2.0, True),
        ratio_line(results, me, "W4 p50 / one write per chunk", W4_P50, ONE_WRITE, 1.25, False),
    ]
    streams, ok, kb = (results.value(m, me) for m in (W3_BIG_STREAMS, W3_BIG_OK, W3_BIG_KB))
    label = f"W3 at {streams:,.0f} open streams" if streams else "W3 with many open streams"
    if streams is None or ok is None or kb is None:
        out.append(Line(label, "—", "all, ≤ 16 KB", "n/a", "no W3 result of the second pass"))
    else:
        met = ok >= streams and kb <= W3_BUDGET_KB
        detail = f"{ok:,.0f} of {streams:,.0f} complete, {kb:.1f} KB per stream"
        out.append(Line(label, f"{kb:.1f} KB", "all, ≤ 16 KB", "PASS" if met else "MISS", detail))
    mine, theirs = results.value(W2_TTFT_P50, me), results.value(W2_TTFT_P50, ONE_WRITE)
    label = "W2@100 TTFT error p50 - one write per chunk"
    if mine is None or theirs is None:
        out.append(Line(label, "—", "≤ +3 ms", "n/a", "no W2 result at 100 streams"))
    else:
        detail = f"{W2_TTFT_P50.format(mine)} against {W2_TTFT_P50.format(theirs)}"
        verdict = "PASS" if mine - theirs <= 3.0 else "MISS"
        out.append(Line(label, f"{mine - theirs:+.1f} ms", "≤ +3 ms", verdict, detail))
    gap = results.value(W2_GAP_P99, me)
    label = "W2@100 gap error p99"
    if gap is None:
        out.append(Line(label, "—", "≤ 2 ms", "n/a", "no W2 result at 100 streams"))
    else:
        theirs = results.value(W2_GAP_P99, ONE_WRITE)
        detail = "" if theirs is None else f"one write per chunk: {W2_GAP_P99.format(theirs)}"
        out.append(Line(label, f"{gap:.1f} ms", "≤ 2 ms", "PASS" if gap <= 2.0 else "MISS", detail))
    # W5 has no bound of its own among the targets: W1's budgets, the same design measured against the same baseline
    out.append(
        ratio_line(results, me, "W5 conversations/s / coalesced (W1's budget)", W5_RATE, W5_BASELINE, 0.85, True)
    )
    out.append(ratio_line(results, me, "W5 server CPU per conversation / coalesced", W5_CPU, W5_BASELINE, 1.2, False))
    # shown without a target: memory at the suite's own W3 size, and what uvloop buys when it was measured
    out.append(ratio_line(results, me, "W3 memory per stream / one write per chunk", W3_KB, ONE_WRITE, None, False))
    # against the coalescing baseline sending mockserver's own bytes: the gap that is not the bytes on the wire
    for metric in (W1_STREAMS, W1_CPU, W4_P50):
        if results.value(metric, SAME_BYTES) is not None:
            label = f"{metric.label} / same bytes, coalesced"
            out.append(ratio_line(results, me, label, metric, SAME_BYTES, None, False))
    asyncio = "mockserver-asyncio"
    for metric in (W1_STREAMS, W1_CPU, W4_P50, W5_RATE, W5_CPU):
        if me != asyncio and results.value(metric, asyncio) is not None:
            label = f"uvloop: {metric.label} / asyncio loop"
            out.append(ratio_line(results, me, label, metric, asyncio, None, False))
    return out


def table_rows(results: Results, columns: list[str]) -> list[list[str]]:
    """The issue's table: a row per figure, a column per target (W5's baseline under the coalesced column)."""

    def row(title: str, metric: Metric, digits: Callable[[float], str] | None = None) -> list[str]:
        cells = [title]
        for column in columns:
            target = W5_BASELINE if metric.workload == "w5" and column == COALESCE else column
            value = results.value(metric, target)
            cells.append("—" if value is None else (digits(value) if digits else metric.format(value)))
        return cells

    def kb(value: float) -> str:
        return f"{value:.1f} KB"

    rows = [
        row("W1 streams/s", W1_STREAMS),
        row("W1 server CPU s per 1,000 streams", W1_CPU, lambda v: f"{v:.2f}"),
        row("W2@100 TTFT error p50 (ms)", W2_TTFT_P50, lambda v: f"{v:.1f}"),
        row("W2@100 gap error p99 (ms)", W2_GAP_P99, lambda v: f"{v:.1f}"),
        row("W2@500 TTFT error p50 (ms)", W2_500_TTFT_P50, lambda v: f"{v:.1f}"),
    ]
    for streams, metric in ((W3_STREAMS, W3_KB), (W3_BIG_STREAMS, W3_BIG_KB)):
        counts = [v for t in columns if (v := results.value(streams, t)) is not None]
        if counts:
            rows.append(row(f"W3 memory per open stream, {max(counts):,.0f} open", metric, kb))
    ok = row("W3 streams complete", W3_BIG_OK, lambda v: f"{v:,.0f}")
    if any(cell != "—" for cell in ok[1:]):
        total = [v for t in columns if (v := results.value(W3_BIG_STREAMS, t)) is not None]
        ok[0] = f"W3 streams complete, of {max(total, default=0):,.0f}"
        rows.append(ok)
    rows += [
        row("W4 non-streaming p50 (ms)", W4_P50, lambda v: f"{v:.2f}"),
        row("W5 conversations/s", W5_RATE),
        row("W5 server CPU ms per conversation", W5_CPU, lambda v: f"{v:.2f}"),
        row("W5 turn p50 (ms)", W5_TURN_P50, lambda v: f"{v:.1f}"),
    ]
    return [r for r in rows if any(cell != "—" for cell in r[1:])]


def columns_of(results: Results) -> list[str]:
    present = set(results.targets("suite")) | set(results.targets("w3-big")) | set(results.targets("w5"))
    order = ["mockserver", "mockserver-asyncio", COALESCE, SAME_BYTES, ONE_WRITE, AIMOCK]
    columns = [t for t in order if t in present or (t == COALESCE and W5_BASELINE in present)]
    return columns + sorted(present - set(order) - {W5_BASELINE})


def heading(results: Results) -> str:
    env = results.environment()
    repeats = {results.meta(part).get("repeats") for part in ("suite", "w3-big", "w5")} - {None}
    rounds = "/".join(str(r) for r in sorted(repeats, key=str)) or "?"
    machine = f"{env.get('cpus', '?')} CPUs ({env.get('cpu_model') or 'unknown model'}), Linux {env.get('kernel', '?')}"
    when = str(env.get("date", "an unknown date"))[:10]
    wall = results.wall_time()
    took = f"; the run took {wall // 60} min {wall % 60} s" if wall is not None else ""
    return f"{when}: {machine}, Python {env.get('python', '?')}; medians of {rounds} fresh-server run(s){took}"


def text(results: Results, me: str) -> str:
    columns = columns_of(results)
    out = [f"# {heading(results)}"]
    for target, version in sorted(results.versions().items()):
        out.append(f"#   {target}: {version}")
    rows = [["workload", *(name(c) for c in columns)], *table_rows(results, columns)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out += ["", *("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows), ""]
    found = lines(results, me)
    width = max(len(line.label) for line in found)
    out += [line.text(width).rstrip() for line in found]
    return "\n".join(out)


def markdown(results: Results, me: str) -> str:
    columns = columns_of(results)
    out = [heading(results) + ".", ""]
    versions = results.versions()
    if versions:
        out += ["Versions: " + "; ".join(f"{t}: {v}" for t, v in sorted(versions.items())) + ".", ""]
    out += ["| workload | " + " | ".join(name(c) for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for r in table_rows(results, columns):
        out.append("| " + " | ".join([r[0], *(f"**{c}**" if i == 0 else c for i, c in enumerate(r[1:]))]) + " |")
    out += ["", "| target | measured | bound | verdict | figures |", "|---|---|---|---|---|"]
    for line in lines(results, me):
        out.append(f"| {line.label} | {line.figure} | {line.target} | {line.verdict or '—'} | {line.detail} |")
    return "\n".join(out)


def update_doc(path: Path, block: str) -> None:
    document = path.read_text()
    if BEGIN not in document or END not in document:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} section to write the results in")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n\n{block}\n\n{END}{tail}")  # blank lines: a table must end before the marker


def scrubbed(value: object) -> object:
    """The value with every absolute path cut to its last part (a machine's folders say nothing of the run)."""
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    if isinstance(value, str) and value.startswith("/") and " " not in value:
        return Path(value).name
    return value


def save(results: Results, into: Path) -> int:
    """Copy the raw JSON results (and the run's wall time) to `into`; the number of files copied. Several folders
    are saved as the rounds of one run: each one's rounds numbered on from the folder before it, the summaries'
    repeats and the wall times added up."""
    copied = 0
    for part in ("suite", "w3-big", "w5"):
        if (into / part).exists():
            shutil.rmtree(into / part)
        rounds: dict[tuple[str, str], int] = {}  # (target, workload): the rounds saved so far
        for folder in results.folders:
            base = dict(rounds)
            for source in sorted((folder / part).glob("*/*-r*.json"), key=round_number):
                target, workload = source.parent.name, source.name.split("-r")[0]
                number = base.get((target, workload), 0) + round_number(source)
                rounds[target, workload] = max(rounds.get((target, workload), 0), number)
                copied += _copy(source, into / part / target / f"{workload}-r{number}.json")
        summary = results.meta(part)
        if summary:
            (into / part).mkdir(parents=True, exist_ok=True)
            (into / part / "summary.json").write_text(json.dumps(scrubbed(summary), indent=1) + "\n")
            copied += 1
    wall = results.wall_time()
    if wall is not None:
        (into / "wall-time.txt").write_text(f"# wall time of the run: {wall} s\n")
    return copied


def _copy(source: Path, target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(scrubbed(json.loads(source.read_text())), indent=1) + "\n")
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "results", nargs="+", help="the folder bench/run.sh wrote (its --out); several: rounds of one run"
    )
    parser.add_argument("--target", default="mockserver", help="the target measured (default mockserver)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown instead of text")
    parser.add_argument("--doc", default=None, help="write the Markdown into this file's results section")
    parser.add_argument("--save", default=None, help="copy the raw JSON results to this folder")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a target is missed")
    args = parser.parse_args()
    results = Results(*args.results)
    print(markdown(results, args.target) if args.markdown else text(results, args.target))
    if args.doc:
        update_doc(Path(args.doc), markdown(results, args.target))
    if args.save:
        print(f"# {save(results, Path(args.save))} raw result files copied to {args.save}", file=sys.stderr)
    if args.check and any(line.verdict == "MISS" for line in lines(results, args.target)):
        sys.exit(1)


if __name__ == "__main__":
    main()
