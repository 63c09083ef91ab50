#!/usr/bin/env python3
"""The coalescing baseline at mockserver's bytes: a bare aiohttp server that answers W1 and W4 with exactly the
bytes and headers mockserver sends for them, written as the coalescing baseline writes (the first event, then
the rest in one write), with nothing else done per request.

The suite's baselines send a smaller chunk than the real API does (no `service_tier`, `system_fingerprint`,
`logprobs` or `obfuscation`, no rate-limit headers): a W1 stream is 34 KB there and 61 KB from mockserver. Measured
beside both, this server says which part of a gap is the bytes on the wire (the load client's work, and the
kernel's) and which is mockserver's own work per request.

  .venv/bin/python bench/same_bytes.py --port 8000 [--scenarios bench/scenarios.yaml]

At start-up it serves the scenarios with mockserver in-process once, keeps one answer of each workload, and
stops it. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from aiohttp import ClientSession, web

from mockserver.scenario.load import load_paths
from mockserver.server.app import create_app
from mockserver.server.settings import Settings

HERE = Path(__file__).resolve().parent
# Headers aiohttp writes itself (and the length, which a pre-serialized body sets anew).
OWN = {"date", "server", "content-length", "transfer-encoding", "connection", "keep-alive"}

Answer = tuple[dict[str, str], list[bytes]]  # headers, then the writes


async def recorded(scenarios: Path) -> dict[tuple[str, bool], Answer]:
    """One answer of each workload, as mockserver sends it: keyed by (model, stream)."""
    runner = web.AppRunner(create_app(load_paths([scenarios]).scenarios, Settings()), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    answers: dict[tuple[str, bool], Answer] = {}
    try:
        async with ClientSession() as client:
            for model, stream in (("bench-w1", True), ("bench-w4", False)):
                body = {"model": model, "messages": [{"role": "user", "content": model}], "stream": stream}
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                async with client.post(url, json=body, headers={"Authorization": "Bearer sk-bench"}) as reply:
                    data = await reply.read()
                    headers = {k: v for k, v in reply.headers.items() if k.lower() not in OWN}
                if stream:
                    first = data.index(b"\n\n") + 2
                    answers[model, stream] = headers, [data[:first], data[first:]]
                else:
                    answers[model, stream] = headers, [data]
    finally:
        await runner.cleanup()
    return answers


def app_for(answers: dict[tuple[str, bool], Answer]) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        stream = bool(body.get("stream"))
        fallback = answers["bench-w1" if stream else "bench-w4", stream]
        headers, writes = answers.get((body.get("model"), stream), fallback)
        if not stream:
            return web.Response(body=writes[0], headers=headers)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        for data in writes:
            await response.write(data)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--scenarios", type=Path, default=HERE / "scenarios.yaml")
    args = parser.parse_args()
    answers = asyncio.run(recorded(args.scenarios))
    print(json.dumps({key[0]: sum(map(len, writes)) for key, (_, writes) in answers.items()}), flush=True)
    web.run_app(app_for(answers), host="127.0.0.1", port=args.port, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    main()
