"""Retry with backoff around a stream: wait as long as the server's retry-after asks (else back off
exponentially, with jitter), but never retry once the answer has started to show.

Meant for the bundled `rate-limit-recovers` scenario (429, 429, then an answer), and `fault-disconnect` to
see a broken stream that is not retried:

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything OPENAI_MODEL=rate-limit-recovers
    python examples/06_retry_backoff.py

mockserver counts the steps of `rate-limit-recovers` per session: to start again from the first 429, restart
the server or use a fresh session in the base URL (http://127.0.0.1:8000/session/NAME/v1).
"""

import os
import random
import sys
import time

from openai import APIConnectionError, APIError, APIStatusError, OpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
MAX_ATTEMPTS = 5
RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


def retryable(exc: APIError) -> bool:
    return isinstance(exc, APIConnectionError) or (
        isinstance(exc, APIStatusError) and exc.status_code in RETRYABLE_STATUS
    )


def delay_before(attempt: int, exc: APIError) -> float:
    """Seconds to wait before the next attempt: retry-after-ms or retry-after when the server sent one."""
    headers = exc.response.headers if isinstance(exc, APIStatusError) else {}
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:  # retry-after may also be an HTTP date; back off instead
        pass
    return min(0.5 * 2.0 ** (attempt - 1), 8.0) * random.uniform(0.75, 1.0)  # jitter spreads out many clients


def stream_with_retries(client: OpenAI) -> int:
    """Stream one answer; returns the attempt that succeeded, or raises the last error."""
    attempt = 0
    while True:
        attempt += 1
        started = False
        try:
            stream = client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Say hello."}], stream=True
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    started = True
                    print(chunk.choices[0].delta.content, end="", flush=True)
            print()
            return attempt
        except APIError as exc:
            # Once text has been shown, a retry would stream the whole answer again from its first word: the
            # user would see the beginning twice, and whatever was done with the partial answer would be done
            # twice. Only a failure before the first token is safe to retry.
            if started:
                print("\n[The stream broke after the answer had started: not retrying, or it would show twice.]")
                raise
            if attempt == MAX_ATTEMPTS or not retryable(exc):
                raise
            delay = delay_before(attempt, exc)
            status = exc.status_code if isinstance(exc, APIStatusError) else type(exc).__name__
            print(f"[attempt {attempt} failed ({status}); retrying in {delay:.2f} s]")
            time.sleep(delay)


if __name__ == "__main__":
    client = OpenAI(max_retries=0)  # the SDK retries on its own; turn that off so this loop is the only one
    try:
        attempt = stream_with_retries(client)
    except APIError as exc:
        print(f"[Gave up: {exc.message}]")
        sys.exit(1)
    print(f"[answered on attempt {attempt}]")
