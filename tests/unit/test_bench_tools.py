"""The benchmark's tooling: the report's verdicts and the charts come from a folder of raw results alone (a
tiny one made here), and bench/scenarios.yaml answers W5's agent loop — each of its four turns chosen by
conversation matching — as its load script and the W5 baseline drive it."""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mockserver import load_paths

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = (
    "results",
    "report",
    "charts",
    "w5_agent_loop",
    "w5_baseline",
    "same_bytes",
    "request_profile",
    "instructions",
)
W5_TURNS = ["bench-w5-weather", "bench-w5-time", "bench-w5-answer", "bench-w5-follow-up"]


@pytest.fixture(scope="module")
def bench() -> dict[str, ModuleType]:
    """The bench scripts as modules (bench/ is on the path only while they are imported)."""
    sys.path.insert(0, str(BENCH))
    try:
        return {name: importlib.import_module(name) for name in SCRIPTS}
    finally:
        sys.path.remove(str(BENCH))
        for name in SCRIPTS:
            sys.modules.pop(name, None)


def write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def level(concurrency: int, ttft: float, gap_p99: float) -> dict[str, Any]:
    return {
        "concurrency": concurrency,
        "ttft_err_ms": {"p50": ttft, "p99": ttft + 5},
        "gap_err_ms": {"p50": 0.1, "p99": gap_p99},
    }


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """A run in bench/run.sh's layout: mockserver meets some targets and misses others."""
    out = tmp_path / "run"
    env = {"date": "2026-01-02T03:04:05", "cpus": 2, "python": "3.11.7", "kernel": "6.1", "cpu_model": "Xeon"}
    write(out / "suite" / "summary.json", {"environment": env, "versions": {"mockserver": "0.1.0"}, "repeats": 2})
    w1 = {"mockserver": (1800, 0.30), "baseline-aiohttp-coalesce": (2000, 0.28), "aimock": (1000, 1.0)}
    for target, (rate, cpu) in w1.items():
        for round_, wobble in ((1, 0.9), (2, 1.1)):
            result = {"streams_per_s": rate * wobble, "server_cpu_s_per_1000_streams": cpu * wobble}
            write(out / "suite" / target / f"w1-r{round_}.json", result)
    write(out / "suite" / "baseline-aiohttp" / "w1-r1.json", {"streams_per_s": 400, "server_cpu_s_per_1000_streams": 2})
    write(out / "suite" / "same-bytes" / "w1-r1.json", {"streams_per_s": 1750, "server_cpu_s_per_1000_streams": 0.25})
    write(out / "suite" / "same-bytes" / "w4-r1.json", {"latency_ms": {"p50": 0.40, "p99": 1.2}})
    for target, ttft, gap in (("mockserver", 30.0, 1.5), ("baseline-aiohttp", 20.0, 2.5), ("aimock", 60.0, 4.0)):
        write(out / "suite" / target / "w2-r1.json", {"levels": [level(100, ttft, gap), level(500, ttft * 2, gap)]})
    for target, kb, p50 in (("mockserver", 22.0, 0.46), ("baseline-aiohttp", 14.0, 0.40), ("aimock", 40.0, 0.7)):
        write(out / "suite" / target / "w3-r1.json", {"streams": 2000, "ok": 2000, "rss_per_open_stream_kb": kb})
        write(out / "suite" / target / "w4-r1.json", {"latency_ms": {"p50": p50, "p99": p50 * 3}})
        big = {"streams": 10000, "ok": 9990 if target == "aimock" else 10000, "rss_per_open_stream_kb": kb - 7}
        write(out / "w3-big" / target / "w3-r1.json", big)
    write(out / "suite" / "mockserver" / "w5-r9.json", {"failed": "not a workload of the suite"})
    w5 = {"mockserver": (500, 0.0021), "w5-baseline": (1000, 0.0005)}
    for target, (rate, cpu) in w5.items():
        write(out / "w5" / target / "w5-r1.json", {"conversations_per_s": rate, "server_cpu_s_per_conversation": cpu})
    write(out / "w5" / "summary.json", {"repeats": 1, "args": {"python": "/home/someone/.venv/bin/python"}})
    (out / "wall-time.txt").write_text("# wall time of the run: 754 s\n")
    return out


def report_lines(bench: dict[str, ModuleType], folder: Path) -> dict[str, tuple[str, str]]:
    return {line.label: (line.verdict, line.figure) for line in bench["report"].lines(bench["results"].Results(folder))}


