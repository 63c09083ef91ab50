"""Does watching slow the mock down? 1,000 streams at once, with and without a reader on the page's live feed.

    .venv/bin/python bench/feed_load.py                    # 1000 streams, 3 rounds of each, a table
    .venv/bin/python bench/feed_load.py --rounds 1 --json  # one round of each, the figures as JSON

Starts `mockserver serve` on a free port and, in alternating rounds, opens `--streams` streams at once (the first
token due after 100 ms, then one chunk every 100 ms for a second) while a probe sends plain requests one after
another. In the rounds "with feed", a reader in a process of its own (as a browser would be) follows /_mock/feed
as the page does, merging every update. Reported:
how late the first tokens and the chunks came, the probe's latency, the server's CPU seconds, and what the feed
sent — and whether the feed's final picture is the journal's (no entry missing, every tick there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
from served import cpu_seconds, mockserver, quantile

SCENARIOS = """
scenarios:
  - name: feed-load
    chunks: [a, b, c, d, e, f, g, h, i, j]
    ttft_ms: 100
    interval_ms: 100
  - name: feed-probe
    text: ok
"""
TTFT_S, INTERVAL_S = 0.1, 0.1
SERVE_OPTIONS = ["--log-level", "warning", "--journal-size", "5000"]  # the journal keeps a whole round
BODY = {"model": "feed-load", "messages": [{"role": "user", "content": "hi"}], "stream": True}
PROBE = {"model": "feed-probe", "messages": [{"role": "user", "content": "hi"}]}


async def stream(host: str, port: int, lateness: list[float], gaps: list[float]) -> None:
    """One stream on a raw connection (a light client, so that the client is not what is measured): how late its
    first token and its chunks came, against their schedule."""
    reader, writer = await asyncio.open_connection(host, port)
    body = json.dumps(BODY).encode()
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    writer.write(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    sent = time.perf_counter()
    content = 0
    while line := await reader.readline():
        if line.startswith(b'data: {"id"') and b'"content":"' in line and b'"content":""' not in line:
            late = time.perf_counter() - sent - (TTFT_S + content * INTERVAL_S)
            (lateness if content == 0 else gaps).append(late * 1000)
            content += 1
    writer.close()
    assert content == 10, content


async def probe(session: aiohttp.ClientSession, url: str, until: asyncio.Event, latencies: list[float]) -> None:
    """Plain requests one after another while the streams run: the API's own answer time."""
    while not until.is_set():
        started = time.perf_counter()
        async with session.post(url, json=PROBE) as response:
            await response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.01)


class FeedReader:
    """Follows /_mock/feed as the page does: merges each update into its picture of the journal."""

    def __init__(self) -> None:
        self.seen: dict[int, dict[str, Any]] = {}
        self.bytes = 0
        self.events = 0
        self.resyncs = 0
        self.following = asyncio.Event()  # the first snapshot came

    async def follow(self, session: aiohttp.ClientSession, url: str) -> None:
        async with session.get(url) as response:
            buffer = b""
            async for data in response.content.iter_any():
                self.bytes += len(data)
                buffer += data
                *blocks, buffer = buffer.split(b"\n\n")
                for block in blocks:
                    self.receive(block.decode())

    def receive(self, block: str) -> None:
        lines = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
        if "event" not in lines:
            return
        self.events += 1
        data = json.loads(lines["data"])
        if lines["event"] == "snapshot":
            self.seen = {}
            self.merge(data["requests"])
            self.following.set()
        elif lines["event"] == "requests":
            self.merge(data["requests"])
        elif lines["event"] == "resync":
            self.resyncs += 1

    def merge(self, updates: list[dict[str, Any]]) -> None:
        for update in updates:
            old = self.seen.get(update["id"], {})
            ticks = update["ticks"]  # flat: microseconds, chunks, ...
            if update["ticks_from"] and old:
                ticks = old["ticks"][: 2 * update["ticks_from"]] + ticks
            self.seen[update["id"]] = {**old, **update, "ticks": ticks}


async def follow_until_stopped(url: str, out: str) -> None:
    """The reader's own process (a page runs apart from the load too): follow the feed until SIGTERM, then write
    what it saw to `out`."""
    reader = FeedReader()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with aiohttp.ClientSession() as session:
        following = asyncio.ensure_future(reader.follow(session, url))
        await reader.following.wait()
        print("following", flush=True)  # the load may start: this process is up and reading
        await stop.wait()
        following.cancel()
    result = {"seen": list(reader.seen.values()), "bytes": reader.bytes, "events": reader.events}
    Path(out).write_text(json.dumps({**result, "resyncs": reader.resyncs}))


