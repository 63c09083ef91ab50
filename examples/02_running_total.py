"""Streaming with a running total: show each piece as it arrives, keep them all, count them at the end.

Collect the pieces in a list and join once: the joined text is what a non-streaming call would have returned.

Meant for the bundled `chinese` scenario (characters, not bytes: each Chinese character counts as one):

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything OPENAI_MODEL=chinese
    python examples/02_running_total.py
"""

import os

from openai import OpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")

if __name__ == "__main__":
    client = OpenAI()
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Tell me about a famous Chinese poem."}],
        stream=True,
    )
    pieces: list[str] = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
            print(pieces[-1], end="", flush=True)
    text = "".join(pieces)
    print(f"\n[{len(text)} characters in {len(pieces)} pieces]")
