"""Streaming with metadata: the message id and model come with the first chunk, the finish_reason with the
last; every chunk of one answer repeats the same id.

Meant for the bundled `finish-stop` scenario:

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything OPENAI_MODEL=finish-stop
    python examples/03_metadata.py
"""

import os

from openai import OpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")

if __name__ == "__main__":
    client = OpenAI()
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        stream=True,
    )
    message_id = model = finish_reason = None
    characters = 0
    for chunk in stream:
        if message_id is None:
            message_id, model = chunk.id, chunk.model  # the model that answered, e.g. a dated version
        for choice in chunk.choices:
            characters += len(choice.delta.content or "")
            print(choice.delta.content or "", end="", flush=True)
            finish_reason = choice.finish_reason or finish_reason
    print()
    print(f"id:            {message_id}")
    print(f"model:         {model}")
    print(f"finish_reason: {finish_reason}")
    print(f"characters:    {characters}")
