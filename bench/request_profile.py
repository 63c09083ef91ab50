#!/usr/bin/env python3
"""What one request costs the server, function by function: `mockserver serve` runs under cProfile while this
script sends it requests, then the top of the profile is printed in microseconds per request.

  .venv/bin/python bench/request_profile.py              # W4-like: 3,000 non-streaming 200-chunk answers
  .venv/bin/python bench/request_profile.py --stream     # W1-like: 2,000 streams of 200 chunks, 8 at a time
  .venv/bin/python bench/request_profile.py --agent      # W5: agent-loop conversations for 5 s, 16 at a time
  .venv/bin/python bench/request_profile.py --top 40 --sort cumulative

Stdlib only, loopback only, bounded in count. cProfile slows every Python call about alike, so read the figures
as shares of a request, not as its wall time (the bench gives that).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The server, profiled from SIGUSR1 until it stops (the profile is written to argv[1]).
PROFILED = """
import cProfile, signal, sys
from mockserver.cli import main
profile, out = cProfile.Profile(), sys.argv[1]
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
sys.argv = ["mockserver", *sys.argv[2:]]
try:
    main()
finally:
    profile.disable()
    profile.dump_stats(out)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not listen within {seconds:g} s")


def drive(port: int, body: bytes, count: int, concurrency: int) -> float:
    """Send `count` requests on `concurrency` keep-alive connections; the seconds it took."""
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-profile"}
    left = [count]
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            conn.request("POST", "/v1/chat/completions", body, headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(str(response.status))
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed: {errors[:3]}")
    return time.perf_counter() - started


def agent_loop(port: int, proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """W5 conversations (w5_agent_loop.py) for 5 s after a warm-up second, profiled; (requests, seconds)."""
    sys.path.insert(0, str(HERE))
    import asyncio

    import w5_agent_loop

    warm = argparse.Namespace(
        base_url=f"http://127.0.0.1:{port}/v1",
        server_pid=None,
        model=w5_agent_loop.MODEL,
        concurrency=16,
        duration=1.0,
        warmup=0.0,
        max_conversations=200_000,
        timeout=30.0,
    )
    asyncio.run(w5_agent_loop.run(warm))
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.2)
    warm.duration = 5.0
    result = asyncio.run(w5_agent_loop.run(warm))
    # every conversation started ends before run() returns, and all of them were profiled
    finished = int(result["conversations_started"]) - int(result["conversations_failed"])
    return w5_agent_loop.TURNS * finished, float(result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", action="store_true", help="W1-like streams instead of W4-like answers")
    parser.add_argument("--agent", action="store_true", help="W5 conversations (4 requests each) for 5 s")
    parser.add_argument("--requests", type=int, default=None, help="default 3,000 (2,000 with --stream)")
    parser.add_argument("--concurrency", type=int, default=None, help="default 1 (8 with --stream)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--scenarios", default=str(HERE / "scenarios.yaml"))
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--loop", default=None, help="serve's --loop (asyncio profiles the loop's Python too)")
    parser.add_argument("--save", default=None, help="keep the raw profile here (pstats format)")
    args = parser.parse_args()
    count = min(args.requests or (2000 if args.stream else 3000), 100_000)
    concurrency = args.concurrency or (8 if args.stream else 1)
    model = "bench-w1" if args.stream else "bench-w4"
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": model}], "stream": args.stream},
        separators=(",", ":"),
    ).encode()

    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        out = args.save or os.path.join(work, "server.prof")
        command = [args.python, "-c", PROFILED, out, "serve", "--port", str(port)]
        command += ["--scenarios", args.scenarios, "--log-level", args.log_level]
        command += ["--loop", args.loop] if args.loop else []
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port, proc)
            if args.agent:
                count, seconds = agent_loop(port, proc)
            else:
                drive(port, body, min(200, count), concurrency)  # warm-up: imports, first requests, caches
                proc.send_signal(signal.SIGUSR1)  # the profile starts here, without start-up and warm-up
                time.sleep(0.2)
                seconds = drive(port, body, count, concurrency)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        stats = pstats.Stats(out)
        total = count
        print(f"{count:,} requests in {seconds:.2f} s under the profiler; µs per request:")
        print(f"{stats.total_tt / total * 1e6:8.1f}  in all (every function profiled)")  # type: ignore[attr-defined]
        rows = []
        for (file, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
            where = f"{Path(file).parent.name}/{Path(file).name}:{line}({name})" if line else name
            rows.append((tottime if args.sort == "tottime" else cumtime, tottime, cumtime, calls, where))
        rows.sort(reverse=True)
        print(f"{'own µs':>8} {'cum µs':>8} {'calls/req':>9}  function")
        for _, tottime, cumtime, calls, where in rows[: args.top]:
            print(f"{tottime / total * 1e6:8.1f} {cumtime / total * 1e6:8.1f} {calls / total:9.2f}  {where}")


if __name__ == "__main__":
    main()
