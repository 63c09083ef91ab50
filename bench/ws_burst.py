"""A burst of Responses turns over one WebSocket against the same answers over HTTP.

    .venv/bin/python bench/ws_burst.py                      # 2,000 turns each way, 3 alternating rounds, a table
    .venv/bin/python bench/ws_burst.py --turns 200 --json   # fewer, the figures as JSON

Starts `mockserver serve --speed 0` (no delays: what is measured is the work of a turn) on a free port and, in
alternating rounds, sends `--turns` turns one after the other as an agent loop does: over one WebSocket (a
`response.create` message, then its events up to `response.completed`), and over HTTP (`POST /v1/responses` with
`stream: true` on one keep-alive connection, its events up to `response.completed`). Every turn gets the same
scripted answer: a reasoning model's short reply, 40 content chunks. Reported per transport: turns a second, the
time of a turn (p50, p99), the server's CPU per turn — and the ratios, WebSocket over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from served import cpu_seconds, mockserver, quantile

CHUNKS = ", ".join(['"tok "'] * 40)
SCENARIOS = f"""
scenarios:
  - name: burst
    chunks: [{CHUNKS}]
"""
BODY = {"model": "burst", "input": "Next step?", "store": False}
SERVE_OPTIONS = ["--speed", "0", "--log-level", "warning", "--journal-size", "100"]


async def over_websocket(session: aiohttp.ClientSession, root: str, turns: int) -> list[float]:
    times = []
    url = root.replace("http", "ws", 1) + "/v1/responses"
    async with session.ws_connect(url, max_msg_size=0, receive_timeout=30) as ws:  # a turn that never ends fails
        for _ in range(turns):
            started = time.perf_counter()
            await ws.send_str(json.dumps({"type": "response.create", **BODY}))
            while True:
                message = await ws.receive()
                if message.data.startswith('{"type":"response.completed"'):
                    break
            times.append(time.perf_counter() - started)
    return times


async def over_http(session: aiohttp.ClientSession, root: str, turns: int) -> list[float]:
    times = []
    for _ in range(turns):
        started = time.perf_counter()
        async with session.post(root + "/v1/responses", json={**BODY, "stream": True}) as response:
            async for line in response.content:
                if line.startswith(b'data: {"type":"response.completed"'):
                    break
            await response.read()
        times.append(time.perf_counter() - started)
    return times


async def one_round(root: str, pid: int, turns: int, transport: str) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=1)  # HTTP keeps one connection alive, as a client's pool does
    async with aiohttp.ClientSession(connector=connector) as session:
        await session.post(root + "/_mock/reset")
        run = over_websocket if transport == "websocket" else over_http
        await run(session, root, 20)  # warm up
        cpu = cpu_seconds(pid)
        started = time.perf_counter()
        times = await run(session, root, turns)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu
    return {
        "transport": transport,
        "turns": turns,
        "turns_per_s": round(turns / wall),
        "turn_ms_p50": round(quantile(times, 0.5) * 1000, 3),
        "turn_ms_p99": round(quantile(times, 0.99) * 1000, 3),
        "server_cpu_ms_per_turn": round(cpu / turns * 1000, 3),
    }


async def run(turns: int, rounds: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        scenarios = Path(folder) / "burst.yaml"
        scenarios.write_text(SCENARIOS)
        with mockserver(scenarios, SERVE_OPTIONS) as (process, root):
            results = []
            for _ in range(rounds):
                for transport in ("websocket", "http"):
                    results.append(await one_round(root, process.pid, turns, transport))
            return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = asyncio.run(run(args.turns, args.rounds))
    if args.json:
        print(json.dumps(results))
        return
    keys = ["turns_per_s", "turn_ms_p50", "turn_ms_p99", "server_cpu_ms_per_turn"]
    medians = {}
    print(f"{'transport':<10}  " + "  ".join(keys))
    for transport in ("websocket", "http"):
        rows = [result for result in results if result["transport"] == transport]
        medians[transport] = {key: statistics.median(row[key] for row in rows) for key in keys}
        print(f"{transport:<10}  " + "  ".join(f"{medians[transport][key]:>{len(key)}g}" for key in keys))
    ratios = {key: medians["websocket"][key] / medians["http"][key] for key in keys}
    print(f"{'ratio':<10}  " + "  ".join(f"{ratios[key]:>{len(key)}.2f}" for key in keys))


if __name__ == "__main__":
    main()
