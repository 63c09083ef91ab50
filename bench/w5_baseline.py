#!/usr/bin/env python3
"""W5's baseline: a bare aiohttp server answering the agent loop of `w5_agent_loop.py` with pre-serialized streams,
each sent in one write (the coalescing baseline's design). The turn is told from the conversation the cheapest
way there is — the last message's role and the number of tool results —, and every stream is made once, at start.

  python3 w5_baseline.py --port 8000

Its answers have the same pieces as mockserver's for `bench-w5` (a role chunk, a tool call's header and its
arguments in token-sized fragments, or the text in token-sized chunks; a finish chunk; [DONE]), in the minimal
chunk shape of the shared suite's baseline (no `service_tier`, `system_fingerprint`, `logprobs` or obfuscation).
"""

from __future__ import annotations

import argparse
import json
import re

from aiohttp import web

PIECES = re.compile(r"[ \t]*\w+|[ \t]*[^\s\w]|\s+")  # about the pieces mockserver streams text in
CALLS = {1: ("get_weather", '{"city": "Paris", "unit": "celsius"}'), 2: ("get_time", '{"zone": "Europe/Paris"}')}
TEXTS = {
    3: "It is sunny in Paris right now, 21 degrees, and the local time there is noon.",
    4: "It was sunny in Paris at noon, as the tools said a moment ago.",
}


def event(delta: dict[str, object], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench-w5",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def stream(turn: int) -> bytes:
    if turn in CALLS:
        name, arguments = CALLS[turn]
        header = {
            "index": 0,
            "id": f"call_bench{turn}",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        events = [event({"role": "assistant", "content": None, "tool_calls": [header]})]
        events += [
            event({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in PIECES.findall(arguments)
        ]
        events.append(event({}, "tool_calls"))
    else:
        events = [event({"role": "assistant", "content": ""})]
        events += [event({"content": piece}) for piece in PIECES.findall(TEXTS[turn])]
        events.append(event({}, "stop"))
    return b"".join(events) + b"data: [DONE]\n\n"


STREAMS = {turn: stream(turn) for turn in (1, 2, 3, 4)}


async def chat(request: web.Request) -> web.StreamResponse:
    messages = (await request.json())["messages"]
    results = sum(1 for message in messages if message.get("role") == "tool")
    turn = results + 1 if messages[-1].get("role") == "tool" or len(messages) == 1 else 4
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    await response.write_eof(STREAMS[turn])
    return response


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    app = make_app()
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    main()
