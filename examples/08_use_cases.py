"""Use cases built on one generator: code generation, a document outline, and a translator.

A generator function that yields the text pieces keeps the API call in one place and lets each caller decide
what to do with them: print them, send them on, or stop early (closing the generator closes the stream).

Meant for the bundled `default` scenario (every use case prints whatever the scenario streams; with
OPENAI_MODEL=chinese the translator answers in Chinese):

    mockserver serve                        # prints OPENAI_BASE_URL=http://127.0.0.1:8000/v1
    export OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=anything OPENAI_MODEL=default
    python examples/08_use_cases.py
"""

import os
from collections.abc import Iterator

from openai import OpenAI

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
client = OpenAI()


def stream_text(system: str, prompt: str, temperature: float = 1.0) -> Iterator[str]:
    """Yield the answer's text pieces as they arrive."""
    with client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
        temperature=temperature,
        stream=True,
    ) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


def generate_code(task: str) -> Iterator[str]:
    # A low temperature: code wants the most likely tokens, not creative ones.
    yield from stream_text("You write Python code only, without explanations.", task, temperature=0.2)


def outline(topic: str) -> Iterator[str]:
    yield from stream_text("You write document outlines: numbered headings and sub-headings only.", topic)


def translate(text: str, language: str) -> Iterator[str]:
    yield from stream_text(f"Translate the user's text into {language}. Answer with the translation only.", text)


if __name__ == "__main__":
    use_cases = {
        "Code": generate_code("A function that checks whether a string is a palindrome."),
        "Outline": outline("A beginner's guide to sourdough bread"),
        "Translation": translate("Spring sleep, unaware of dawn; everywhere I hear birds singing.", "Chinese"),
    }
    for title, pieces in use_cases.items():
        print(f"--- {title} ---")
        for piece in pieces:
            print(piece, end="", flush=True)
        print()
