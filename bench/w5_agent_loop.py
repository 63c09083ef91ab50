#!/usr/bin/env python3
"""W5, an agent loop: conversations of four streamed chat requests, 64 conversations at a time.

Each conversation offers two tools (get_weather, get_time) and sends, one after the other on one keep-alive
connection, the conversation so far:
  1. the user's question                          -> the answer must call get_weather
  2. + that call and its result                   -> the answer must call get_time
  3. + that call and its result                   -> the answer must be text
  4. + that answer and a follow-up question       -> the answer must be text
Every request names the same model (`bench-w5`); a server picks the answer from the conversation itself. Tool
call ids and arguments are read from each stream and sent back, as an agent framework does.

Reports conversations/s, turn latency (request written -> end of its stream) p50/p99, the server's CPU seconds
per conversation (the server process and its descendants, from /proc), the bytes a conversation's answers took,
and the client's own CPU share of the window (near 1.0, the client is what limits the rate: the CPU per
conversation is still the server's). Stdlib only, loopback only, bounded in time and count.

  python3 w5_agent_loop.py --base-url http://127.0.0.1:8000/v1 [--server-pid PID] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
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
TURNS = len(EXPECTED)
MAX_ERRORS = 1000  # a server that fails every request ends the run early rather than spinning for its duration
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BadAnswer(Exception):
    pass


def endpoint(base_url: str) -> tuple[str, int, str]:
    url = urlsplit(base_url)
    host = url.hostname or "127.0.0.1"
    if url.scheme != "http" or not (host.startswith("127.") or host in ("localhost", "::1")):
        raise SystemExit(f"refusing {base_url!r}: this load script only talks to http:// on loopback")
    return host, url.port or 80, url.path.rstrip("/") + "/chat/completions"


def listening_pid(port: int) -> int | None:
    """The lowest pid holding the socket that listens on `port` (the suite's default for --server-pid)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                sockets.add(f"socket:[{fields[9]}]")
    owners = []
    for entry in os.listdir("/proc") if sockets else ():
        if not entry.isdigit():
            continue
        try:
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in sockets for fd in os.listdir(f"/proc/{entry}/fd")):
                owners.append(int(entry))
        except OSError:
            continue
    return min(owners) if owners else None


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


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks, as the shared suite computes it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


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
    if b"content-length:" not in lower:
        raise BadAnswer(f"HTTP {status} without a length or chunked framing")
    length = int(lower.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    return status, await reader.readexactly(length)


def read_stream(body: bytes) -> tuple[str, list[dict[str, str]]]:
    """The text and the tool calls (id, name, arguments) of an SSE chat stream."""
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    done = False
    for line in body.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            done = True
            continue
        for choice in json.loads(payload).get("choices", ()):
            delta = choice.get("delta") or {}
            if delta.get("content"):
                text.append(delta["content"])
            for call in delta.get("tool_calls") or ():
                known = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                function = call.get("function") or {}
                known["id"] = call.get("id") or known["id"]
                known["name"] = function.get("name") or known["name"]
                known["arguments"] += function.get("arguments") or ""
    if not done:
        raise BadAnswer("the stream did not end with data: [DONE]")
    return "".join(text), [calls[index] for index in sorted(calls)]


async def conversation(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    path: str,
    model: str,
    record: dict[str, list[float]],
) -> None:
    """The four turns; each turn's latency and the bytes of its answer go into `record`."""
    messages: list[dict[str, object]] = [{"role": "user", "content": QUESTION}]
    for expected in EXPECTED:
        body = json.dumps(
            {"model": model, "messages": messages, "tools": TOOLS, "stream": True}, separators=(",", ":")
        ).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nAuthorization: Bearer sk-bench\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        started = time.perf_counter()
        writer.write(request + body)
        status, answer = await read_response(reader)
        record["latency"].append(time.perf_counter() - started)
        record["bytes"].append(len(answer))
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
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": RESULTS[expected]})


async def run(args: argparse.Namespace) -> dict[str, object]:
    host, port, path = endpoint(args.base_url)
    server_pid = args.server_pid or listening_pid(port)
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, stop_at = start + args.warmup, start + args.warmup + args.duration
    done: list[float] = []  # end times of the conversations completed
    latencies: list[float] = []
    answer_bytes: list[float] = []
    errors: dict[str, int] = {}
    window: dict[str, float] = {}
    left = [args.max_conversations]

    def stopped() -> bool:
        return loop.time() >= stop_at or left[0] <= 0 or sum(errors.values()) >= MAX_ERRORS

    async def worker() -> None:
        reader = writer = None
        while not stopped():
            left[0] -= 1
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                record: dict[str, list[float]] = {"latency": [], "bytes": []}
                await asyncio.wait_for(conversation(reader, writer, host, path, args.model, record), args.timeout)
                now = loop.time()
                done.append(now)
                if measure_from <= now <= stop_at:
                    latencies.extend(record["latency"])
                    answer_bytes.append(sum(record["bytes"]))
            except (BadAnswer, OSError, ValueError, KeyError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                key = f"{type(exc).__name__}: {exc}"[:120]
                errors[key] = errors.get(key, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.05)  # a refused connection must not become a busy loop
        if writer is not None:
            writer.close()

    async def clock() -> None:
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        window["cpu0"], window["t0"], window["own0"] = cpu_seconds(server_pid), loop.time(), time.process_time()
        await asyncio.sleep(max(0.0, stop_at - loop.time()))
        window["cpu1"], window["t1"], window["own1"] = cpu_seconds(server_pid), loop.time(), time.process_time()

    await asyncio.gather(clock(), *(worker() for _ in range(args.concurrency)))
    measured = [at for at in done if window["t0"] <= at <= window["t1"]]
    seconds = window["t1"] - window["t0"]
    ms = [latency * 1000 for latency in latencies]
    cpu = window["cpu1"] - window["cpu0"]
    count = len(measured)

    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "workload": "w5",
        "base_url": args.base_url,
        "model": args.model,
        "concurrency": args.concurrency,
        "turns_per_conversation": TURNS,
        "seconds": round(seconds, 3),
        "conversations": count,
        "conversations_started": args.max_conversations - left[0],
        "conversations_failed": sum(errors.values()),
        "conversations_per_s": round(count / seconds, 1) if seconds else None,
        "turns_per_s": round(TURNS * count / seconds, 1) if seconds else None,
        "turn_ms": {"p50": rounded(percentile(ms, 50), 3), "p99": rounded(percentile(ms, 99), 3)},
        "server_pid": server_pid,
        "server_cpu_s_per_conversation": round(cpu / count, 6) if count and server_pid else None,
        "server_cpu_ms_per_turn": round(cpu / count / TURNS * 1000, 4) if count and server_pid else None,
        "response_bytes_per_conversation": round(sum(answer_bytes) / len(answer_bytes)) if answer_bytes else None,
        "client_cpu_share": round((window["own1"] - window["own0"]) / seconds, 2) if seconds else None,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="OpenAI base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument(
        "--server-pid",
        type=int,
        default=None,
        help="the server's pid (descendants included); default: the port's owner",
    )
    parser.add_argument("--model", default=MODEL, help=f"the model every turn names (default {MODEL})")
    parser.add_argument("--concurrency", type=int, default=64, help="conversations at a time (default 64)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before the measurement (default 2)")
    parser.add_argument("--max-conversations", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a conversation may take")
    parser.add_argument("--json-out", default=None, help="also write the result JSON to this file")
    args = parser.parse_args()
    args.concurrency = max(1, min(args.concurrency, 1000))
    args.duration = max(1.0, min(args.duration, 300.0))
    args.warmup = max(0.0, min(args.warmup, 60.0))
    args.max_conversations = max(1, min(args.max_conversations, 1_000_000))
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=1)
    if args.json_out:
        Path(args.json_out).write_text(text)
    print(text)
    sys.exit(0 if result["conversations"] else 1)


if __name__ == "__main__":
    main()
