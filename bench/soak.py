"""Soak test: rounds of concurrent streams, some cut by the client mid-stream, against one `mockserver serve`.

After each round it reads the server's resident memory and open descriptors (from /proc, so Linux only) and
the size of its journal. A server that leaks shows memory or descriptors climbing round after round; a sound
one levels off after the first round (allocator pools, the journal filling up to its bound). Last, it opens a
round of streams again and times how long SIGTERM takes to stop the server with all of them in flight.

    .venv/bin/python bench/soak.py --rounds 5 --streams 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import tempfile
import time
from pathlib import Path

import aiohttp
from served import mockserver

SCENARIOS = """
scenarios:
  - name: soak
    description: 40 chunks, 25 ms apart
    ttft_ms: 50
    interval_ms: 25
    chunks: [{chunks}]
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def one_stream(session: aiohttp.ClientSession, url: str, rng: random.Random, cut: float, big: float) -> str:
    """One streamed chat completion; with probability `cut` the client leaves after a few chunks."""
    prompt = "x " * (32 * 1024) if rng.random() < big else "hello"
    body = {"model": "soak", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    headers = {"X-Mock-Session": f"soak-{rng.randrange(200)}"}
    leave_after = rng.randrange(1, 30) if rng.random() < cut else None
    try:
        async with session.post(url, json=body, headers=headers) as response:
            seen = 0
            async for _ in response.content:
                seen += 1
                if leave_after is not None and seen >= leave_after:
                    response.close()  # drop the connection mid-stream
                    return "cut"
            return "completed"
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return "error"


async def round_of(base: str, streams: int, rng: random.Random, cut: float, big: float) -> dict[str, int]:
    connector = aiohttp.TCPConnector(limit=streams, force_close=True)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        results = await asyncio.gather(
            *(one_stream(session, f"{base}/v1/chat/completions", rng, cut, big) for _ in range(streams))
        )
    return {outcome: results.count(outcome) for outcome in ("completed", "cut", "error")}


async def journal(base: str) -> tuple[int, int]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/_mock/requests") as response:
        raw = await response.read()
    return len(json.loads(raw)["requests"]), len(raw)


async def open_streams(base: str, streams: int) -> tuple[aiohttp.ClientSession, list[asyncio.Task[str]]]:
    """`streams` streams left running, for the shutdown measurement."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=streams, force_close=True))
    rng = random.Random(0)
    tasks = [
        asyncio.create_task(one_stream(session, f"{base}/v1/chat/completions", rng, 0.0, 0.0)) for _ in range(streams)
    ]
    return session, tasks


async def main(args: argparse.Namespace) -> None:
    chunks = ", ".join(['"tok "'] * 40)
    with tempfile.TemporaryDirectory() as folder:
        scenarios = Path(folder) / "soak.yaml"
        scenarios.write_text(SCENARIOS.format(chunks=chunks))
        options = ["--log-level", "warning", "--journal-size", str(args.journal_size)]
        with mockserver(scenarios, options) as (server, base):
            await asyncio.sleep(1)
            rng = random.Random(args.seed)
            baseline = (rss_mb(server.pid), descriptors(server.pid))
            print(f"baseline: {baseline[0]:.1f} MB resident, {baseline[1]} descriptors")
            print("round  streams  completed  cut  errors  seconds  resident MB  descriptors  journal entries", end="")
            print("  journal MB")
            for number in range(1, args.rounds + 1):
                started = time.monotonic()
                outcome = await round_of(base, args.streams, rng, args.cut, args.big)
                took = time.monotonic() - started
                await asyncio.sleep(1.5)  # let the server notice the last clients that left
                entries, size = await journal(base)
                print(
                    f"{number:5d}  {args.streams:7d}  {outcome['completed']:9d}  {outcome['cut']:3d}  "
                    f"{outcome['error']:6d}  {took:7.1f}  {rss_mb(server.pid):11.1f}  {descriptors(server.pid):11d}  "
                    f"{entries:15d}  {size / 1e6:10.1f}"
                )
            session, tasks = await open_streams(base, args.streams)
            await asyncio.sleep(1.0)  # every stream started and streaming
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            while server.poll() is None and time.monotonic() - started < 60:  # a server that never stops: 60 s
                await asyncio.sleep(0.005)
            stopped = time.monotonic() - started
            await asyncio.gather(*tasks, return_exceptions=True)
            await session.close()
            print(
                f"SIGTERM with {args.streams} streams in flight: stopped in {stopped:.2f} s, "
                f"exit code {server.returncode}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=2000, help="concurrent streams per round")
    parser.add_argument("--cut", type=float, default=0.3, help="share of clients that leave mid-stream")
    parser.add_argument("--big", type=float, default=0.05, help="share of requests with a 64 KB prompt")
    parser.add_argument("--journal-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
