"""The Embeddings wire format (`POST /v1/embeddings`), which never streams: one `embedding` object per input,
in input order, with the real key order and layout — two-space indentation, one float per line, a line break
at the end — or each vector as the base64 of its little-endian float32 values when the request asks for
`encoding_format: base64`, as the openai SDKs do unless told otherwise.

The vectors are the scenario's (`embeddings:`), or computed from each input (`wire/vectors.py`): the same
input always gives the same vector, and inputs that share words are near each other.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping

from ..engine.plan import Plan
from ..scenario.model import Answer, MemoKind
from .embeddings_request import EmbeddingsAsk, parse_request
from .encode import json_str
from .vectors import embedding, float_lines, pack

__all__ = [
    "RATE_LIMITED",
    "answer_bytes",
    "answer_headers",
    "call_ids",
    "completion_body",
    "make_envelope",
    "parse_request",
]

RATE_LIMITED = True
_SCRIPTED = MemoKind[bytes]("scripted vector")
_FLOAT_INDENT = b" " * 8
_HEADER_MODEL = 256  # the longest model name sent back in a header


def make_envelope(plans: list[Plan], rng: random.Random) -> None:
    """An embeddings answer has no id and no time."""
    return None


def call_ids(envelope: None) -> tuple[str, ...]:
    return ()  # no tool calls here


def answer_headers(plans: list[Plan], ask: EmbeddingsAsk) -> Mapping[str, str]:
    """`openai-model` names the model, when its name can be a header: a client's name with a control character,
    or one longer than any model's, would break the answer's head."""
    model = plans[0].model
    return {"openai-model": model} if len(model) <= _HEADER_MODEL and model.isascii() and model.isprintable() else {}


def answer_bytes(plans: list[Plan], ask: EmbeddingsAsk) -> int:
    """About 12 bytes a value as text, 6 in base64: 2,048 inputs of 3,072 dimensions are 75 MB."""
    scripted = plans[0].answer.embeddings
    width = max(map(len, scripted)) if scripted else ask.dimensions
    return len(ask.inputs) * width * (6 if ask.encoding == "base64" else 12)


def _scripted(answer: Answer, index: int) -> bytes:
    vectors = answer.embeddings or ()
    return answer.memo.get(_SCRIPTED, index, lambda: pack(vectors[index]))


def _vector(packed: bytes, ask: EmbeddingsAsk) -> bytes:
    if ask.encoding == "base64":
        return b'"' + base64.b64encode(packed) + b'"'
    return b"[\n" + _FLOAT_INDENT + float_lines(packed, _FLOAT_INDENT) + b"\n      ]"


def completion_body(plans: list[Plan], ask: EmbeddingsAsk, envelope: None) -> bytes:
    plan = plans[0]
    scripted = plan.answer.embeddings
    items = []
    for index, source in enumerate(ask.inputs):
        if scripted:
            packed = _scripted(plan.answer, index % len(scripted))
        else:
            packed = embedding(ask.model, source, ask.dimensions)
        items.append(
            b'    {\n      "object": "embedding",\n      "index": '
            + str(index).encode()
            + b',\n      "embedding": '
            + _vector(packed, ask)
            + b"\n    }"
        )
    tokens = str(plan.prompt_tokens).encode()
    return (
        b'{\n  "object": "list",\n  "data": [\n'
        + b",\n".join(items)
        + b'\n  ],\n  "model": '
        + json_str(plan.model).encode()
        + b',\n  "usage": {\n    "prompt_tokens": '
        + tokens
        + b',\n    "total_tokens": '
        + tokens
        + b"\n  }\n}\n"
    )
