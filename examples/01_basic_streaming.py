"""Basic streaming: the same question asked with stream=True and without, timing both.

A stream shows the first words almost at once; a plain call makes the user wait for the whole answer.

Meant for the bundled `haiku` scenario (any scenario works):

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything OPENAI_MODEL=haiku
    python examples/01_basic_streaming.py

OpenAI() reads OPENAI_BASE_URL and OPENAI_API_KEY itself: with a real key and no base URL, the same program
talks to the real API.
"""

import os
import time

from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Write a short poem about autumn."}]


def streamed(client: OpenAI) -> None:
    start = time.perf_counter()
    first_token = None
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    for chunk in stream:
        if not chunk.choices:  # e.g. the usage chunk, when asked for, has no choices
            continue
        text = chunk.choices[0].delta.content
        if text:
            if first_token is None:
                first_token = time.perf_counter() - start
            print(text, end="", flush=True)
    total = time.perf_counter() - start
    print(f"\n[streaming]     first token after {first_token or total:.2f} s, total {total:.2f} s\n")


def not_streamed(client: OpenAI) -> None:
    start = time.perf_counter()
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    total = time.perf_counter() - start
    print(completion.choices[0].message.content)
    # Nothing can be shown before the whole answer is there: the first token comes with the last.
    print(f"[not streaming] first token after {total:.2f} s, total {total:.2f} s")


if __name__ == "__main__":
    client = OpenAI()
    streamed(client)
    not_streamed(client)
