#!/usr/bin/env python3
"""Run W5 (w5_agent_loop.py) against mockserver and its bare-aiohttp baseline: a fresh server for every run,
the targets interleaved round by round (a burst of load elsewhere on a shared machine then hits every target
alike), medians of the rounds. Raw results go where the shared suite's run_all.py puts its own:
OUT/<target>/w5-r<N>.json, and OUT/summary.json.

  .venv/bin/python bench/run_w5.py --out /tmp/bench-out/w5
  .venv/bin/python bench/run_w5.py --out /tmp/w5 --targets mockserver,mockserver-asyncio,w5-baseline --repeats 3

Targets: `mockserver` (serving bench/scenarios.yaml with --python, its event loop chosen as `serve` chooses
it), `mockserver-asyncio` (the same with --loop asyncio), `w5-baseline` (w5_baseline.py with
--baseline-python: the coalescing baseline's design for the same four turns).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
METRICS = (
    "conversations_per_s",
    "turns_per_s",
    "server_cpu_s_per_conversation",
    "server_cpu_ms_per_turn",
    "response_bytes_per_conversation",
    "client_cpu_share",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def commands(args: argparse.Namespace, port: int) -> dict[str, list[str]]:
    serve = [args.python, "-m", "mockserver", "serve", "--port", str(port), "--scenarios", args.scenarios]
    serve += ["--log-level", args.log_level]
    return {
        "mockserver": serve,
        "mockserver-asyncio": [*serve, "--loop", "asyncio"],
        "w5-baseline": [args.baseline_python, str(HERE / "w5_baseline.py"), "--port", str(port)],
    }


def versions(args: argparse.Namespace) -> dict[str, str]:
    def ask(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except OSError as exc:
            return f"unavailable: {exc}"
        return done.stdout.strip() or done.stderr.strip()[-200:]

    mockserver = ask([args.python, "-m", "mockserver", "--version"])
    aiohttp = "import aiohttp, sys; print('aiohttp', aiohttp.__version__, '/ python', sys.version.split()[0])"
    return {
        "mockserver": mockserver,
        "mockserver-asyncio": f"{mockserver} (--loop asyncio)",
        "w5-baseline": ask([args.baseline_python, "-c", aiohttp]),
    }


def start(command: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}); see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(0.3)  # as the shared suite does: let the server finish starting
                return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"the server did not listen within 40 s; see {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL after 5 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def run_once(args: argparse.Namespace, target: str, raw: Path) -> dict[str, object]:
    port = free_port()
    proc = start(commands(args, port)[target], port, raw.parent / "server-w5.log")
    try:
        load = [sys.executable, str(HERE / "w5_agent_loop.py"), "--base-url", f"http://127.0.0.1:{port}/v1"]
        load += ["--server-pid", str(proc.pid), "--json-out", str(raw)]
        load += ["--concurrency", str(args.concurrency), "--duration", str(args.duration)]
        load += ["--warmup", str(args.warmup)]
        done = subprocess.run(load, capture_output=True, text=True, timeout=args.duration + args.warmup + 120)
        if not raw.exists():
            return {"failed": f"rc={done.returncode}: {done.stderr.strip()[-300:]}"}
        result: dict[str, object] = json.loads(raw.read_text())
        return result
    finally:
        stop(proc)


def medians(results: list[dict[str, object]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in (*METRICS, "turn_ms.p50", "turn_ms.p99"):
        values: list[float] = []
        for result in results:
            value: object = result
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, (int, float)):
                values.append(value)
        out[key] = statistics.median(values) if values else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the folder of raw results (made if missing)")
    parser.add_argument("--targets", default="mockserver,w5-baseline")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round, 3 s measured after 1 s")
    parser.add_argument("--python", default=sys.executable, help="the interpreter mockserver is installed in")
    parser.add_argument("--baseline-python", default=sys.executable, help="an interpreter with aiohttp")
    parser.add_argument("--scenarios", default=str(HERE / "scenarios.yaml"))
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.duration, args.warmup = 1, 3.0, 1.0
    args.repeats = max(1, min(args.repeats, 20))
    targets = [name for name in args.targets.split(",") if name]
    known = commands(args, 0)
    unknown = [name for name in targets if name not in known]
    if unknown:
        raise SystemExit(f"unknown W5 target(s) {', '.join(unknown)}; known: {', '.join(known)}")
    out = Path(args.out)
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in targets}
    for round_ in range(1, args.repeats + 1):
        for name in targets:
            raw = out / name / f"w5-r{round_}.json"
            raw.parent.mkdir(parents=True, exist_ok=True)
            try:
                result = run_once(args, name, raw)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                result = {"failed": str(exc)[:300]}
            runs[name].append(result)
            brief = {key: result.get(key) for key in METRICS} if "failed" not in result else result["failed"]
            print(f"[{name}] w5 r{round_}: {json.dumps(brief)}", flush=True)
            time.sleep(1)
    summary = {name: medians([r for r in results if "failed" not in r]) for name, results in runs.items()}
    environment = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    reported = versions(args)
    document = {
        "environment": environment,
        "versions": {name: reported[name] for name in targets},
        "repeats": args.repeats,
        "args": vars(args),
        "summary": summary,
        "failed": {name: [r["failed"] for r in results if "failed" in r] for name, results in runs.items()},
    }
    (out / "summary.json").write_text(json.dumps(document, indent=1))
    print(f"\n# W5, medians of {args.repeats} round(s); raw: {out}")
    print("| target | conversations/s | server CPU ms/conversation | turn p50/p99 ms | client CPU share |")
    print("|---|---|---|---|---|")
    for name, values in summary.items():
        cpu = values["server_cpu_s_per_conversation"]
        cells = [
            f"{values['conversations_per_s'] or 0:,.0f}",
            "-" if cpu is None else f"{cpu * 1000:.2f}",
            f"{values['turn_ms.p50'] or 0:.1f}/{values['turn_ms.p99'] or 0:.1f}",
            f"{values['client_cpu_share'] or 0:.2f}",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