def test_the_report_holds_each_target_against_its_baseline(
    bench: dict[str, ModuleType], results_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    verdicts = report_lines(bench, results_dir)
    assert verdicts["W1 server CPU per 1,000 streams / coalesced"] == ("PASS", "1.07×")  # medians of two rounds
    assert verdicts["W1 streams/s / coalesced"] == ("PASS", "0.90×")
    assert verdicts["W1 streams/s / aimock"] == ("MISS", "1.80×")
    assert verdicts["W4 p50 / one write per chunk"] == ("PASS", "1.15×")
    assert verdicts["W3 at 10,000 open streams"] == ("PASS", "15.0 KB")
    assert verdicts["W2@100 TTFT error p50 - one write per chunk"] == ("MISS", "+10.0 ms")
    assert verdicts["W2@100 gap error p99"] == ("PASS", "1.5 ms")
    assert verdicts["W5 conversations/s / coalesced (W1's budget)"] == ("MISS", "0.50×")
    assert verdicts["W5 server CPU per conversation / coalesced"] == ("MISS", "4.20×")
    # against the coalesced baseline at mockserver's own bytes: figures without a bound
    assert verdicts["W1 streams/s / same bytes, coalesced"] == ("", "1.03×")
    assert verdicts["W1 server CPU s per 1,000 streams / same bytes, coalesced"] == ("", "1.20×")
    assert verdicts["W4 non-streaming p50 / same bytes, coalesced"] == ("", "1.15×")

    monkeypatch.setattr(sys, "argv", ["report.py", str(results_dir), "--check"])
    with pytest.raises(SystemExit) as stopped:
        bench["report"].main()
    assert stopped.value.code == 1  # --check: a target missed
    printed = capsys.readouterr().out
    assert "the run took 12 min 34 s" in printed
    assert "PASS  W1 streams/s / coalesced" in printed
    assert "MISS  W1 streams/s / aimock" in printed


def test_several_folders_are_the_rounds_of_one_run(bench: dict[str, ModuleType], results_dir: Path) -> None:
    results = bench["results"].Results(results_dir, results_dir)
    assert results.count("suite", "mockserver", "w1") == 4
    assert results.meta("suite")["repeats"] == 4 and results.wall_time() == 1508
    assert report_lines(bench, results_dir) == {
        line.label: (line.verdict, line.figure) for line in bench["report"].lines(results)
    }


def test_a_target_without_results_reads_n_a(bench: dict[str, ModuleType], results_dir: Path) -> None:
    for folder in ("w3-big", "w5", "suite/aimock"):
        for file in (results_dir / folder).glob("**/*.json"):
            file.unlink()
    verdicts = report_lines(bench, results_dir)
    assert verdicts["W1 streams/s / aimock"][0] == "n/a"
    assert verdicts["W3 with many open streams"][0] == "n/a"
    assert verdicts["W5 conversations/s / coalesced (W1's budget)"][0] == "n/a"


def test_the_doc_section_and_the_saved_results(
    bench: dict[str, ModuleType], results_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nbefore\n<!-- results:begin -->\nold\n<!-- results:end -->\nafter\n")
    saved = tmp_path / "saved"
    monkeypatch.setattr(sys, "argv", ["report.py", str(results_dir), "--doc", str(doc), "--save", str(saved)])
    bench["report"].main()
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nbefore\n<!-- results:begin -->\n\n2026-01-02: 2 CPUs (Xeon)")
    assert text.endswith("|\n\n<!-- results:end -->\nafter\n") and "old" not in text
    assert "| W1 streams/s | **1,800** | 2,000 | 1,750 | 400 | 1,000 |" in text
    assert "| W5 conversations/s | **500** | 1,000 | — | — | — |" in text  # W5's baseline under "coalesced"
    # the copy reports the same, and keeps no machine's paths
    assert report_lines(bench, saved) == report_lines(bench, results_dir)
    assert json.loads((saved / "w5" / "summary.json").read_text())["args"]["python"] == "python"


def test_several_folders_are_saved_as_the_rounds_of_one_run(
    bench: dict[str, ModuleType], results_dir: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "saved"
    results = bench["results"].Results(results_dir, results_dir)
    bench["report"].save(results, saved)
    rounds = sorted(path.name for path in (saved / "suite" / "mockserver").glob("w1-r*.json"))
    assert rounds == ["w1-r1.json", "w1-r2.json", "w1-r3.json", "w1-r4.json"]  # the second folder's numbered on
    again = bench["results"].Results(saved)
    assert report_lines(bench, saved) == report_lines(bench, results_dir)
    assert again.meta("suite")["repeats"] == 4 and again.wall_time() == 1508


def test_the_charts_are_svg_made_again_byte_for_byte(bench: dict[str, ModuleType], results_dir: Path) -> None:
    results = bench["results"].Results(results_dir)
    drawn = bench["charts"].charts(results)
    assert sorted(drawn) == ["w1.svg", "w2.svg", "w3.svg", "w4.svg", "w5.svg"]
    for svg in drawn.values():
        root = ElementTree.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [node.text for node in ElementTree.fromstring(drawn["w1.svg"]).iter("{http://www.w3.org/2000/svg}text")]
    assert "1,800" in texts and "0.30 s" in texts and "mockserver" in texts
    assert bench["charts"].charts(bench["results"].Results(results_dir)) == drawn


async def test_bench_scenarios_answer_w5_turn_by_turn(bench: dict[str, ModuleType], aiohttp_client: Any) -> None:
    """Two conversations of W5's load script through the real app: its four turns select the four scenarios."""
    loaded = load_paths([BENCH / "scenarios.yaml"])
    loaded.raise_for_problems()
    names = [scenario.name for scenario in loaded.scenarios]
    assert {"bench-w1", "bench-w2", "bench-w3", "bench-w4", *W5_TURNS} <= set(names)

    from mockserver import Settings, create_app

    client = await aiohttp_client(create_app(loaded.scenarios, Settings()))
    result = await w5_run(bench, str(client.make_url("/v1")))
    assert result["errors"] == {} and result["conversations_started"] == 2
    journal = (await (await client.get("/_mock/requests")).json())["requests"]
    assert [entry["scenario"] for entry in journal] == W5_TURNS * 2


async def test_the_w5_baseline_answers_the_same_turns(bench: dict[str, ModuleType], aiohttp_client: Any) -> None:
    client = await aiohttp_client(bench["w5_baseline"].make_app())
    result = await w5_run(bench, str(client.make_url("/v1")))
    assert result["errors"] == {} and result["conversations_started"] == 2


async def test_the_same_bytes_server_sends_mockservers_bytes(bench: dict[str, ModuleType], aiohttp_client: Any) -> None:
    from mockserver import Settings, create_app

    answers = await bench["same_bytes"].recorded(BENCH / "scenarios.yaml")
    same = await aiohttp_client(bench["same_bytes"].app_for(answers))
    mock = await aiohttp_client(create_app(load_paths([BENCH / "scenarios.yaml"]).scenarios, Settings()))
    for model, stream in (("bench-w1", True), ("bench-w4", False)):
        body = {"model": model, "messages": [{"role": "user", "content": model}], "stream": stream}
        a, b = [await client.post("/v1/chat/completions", json=body) for client in (mock, same)]
        assert len(await a.read()) == len(await b.read())  # the same bytes but for the ids, of the same length
        assert {name.lower() for name in a.headers} == {name.lower() for name in b.headers}


async def w5_run(bench: dict[str, ModuleType], base_url: str) -> dict[str, Any]:
    """The load script's own run, one conversation at a time, two in all, in a fifth of a second."""
    args = argparse.Namespace(
        base_url=base_url,
        server_pid=None,
        model="bench-w5",
        concurrency=1,
        duration=0.2,
        warmup=0.0,
        max_conversations=2,
        timeout=10.0,
    )
    result: dict[str, Any] = await bench["w5_agent_loop"].run(args)
    return result


def test_instructions_starts_each_target_as_the_bench_does(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    script = bench["instructions"]
    args = argparse.Namespace(
        target="mockserver", python="py", scenarios="s.yaml", loop="asyncio", serve_options="--log-level warning"
    )
    serve = ["py", "-m", "mockserver", "serve", "--port", "9", "--scenarios", "s.yaml", "--loop", "asyncio"]
    assert script.command(args, 9) == [*serve, "--log-level", "warning"]
    args.loop, args.serve_options = "", ""  # serve's own choice of loop
    assert script.command(args, 9) == serve[:-2]
    args.target, args.suite = "coalesce", "suite"
    assert script.command(args, 9) == [
        "py",
        str(Path("suite/baselines/baseline_aiohttp.py")),
        "--port",
        "9",
        "--coalesce",
    ]
    args.target, args.suite = "baseline", None
    with pytest.raises(SystemExit, match="needs --suite"):
        script.command(args, 9)
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("events: Ir\nsummary: 0\nfn=x\n1 5\ntotals: 123456\n")
    assert script.totals(dump) == 123456


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instructions_counts_a_request_the_same_twice() -> None:
    """The point of counting instructions: two runs agree within a fraction of a percent, on a busy machine too."""
    command = [sys.executable, str(BENCH / "instructions.py"), "--workload", "w4", "--requests", "20"]
    counts = [
        json.loads(subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout)
        for _ in range(2)
    ]
    first, second = (count["instructions_per_request"] for count in counts)
    assert counts[0]["requests"] == 20 and first > 100_000
    assert abs(first - second) < first * 0.01
