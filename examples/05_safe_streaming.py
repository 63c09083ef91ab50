"""Safe streaming: each way a streamed call fails gets its own message, and whatever arrived is kept.

- RateLimitError: the API said 429, and the SDK's own retries (two by default) did not get through.
- APIConnectionError: the connection failed or was cut (a timeout is one too: APITimeoutError).
- APIError: anything else, including an error event sent in the middle of a stream.
The order of the except clauses matters: the first two are kinds of APIError.

Meant for the bundled `rate-limit`, `fault-disconnect` and `fault-error-event` scenarios:

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything
    OPENAI_MODEL=fault-error-event python examples/05_safe_streaming.py
"""

import os
import sys

from openai import APIConnectionError, APIError, OpenAI, RateLimitError

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")


def main() -> int:
    client = OpenAI()
    received = 0  # characters shown so far: what the user keeps if the stream breaks
    try:
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Explain streaming in one paragraph."}], stream=True
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received += len(chunk.choices[0].delta.content)
                print(chunk.choices[0].delta.content, end="", flush=True)
    except RateLimitError as exc:
        wait = exc.response.headers.get("retry-after", "a few")
        print(f"Rate limited (429) even after the SDK's retries; the API asks to wait {wait} s. Try again later.")
        return 1
    except APIConnectionError:
        print(f"\nThe connection failed or was cut: the answer is incomplete ({received} characters arrived).")
        return 1
    except APIError as exc:
        print(f"\nThe API reported an error: {exc.message} (the answer is incomplete: {received} characters arrived)")
        return 1
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
