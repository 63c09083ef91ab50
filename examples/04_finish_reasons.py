"""Handling every finish_reason: the last chunk says why the answer ended, and each reason needs its own care.

- stop: the answer is complete.
- length: the token limit cut it; say so and offer to continue from where it stopped.
- content_filter: the filter stopped it; say so, and keep what had arrived.
- tool_calls: the model asks to call functions; their names and arguments arrive in pieces, by index.
- none at all: the stream ended early, and the answer may be incomplete.

Meant for the bundled `finish-stop`, `finish-length`, `finish-content-filter` and `tool-call` scenarios:

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything
    OPENAI_MODEL=finish-length python examples/04_finish_reasons.py
"""

import os
import sys
from typing import Any

from openai import OpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def stream_answer(client: OpenAI, messages: list[Any]) -> tuple[str, str | None, dict[int, dict[str, str]]]:
    """Print the answer as it arrives; return its text, finish_reason and tool calls (by index)."""
    pieces: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    finish_reason = None
    stream = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, stream=True)
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
                print(choice.delta.content, end="", flush=True)
            # A call's id and name come in its first delta; its JSON arguments arrive a piece at a time.
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                if delta.function:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
            finish_reason = choice.finish_reason or finish_reason
    if pieces:
        print()
    return "".join(pieces), finish_reason, calls


def ask(question: str) -> bool:
    """Ask the user a yes/no question; without a terminal (a script, CI) the answer is no."""
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def report(text: str, finish_reason: str | None, calls: dict[int, dict[str, str]]) -> None:
    """Tell the user how the answer ended."""
    match finish_reason:
        case "stop":
            print("[complete answer]")
        case "length":
            print("[The answer was cut off by the token limit: ask again with a higher max_tokens, or continue.]")
        case "content_filter":
            print(f"[The content filter stopped the answer; keeping the {len(text)} characters that arrived.]")
        case "tool_calls":
            for index, call in sorted(calls.items()):
                print(f"[tool call {index}: {call['name']}({call['arguments']}), id {call['id']}]")
            # A real program would run each function and send the results back as "tool" messages.
        case None:
            print("[The stream ended without a finish_reason: the answer may be incomplete.]")
        case other:
            print(f"[finish_reason {other!r}]")


if __name__ == "__main__":
    client = OpenAI()
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris, and how do I bake bread?"}]
    text, finish_reason, calls = stream_answer(client, messages)
    report(text, finish_reason, calls)
    while finish_reason == "length" and ask("Continue where it stopped?"):
        # The model sees its own partial answer and carries on from there.
        messages += [
            {"role": "assistant", "content": text},
            {"role": "user", "content": "Please continue exactly where you stopped."},
        ]
        text, finish_reason, calls = stream_answer(client, messages)
        report(text, finish_reason, calls)
