#!/usr/bin/env python3
"""W5, an agent loop: conversations of four streamed chat requests, 64 conversations at a time.

Each conversation offers two tools (get_weather, get_time) and sends, one after the other on one keep-alive
connection, the conversation so far:
  1. the user's question                          -> the answer must call get_weather
  2. + that call and its result                   -> the answer must call get_time
  3. + that call and its result                   -> the answer must be text
  4. + that answer and a follow-up question       -> the answer must be text
Every request names the model `bench-w5`; a server picks the answer from the conversation itself. Tool call ids
and arguments are read from each stream and sent back, as an agent framework does.

Reports conversations/s, turn latency (request written -> end of its stream) p50/p99, and the server's CPU seconds
per conversation (the server process and its children, from /proc). Stdlib only, loopback only, bounded in time
and count.

  python3 w5_agent_loop.py --base-url http://127.0.0.1:8000/v1 [--server-pid PID] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

MODEL = "bench-w5"
QUESTION = "What is the weather in Paris, and what time is it there?"
FOLLOW_UP = "Thanks! Should I take an umbrella?"
RESULTS = {"get_weather": '{"temperature": 21, "unit": "celsius", "sky": "sunny"}', "get_time": '{"time": "12:00"}'}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The local time in a time zone.",
            "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
        },
    },
]
EXPECTED = ("get_weather", "get_time", "text", "text")  # what each of the four answers must be
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BadAnswer(Exception):
    pass


def endpoint(base_url: str) -> tuple[str, int, str]:
    url = urlsplit(base_url)
    host = url.hostname or "127.0.0.1"
    if url.scheme != "http" or not (host.startswith("127.") or host in ("localhost", "::1")):
        raise SystemExit(f"refusing {base_url!r}: this load script only talks to http:// on loopback")
    return host, url.port or 80, url.path.rstrip("/") + "/chat/completions"


def cpu_seconds(pid: int | None) -> float:
    """User and system CPU of the process and its descendants."""
    if pid is None:
        return 0.0
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response (chunked or with a length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(data[:-2])
        return status, b"".join(parts)
    length = int(lower.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    return status, await reader.readexactly(length)


def read_stream(body: bytes) -> tuple[str, list[dict[str, str]]]:
    """The text and the tool calls (id, name, arguments) of an SSE chat stream."""
    text, calls = [], {}
    for line in body.split(b"\n"):
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        for choice in json.loads(line[6:]).get("choices", ()):
            delta = choice.get("delta") or {}
            if delta.get("content"):
                text.append(delta["content"])
            for call in delta.get("tool_calls") or ():
                known = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                function = call.get("function") or {}
                known["id"] = call.get("id") or known["id"]
                known["name"] = function.get("name") or known["name"]
                known["arguments"] += function.get("arguments") or ""
    return "".join(text), [calls[index] for index in sorted(calls)]


async def conversation(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str, latencies: list[float]
) -> None:
    messages: list[dict[str, object]] = [{"role": "user", "content": QUESTION}]
    for expected in EXPECTED:
        body = json.dumps(
            {"model": MODEL, "messages": messages, "tools": TOOLS, "stream": True}, separators=(",", ":")
        ).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer sk-bench\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        started = time.perf_counter()
        writer.write(request + body)
        status, answer = await read_response(reader)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            raise BadAnswer(f"HTTP {status}")
        text, calls = read_stream(answer)
        if expected == "text":
            if calls or not text:
                raise BadAnswer(f"expected text, got calls {[call['name'] for call in calls]}")
            messages += [{"role": "assistant", "content": text}, {"role": "user", "content": FOLLOW_UP}]
            continue
        if [call["name"] for call in calls] != [expected]:
            raise BadAnswer(f"expected a call of {expected}, got {[call['name'] for call in calls] or text[:40]!r}")
        call = calls[0]
        json.loads(call["arguments"])  # whole JSON, as an agent needs it
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": RESULTS[expected]})


async def run(args: argparse.Namespace) -> dict[str, object]:
    host, port, path = endpoint(args.base_url)
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, stop_at = start + args.warmup, start + args.warmup + args.duration
    done: list[float] = []  # end times of the conversations completed
    latencies: list[float] = []
    errors: dict[str, int] = {}
    window: dict[str, float] = {}
    left = [args.max_conversations]

    async def worker() -> None:
        reader = writer = None
        while loop.time() < stop_at and left[0] > 0:
            left[0] -= 1
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                turns: list[float] = []
                await asyncio.wait_for(conversation(reader, writer, host, path, turns), args.timeout)
                now = loop.time()
                done.append(now)
                if measure_from <= now <= stop_at:
                    latencies.extend(turns)
            except (BadAnswer, OSError, ValueError, KeyError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                key = f"{type(exc).__name__}: {exc}"[:120]
                errors[key] = errors.get(key, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    async def clock() -> None:
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        window["cpu0"], window["t0"] = cpu_seconds(args.server_pid), loop.time()
        await asyncio.sleep(max(0.0, stop_at - loop.time()))
        window["cpu1"], window["t1"] = cpu_seconds(args.server_pid), loop.time()

    await asyncio.gather(clock(), *(worker() for _ in range(args.concurrency)))
    measured = [at for at in done if window["t0"] <= at <= window["t1"]]
    seconds = window["t1"] - window["t0"]
    ms = sorted(latency * 1000 for latency in latencies)
    cpu = window["cpu1"] - window["cpu0"]
    return {
        "workload": "w5",
        "base_url": args.base_url,
        "concurrency": args.concurrency,
        "seconds": round(seconds, 3),
        "conversations": len(measured),
        "conversations_per_s": round(len(measured) / seconds, 1) if seconds else None,
        "turns_per_s": round(4 * len(measured) / seconds, 1) if seconds else None,
        "turn_ms": {
            "p50": round(statistics.median(ms), 3) if ms else None,
            "p99": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3) if ms else None,
        },
        "server_cpu_s_per_conversation": round(cpu / len(measured), 6) if measured and args.server_pid else None,
        "server_cpu_ms_per_turn": round(cpu / len(measured) / 4 * 1000, 4) if measured and args.server_pid else None,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--server-pid", type=int, default=None, help="the server's pid, for its CPU seconds")
    parser.add_argument("--concurrency", type=int, default=64, help="conversations at a time")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before the measurement")
    parser.add_argument("--max-conversations", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a conversation may take")
    parser.add_argument("--json-out", default=None)
    args = parser.parse_args()
    args.concurrency = max(1, min(args.concurrency, 1000))
    args.duration = max(1.0, min(args.duration, 300.0))
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=1)
    if args.json_out:
        Path(args.json_out).write_text(text)
    print(text)
    sys.exit(1 if result["errors"] and not result["conversations"] else 0)


if __name__ == "__main__":
    main()
