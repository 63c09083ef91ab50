"""How exactly does a recording replay the timing it recorded? Record streams with uneven delays, replay them, and
compare when each event arrived.

    .venv/bin/python bench/replay_timing.py                  # 40 streams of 30 chunks, 10 at a time, a table
    .venv/bin/python bench/replay_timing.py --json           # the figures as JSON

Starts three processes as a user would: an upstream `mockserver serve` with seeded scenarios whose chunks come
at uneven times (runs due together, short and long gaps, a long time to first token), `mockserver record` in
front of it, then — once the recorder has stopped — `mockserver serve --scenarios RECORDING`. The same client
requests go through the recorder, then to the replay. Reported, in ms (+ is late):

- replay against the recording: each event's arrival against the time the recording says (`latency_ms`, then
  the chunks' `delay_ms`) — the replay's own timing error;
- replay against the record pass: each event's arrival against when the client saw it while recording (the time
  to first token, each gap between two events, and each event's time) — what a test that replays sees.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml


def scenarios(streams: int, chunks: int, seed: int) -> str:
    """Scenarios `s0` ... whose chunks come at uneven times: a third due with the one before, most 5-60 ms after
    it, a few 100-300 ms after; the first after 100-400 ms."""
    rng = random.Random(seed)
    items = []
    for index in range(streams):
        delays = [rng.uniform(100, 400)]
        for _ in range(chunks - 1):
            draw = rng.random()
            delays.append(0.0 if draw < 0.33 else rng.uniform(5, 60) if draw < 0.9 else rng.uniform(100, 300))
        chunk_list = [{"content": f" w{n}", "delay_ms": round(delay, 1)} for n, delay in enumerate(delays)]
        items.append({"name": f"s{index}", "match": {"contains": f"stream {index}."}, "chunks": chunk_list})
    return yaml.safe_dump({"scenarios": items}, sort_keys=False)


def body(index: int) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": f"stream {index}."}], "stream": True}


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", *args, "--port", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("OPENAI_BASE_URL="), first
    return process, first.strip().split("=", 1)[1].removesuffix("/v1")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)


async def stream(session: aiohttp.ClientSession, root: str, index: int) -> list[float]:
    """When each event of one stream arrived, in ms after the request was sent."""
    times: list[float] = []
    buffer = b""
    started = time.perf_counter()
    async with session.post(root + "/v1/chat/completions", json=body(index)) as response:
        async for data in response.content.iter_any():
            at = (time.perf_counter() - started) * 1000
            buffer += data
            while b"\n\n" in buffer:
                _, buffer = buffer.split(b"\n\n", 1)
                times.append(at)
    return times


async def run(root: str, streams: int, concurrency: int) -> list[list[float]]:
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(index: int) -> list[float]:
            async with gate:
                return await stream(session, root, index)

        return await asyncio.gather(*(one(index) for index in range(streams)))


def scheduled(recording: Path) -> dict[str, list[float]]:
    """Per recorded scenario (by the stream it answers), when the recording says each content chunk is due."""
    due = {}
    for scenario in yaml.safe_load(recording.read_text())["scenarios"]:
        at = scenario.get("latency_ms", 0)
        times = []
        for chunk in scenario["chunks"]:
            at += chunk.get("delay_ms", 0) if isinstance(chunk, dict) else 0
            times.append(at)
        due[scenario["match"]["regex"]] = times
    return due


def quantiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)

    def at(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 2)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(values[-1], 2), "min": round(values[0], 2), "n": len(values)}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        upstream_file, recording = Path(folder, "upstream.yaml"), Path(folder, "recording.yaml")
        upstream_file.write_text(scenarios(args.streams, args.chunks, args.seed))
        upstream, upstream_root = start("serve", "--scenarios", str(upstream_file))
        try:
            recorder, recorder_root = start("record", "--upstream", upstream_root + "/v1", "--out", str(recording))
            try:
                recorded = asyncio.run(run(recorder_root, args.streams, args.concurrency))
            finally:
                stop(recorder)
        finally:
            stop(upstream)
        replay, replay_root = start("serve", "--scenarios", str(recording))
        try:
            replayed = asyncio.run(run(replay_root, args.streams, args.concurrency))
        finally:
            stop(replay)
        due = scheduled(recording)
    against_file, ttft, gaps, events = [], [], [], []
    for index, (was, now) in enumerate(zip(recorded, replayed, strict=True)):
        assert len(was) == len(now) == args.chunks + 3, (index, len(was), len(now))  # role, finish, [DONE] ride along
        chunk_times = now[1 : args.chunks + 1]  # event 0 is the role chunk, event i + 1 carries chunk i
        for at, when in zip(chunk_times, due[f"^stream {index}\\.$"], strict=True):
            against_file.append(at - when)
        ttft.append(now[0] - was[0])
        gaps += [(now[i] - now[i - 1]) - (was[i] - was[i - 1]) for i in range(1, len(now))]
        events += [b - a for a, b in zip(was, now, strict=True)]
    return {
        "streams": args.streams,
        "chunks": args.chunks,
        "concurrency": args.concurrency,
        "replay_vs_recording": quantiles(against_file),
        "replay_vs_record_pass": {"ttft": quantiles(ttft), "gap": quantiles(gaps), "event": quantiles(events)},
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.streams} streams of {args.chunks} chunks, {args.concurrency} at a time ({figures['cpus']} CPUs)")
    rows = [("replay vs recording: each event", figures["replay_vs_recording"])]
    rows += [(f"replay vs record pass: {key}", value) for key, value in figures["replay_vs_record_pass"].items()]
    print(f"{'ms (+ late)':<40} {'p50':>7} {'p99':>7} {'max':>7} {'min':>7} {'n':>6}")
    for label, q in rows:
        print(f"{label:<40} {q['p50']:>7} {q['p99']:>7} {q['max']:>7} {q['min']:>7} {q['n']:>6}")


if __name__ == "__main__":
    main()