def picture(entries: list[dict[str, Any]], flat: bool) -> dict[int, Any]:
    """What matters of each entry, its ticks as the journal has them ([ms, chunks] pairs)."""

    def pairs(ticks: list[int]) -> list[list[float]]:
        return [[ticks[i] / 1000, ticks[i + 1]] for i in range(0, len(ticks), 2)] if flat else ticks or []

    return {entry["id"]: (entry["status"], entry["ended"], pairs(entry["ticks"])) for entry in entries}


async def one_round(root: str, pid: int, streams: int, watched: bool, folder: Path) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await session.post(f"{root}/_mock/reset")
        out = folder / "feed.json"
        reader = None
        if watched:
            command = [sys.executable, __file__, "--follow", f"{root}/_mock/feed", "--out", str(out)]
            reader = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            assert reader.stdout is not None
            assert await asyncio.to_thread(reader.stdout.readline) == "following\n"
        await asyncio.sleep(0.5)
        lateness: list[float] = []
        gaps: list[float] = []
        latencies: list[float] = []
        done = asyncio.Event()
        probing = asyncio.ensure_future(probe(session, f"{root}/v1/chat/completions", done, latencies))
        cpu = cpu_seconds(pid)
        started = time.perf_counter()
        address = urllib.parse.urlsplit(root)
        host, port = address.hostname or "127.0.0.1", address.port or 80
        tasks = []
        for index in range(streams):  # 2,000 a second: all open within half a second
            tasks.append(asyncio.ensure_future(stream(host, port, lateness, gaps)))
            if index % 100 == 99:
                await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - started
        done.set()
        await probing
        cpu = cpu_seconds(pid) - cpu
        figures: dict[str, Any] = {
            "feed": watched,
            "streams": streams,
            "wall_s": round(wall, 2),
            "server_cpu_s": round(cpu, 2),
            "ttft_late_ms_p50": round(quantile(lateness, 0.5), 1),
            "ttft_late_ms_p99": round(quantile(lateness, 0.99), 1),
            "chunk_late_ms_p99": round(quantile(gaps, 0.99), 1),
            "probe_ms_p50": round(quantile(latencies, 0.5), 2),
            "probe_ms_p99": round(quantile(latencies, 0.99), 2),
            "probes": len(latencies),
        }
        if reader is not None:
            await asyncio.sleep(1.5)  # the last flush (under load, they come up to a second apart)
            reader.terminate()
            reader.wait(timeout=10)
            seen = json.loads(out.read_text())
            async with session.get(f"{root}/_mock/requests") as response:
                journal = (await response.json())["requests"]
            figures.update(
                feed_kb=round(seen["bytes"] / 1024),
                feed_events=seen["events"],
                feed_resyncs=seen["resyncs"],
                feed_matches_journal=picture(seen["seen"], flat=True) == picture(journal, flat=False),
            )
        return figures


async def run(streams: int, rounds: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        scenarios = Path(folder) / "feed-load.yaml"
        scenarios.write_text(SCENARIOS)
        with mockserver(scenarios, SERVE_OPTIONS) as (process, root):
            results = []
            for _ in range(rounds):
                for watched in (False, True):
                    results.append(await one_round(root, process.pid, streams, watched, Path(folder)))
            return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--follow", help=argparse.SUPPRESS)  # the feed reader's own process
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.follow:
        asyncio.run(follow_until_stopped(args.follow, args.out))
        return
    results = asyncio.run(run(args.streams, args.rounds))
    if args.json:
        print(json.dumps(results))
        return
    keys = ["ttft_late_ms_p50", "ttft_late_ms_p99", "chunk_late_ms_p99", "probe_ms_p50", "probe_ms_p99"]
    keys += ["server_cpu_s"]
    print("feed  " + "  ".join(keys))
    for watched in (False, True):
        rows = [result for result in results if result["feed"] == watched]
        medians = [statistics.median(row[key] for row in rows) for key in keys]
        print(
            ("with  " if watched else "none  ")
            + "  ".join(f"{value:>{len(key)}}" for key, value in zip(keys, medians, strict=True))
        )
    for result in results:
        if result["feed"]:
            print(
                f"feed: {result['feed_kb']} KB in {result['feed_events']} events, {result['feed_resyncs']} resyncs, "
                f"matches the journal: {result['feed_matches_journal']}"
            )


if __name__ == "__main__":
    main()
