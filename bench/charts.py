#!/usr/bin/env python3
"""Charts of one benchmark run, drawn from its raw results as SVG: horizontal bars, every value labelled.

  python3 bench/charts.py RESULTS_DIR OUT_DIR

RESULTS_DIR is the folder bench/run.sh wrote (--out), or a copy saved with `report.py --save`. Writes
w1.svg (streams/s, server CPU per 1,000 streams), w2.svg (time-to-first-token and gap errors, p50 and p99),
w3.svg (memory per open stream at the suite's size and at the second pass's), w4.svg (latency of a plain answer)
and w5.svg (the agent loop: conversations/s, server CPU per conversation) — each only when the run has its
results. A dashed line marks a bound where the performance targets (docs/benchmarks.md) set one. The same
results give the same bytes. Stdlib only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from results import (
    W1_CPU,
    W1_STREAMS,
    W2_500_GAP_P50,
    W2_500_GAP_P99,
    W2_500_TTFT_P50,
    W2_500_TTFT_P99,
    W2_GAP_P50,
    W2_GAP_P99,
    W2_TTFT_P50,
    W2_TTFT_P99,
    W3_BIG_KB,
    W3_BIG_STREAMS,
    W3_KB,
    W3_STREAMS,
    W4_P50,
    W4_P99,
    W5_CPU,
    W5_RATE,
    Metric,
    Results,
    name,
)

WIDTH, LABEL_W, BAR_W, ROW_H, BAR_H = 720, 230, 380, 22, 14
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
MOCKSERVER, OTHER = "#c4501b", "#6b7a8f"  # one target by colour, the rest alike
TIMES = "\N{MULTIPLICATION SIGN}"
SERIES = ("#2b6cb0", "#90b4d8")  # first and second figure of a row (p50, p99)


@dataclass
class Panel:
    """A titled group of bars: a row per target, one bar per series."""

    title: str
    unit: str
    series: list[str]
    rows: list[tuple[str, list[float | None]]] = field(default_factory=list)
    digits: int = 1
    mark: tuple[float, str] | None = None  # a dashed line at a bound, and what it is

    def height(self) -> int:
        legend = 18 if len(self.series) > 1 else 0
        return 26 + legend + sum(ROW_H * len(self.series) + 6 for _ in self.rows) + 8


def number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def draw(panel: Panel, top: int) -> list[str]:
    out = [f'<text x="12" y="{top + 16}" font-size="14" font-weight="bold">{escape(panel.title)}</text>']
    y = top + 26
    if len(panel.series) > 1:
        x = LABEL_W
        for index, series in enumerate(panel.series):
            out.append(f'<rect x="{x}" y="{y}" width="12" height="10" fill="{SERIES[index % len(SERIES)]}"/>')
            out.append(f'<text x="{x + 16}" y="{y + 9}" font-size="11">{escape(series)}</text>')
            x += 24 + 7 * len(series)
        y += 18
    values = [v for _, row in panel.rows for v in row if v is not None] + ([panel.mark[0]] if panel.mark else [])
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0

    def at(value: float) -> float:
        return LABEL_W + (value - low) / span * BAR_W

    first = y
    for label, row in panel.rows:
        block = ROW_H * len(panel.series)
        colour = MOCKSERVER if label == name("mockserver") else OTHER
        weight = ' font-weight="bold"' if colour == MOCKSERVER else ""
        out.append(f'<text x="{LABEL_W - 8}" y="{y + block / 2 + 4:.0f}" font-size="12"{weight} text-anchor="end">')
        out[-1] += f"{escape(label)}</text>"
        for index, value in enumerate(row):
            fill = colour if len(panel.series) == 1 else SERIES[index % len(SERIES)]
            bar_y = y + index * ROW_H + (ROW_H - BAR_H) / 2
            if value is None:
                out.append(f'<text x="{LABEL_W + 4}" y="{bar_y + 11:.0f}" font-size="11" fill="#777">no result</text>')
                continue
            left, right = sorted((at(0.0), at(value)))
            out.append(
                f'<rect x="{left:.1f}" y="{bar_y:.1f}" width="{max(right - left, 1.0):.1f}" height="{BAR_H}" '
                f'fill="{fill}"/>'
            )
            text = number(value, panel.digits) + (f" {panel.unit}" if panel.unit else "")
            out.append(f'<text x="{right + 4:.1f}" y="{bar_y + 11:.1f}" font-size="11">{escape(text)}</text>')
        y += block + 6
    if low < 0:
        out.append(f'<line x1="{at(0):.1f}" y1="{first}" x2="{at(0):.1f}" y2="{y}" stroke="#333" stroke-width="1"/>')
    if panel.mark:
        x = at(panel.mark[0])
        out.append(
            f'<line x1="{x:.1f}" y1="{first - 2}" x2="{x:.1f}" y2="{y}" stroke="#222" stroke-width="1" '
            'stroke-dasharray="4 3"/>'
        )
        out.append(f'<text x="{x + 3:.1f}" y="{y + 8}" font-size="10" fill="#222">{escape(panel.mark[1])}</text>')
    return out


def figure(title: str, note: str, panels: list[Panel]) -> str:
    height = 40 + sum(panel.height() + 12 for panel in panels) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" {FONT} role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="24" font-size="17" font-weight="bold">{escape(title)}</text>',
    ]
    top = 40
    for panel in panels:
        out += draw(panel, top)
        top += panel.height() + 12
    out.append(f'<text x="12" y="{height - 8}" font-size="10" fill="#555">{escape(note)}</text>')
    return "\n".join([*out, "</svg>", ""])


def panel(
    results: Results,
    title: str,
    metrics: list[Metric],
    targets: list[str],
    series: list[str] | None = None,
    digits: int = 1,
    unit: str = "",
) -> Panel:
    found = Panel(title, unit, series or [""], digits=digits)
    for target in targets:
        row = [results.value(metric, target) for metric in metrics]
        if any(value is not None for value in row):
            found.rows.append((name(target), row))
    return found


def note(results: Results, part: str) -> str:
    """The footnote: when, on what, of how many runs."""
    env = results.environment()
    when = str(env.get("date", ""))[:10]
    repeats = results.meta(part).get("repeats", "?")
    machine = f"{env.get('cpus', '?')} CPUs, Python {env.get('python', '?')}"
    return f"{when}, {machine}; medians of {repeats} fresh-server run(s)"


def bound(results: Results, metric: Metric, target: str, factor: float, text: str) -> tuple[float, str] | None:
    value = results.value(metric, target)
    return None if value is None else (value * factor, text)


def charts(results: Results) -> dict[str, str]:
    """File name -> SVG text, for every workload the results hold."""
    suite, big, w5 = results.targets("suite"), results.targets("w3-big"), results.targets("w5")
    out: dict[str, str] = {}
    coalesce = "baseline-aiohttp-coalesce"
    if any(results.value(W1_STREAMS, t) is not None for t in suite):
        streams = panel(results, "Streams per second (more is better)", [W1_STREAMS], suite, digits=0)
        streams.mark = bound(results, W1_STREAMS, coalesce, 0.85, f"0.85{TIMES} coalesced")
        cpu = panel(results, "Server CPU seconds per 1,000 streams (less is better)", [W1_CPU], suite, digits=2)
        cpu.unit = "s"
        cpu.mark = bound(results, W1_CPU, coalesce, 1.2, f"1.2{TIMES} coalesced")
        out["w1.svg"] = figure("W1 burst: 200 chunks a stream, no delays", note(results, "suite"), [streams, cpu])
    levels = [
        (100, (W2_TTFT_P50, W2_TTFT_P99), (W2_GAP_P50, W2_GAP_P99)),
        (500, (W2_500_TTFT_P50, W2_500_TTFT_P99), (W2_500_GAP_P50, W2_500_GAP_P99)),
    ]
    panels = []
    for level, ttft, gap in levels:
        first = panel(results, f"Time to first token, error at {level} streams", list(ttft), suite, ["p50", "p99"])
        between = panel(results, f"Gap between chunks, error at {level} streams", list(gap), suite, ["p50", "p99"])
        if level == 100:  # the targets' bounds: within 3 ms of the one-write baseline at p50, gaps within 2 ms at p99
            first.mark = bound(results, W2_TTFT_P50, "baseline-aiohttp", 1.0, "one write's p50 + 3 ms")
            if first.mark:
                first.mark = (first.mark[0] + 3.0, first.mark[1])
            between.mark = (2.0, "2 ms")
        for found in (first, between):
            found.unit = "ms"
            if found.rows:
                panels.append(found)
    if panels:
        out["w2.svg"] = figure(
            "W2 timing: first token after 100 ms, then 50 chunks 20 ms apart",
            note(results, "suite") + "; + is late",
            panels,
        )
    memory = []
    for streams, metric, targets in ((W3_STREAMS, W3_KB, suite), (W3_BIG_STREAMS, W3_BIG_KB, big)):
        counts = [v for t in targets if (v := results.value(streams, t)) is not None]
        found = panel(results, f"Memory per open stream, {max(counts, default=0):,.0f} open", [metric], targets)
        found.unit = "KB"
        if found.rows:
            memory.append(found)
    if memory:
        memory[-1].mark = (16.0, "16 KB")
        out["w3.svg"] = figure(
            "W3 concurrency: streams open together, a chunk a second", note(results, "suite"), memory
        )
    latency = panel(results, "Latency of a plain answer (less is better)", [W4_P50, W4_P99], suite, ["p50", "p99"], 2)
    if latency.rows:
        latency.unit = "ms"
        latency.mark = bound(results, W4_P50, "baseline-aiohttp", 1.25, f"1.25{TIMES} one write, p50")
        out["w4.svg"] = figure("W4 latency: the 200-chunk answer without streaming", note(results, "suite"), [latency])
    if w5:
        rate = panel(results, "Conversations per second (more is better)", [W5_RATE], w5, digits=0)
        rate.mark = bound(results, W5_RATE, "w5-baseline", 0.85, f"0.85{TIMES} coalesced")
        cpu = panel(results, "Server CPU per conversation (less is better)", [W5_CPU], w5, digits=2)
        cpu.unit = "ms"
        cpu.mark = bound(results, W5_CPU, "w5-baseline", 1.2, f"1.2{TIMES} coalesced")
        title = "W5 agent loop: 4 streamed turns a conversation, 64 at a time"
        out["w5.svg"] = figure(title, note(results, "w5"), [rate, cpu])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="the folder bench/run.sh wrote (its --out)")
    parser.add_argument("out", help="the folder the SVG files go to (made if missing)")
    args = parser.parse_args()
    drawn = charts(Results(args.results))
    if not drawn:
        raise SystemExit(f"{args.results}: no results to draw")
    target = Path(args.out)
    target.mkdir(parents=True, exist_ok=True)
    for file, svg in drawn.items():
        (target / file).write_text(svg, encoding="utf-8")
    print(f"{len(drawn)} charts written to {target}: {', '.join(drawn)}", file=sys.stderr)


if __name__ == "__main__":
    main()
