"""Limits while streaming: stop reading after MAX_CHARS characters, or once the estimated cost of the answer
passes MAX_COST_USD, and close the stream so the server stops generating (and billing) too.

Leaving the `with` block closes the HTTP connection; a stream merely abandoned stays open until it is garbage
collected, and the server keeps generating tokens nobody reads. max_tokens is the limit to use when it is
known before the call; these are for deciding while the answer arrives.

Meant for the bundled `finish-length` scenario (a long answer):

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything OPENAI_MODEL=finish-length
    MAX_CHARS=40 python examples/07_limits.py
    MAX_COST_USD=0.0002 python examples/07_limits.py
"""

import math
import os

from openai import OpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
MAX_CHARS = int(os.environ.get("MAX_CHARS", "500"))
MAX_COST_USD = float(os.environ.get("MAX_COST_USD", "0.01"))
USD_PER_MILLION_TOKENS = float(os.environ.get("USD_PER_MILLION_TOKENS", "10"))  # your model's output price


def estimated_tokens(characters: int) -> int:
    """About four characters a token in English text. The exact count (the usage chunk, with
    stream_options={"include_usage": True}) only comes at the end of the stream: too late to stop it."""
    return math.ceil(characters / 4)


if __name__ == "__main__":
    client = OpenAI()
    characters, reason = 0, "the answer ended"
    with client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "How do I bake bread?"}], stream=True
    ) as stream:
        for chunk in stream:
            if not (chunk.choices and chunk.choices[0].delta.content):
                continue
            characters += len(chunk.choices[0].delta.content)
            print(chunk.choices[0].delta.content, end="", flush=True)
            cost = estimated_tokens(characters) * USD_PER_MILLION_TOKENS / 1_000_000
            if characters >= MAX_CHARS:
                reason = f"stopped at {characters} characters (MAX_CHARS={MAX_CHARS})"
                break
            if cost > MAX_COST_USD:
                reason = f"stopped at an estimated ${cost:.6f} (MAX_COST_USD={MAX_COST_USD})"
                break
    # Here the stream is closed: the server saw the client leave.
    print(f"\n[{reason}; {characters} characters, about {estimated_tokens(characters)} tokens]")
