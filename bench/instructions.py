#!/usr/bin/env python3
"""What one request costs the server in instructions: the server runs under valgrind's callgrind, which counts
the instructions it executes (its own and the interpreter's, not the kernel's) while this script sends it
requests one at a time. The count is the same from run to run within about 0.1 %, however busy the machine:
it tells a change of 1 % from noise, which no timing on shared cores can.

  .venv/bin/python bench/instructions.py                          # W1-like streams, mockserver
  .venv/bin/python bench/instructions.py --workload w4            # W4-like whole answers
  .venv/bin/python bench/instructions.py --workload w5            # W5 conversations (4 requests each)
  .venv/bin/python bench/instructions.py --target coalesce --suite SUITE   # the suite's baselines
  .venv/bin/python bench/instructions.py --target same-bytes      # bare aiohttp at mockserver's bytes

Targets: mockserver (on the asyncio loop unless --loop says otherwise, as the baselines are), baseline and
coalesce (the suite's bare aiohttp app, one write per chunk or coalesced; --suite names the suite), same-bytes
(bench/same_bytes.py) and, for w5, w5-baseline (bench/w5_baseline.py). Needs valgrind; loopback only, bounded
in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from request_profile import HERE, drive, free_port, wait_ready

STARTUP_SECONDS = 120  # an interpreter under callgrind imports about fifty times slower


def command(args: argparse.Namespace, port: int) -> list[str]:
    """The target's server, listening on `port`."""
    scenarios = ["--scenarios", args.scenarios]
    if args.target == "mockserver":
        loop = ["--loop", args.loop] if args.loop else []  # empty: serve's own choice (or a version without --loop)
        serve = [args.python, "-m", "mockserver", "serve", "--port", str(port), *scenarios, *loop]
        return serve + shlex.split(args.serve_options)
    if args.target in ("baseline", "coalesce"):
        if args.suite is None:
            raise SystemExit(f"--target {args.target} needs --suite (the shared bench suite's folder)")
        app = [args.python, str(Path(args.suite) / "baselines" / "baseline_aiohttp.py"), "--port", str(port)]
        return app + (["--coalesce"] if args.target == "coalesce" else [])
    if args.target == "same-bytes":
        return [args.python, str(HERE / "same_bytes.py"), "--port", str(port), *scenarios]
    return [args.python, str(HERE / "w5_baseline.py"), "--port", str(port)]


def callgrind(*argv: str) -> None:
    subprocess.run(["callgrind_control", *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def conversations(port: int, count: int) -> int:
    """`count` W5 conversations, one after another on one connection; the requests they made."""
    import w5_agent_loop

    async def talk() -> None:
        host, _, path = w5_agent_loop.endpoint(f"http://127.0.0.1:{port}/v1")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(count):
                record: dict[str, list[float]] = {"latency": [], "bytes": []}
                await w5_agent_loop.conversation(reader, writer, host, path, w5_agent_loop.MODEL, record)
        finally:
            writer.close()

    asyncio.run(talk())
    return w5_agent_loop.TURNS * count


def totals(out: Path) -> int:
    """The instructions counted between instrumentation on and the dump (the dump's `totals:` line)."""
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {out}")


TARGETS = {  # the workloads each target answers
    "mockserver": ("w1", "w4", "w5"),
    "baseline": ("w1", "w4"),
    "coalesce": ("w1", "w4"),
    "same-bytes": ("w1", "w4"),
    "w5-baseline": ("w5",),
}


def count_instructions(args: argparse.Namespace) -> tuple[int, int]:
    """(requests, instructions) of one measurement: the server starts under callgrind with counting off, is warmed
    up, counts while the requests are sent one at a time, and dumps the count."""
    model = f"bench-{args.workload}"
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": model}], "stream": args.workload == "w1"},
        separators=(",", ":"),
    ).encode()
    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        proc = subprocess.Popen([*valgrind, *command(args, port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port, proc, STARTUP_SECONDS)
            pid = str(proc.pid)
            if args.workload == "w5":
                conversations(port, 4)  # warm-up: imports, first requests, caches
                callgrind("--instr=on", pid)
                requests = conversations(port, args.requests)
            else:
                drive(port, body, 30, 1)
                callgrind("--instr=on", pid)
                drive(port, body, args.requests, 1)
                requests = args.requests
            callgrind("--instr=off", pid)
            callgrind("--dump", pid)
            return requests, totals(Path(f"{out}.1"))
        finally:
            proc.terminate()
            proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="mockserver", choices=tuple(TARGETS))
    parser.add_argument("--workload", default="w1", choices=("w1", "w4", "w5"))
    parser.add_argument("--requests", type=int, default=None, help="requests counted (w5: conversations; 200, 25)")
    parser.add_argument("--suite", default=None, help="the shared bench suite's folder (for baseline and coalesce)")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--scenarios", default=str(HERE / "scenarios.yaml"))
    parser.add_argument("--loop", default="asyncio", help="mockserver's --loop (default asyncio, as the baselines')")
    parser.add_argument("--serve-options", default="", help="more options for mockserver serve: '--log-level warning'")
    args = parser.parse_args()
    if args.workload not in TARGETS[args.target]:
        parser.error(f"{args.target} answers {', '.join(TARGETS[args.target])}, not {args.workload}")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    args.requests = max(1, min(args.requests or (25 if args.workload == "w5" else 200), 10_000))
    requests, instructions = count_instructions(args)
    result = {"target": args.target, "workload": args.workload, "requests": requests}
    print(json.dumps({**result, "instructions_per_request": round(instructions / requests)}))


if __name__ == "__main__":
    main()
