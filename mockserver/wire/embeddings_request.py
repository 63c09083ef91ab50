"""Embeddings requests (`POST /v1/embeddings`), checked as the real API checks them: the same 400s and
messages, the models' dimensions, and its limits on inputs and tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..engine.ask import Ask, Message
from ..scenario.tokens import count_tokens_once
from . import params
from .errors import ApiError, invalid, missing
from .vectors import MAX_DIMENSIONS, Source

# The dimensions of each model's vectors, and whether `dimensions` may shorten them.
MODELS = {
    "text-embedding-3-small": (1536, True),
    "text-embedding-3-large": (3072, True),
    "text-embedding-ada-002": (1536, False),
}
# A model the real API does not have (a scenario's name, another provider's model): 1536 unless the request
# asks for up to MAX_DIMENSIONS.
OTHER_MODEL = (1536, True)
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000
ENCODINGS = ("float", "base64")
_INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."

Encoding = Literal["float", "base64"]


@dataclass(slots=True)
class EmbeddingsAsk(Ask):
    """An embeddings request: its inputs in order, the vectors' length and how they are written."""

    inputs: tuple[Source, ...] = ()
    dimensions: int = 1536
    encoding: Encoding = "float"


def _item(value: Any) -> Source:
    """One input: a non-empty text or a non-empty array of token ids."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(_token(item) for item in value):
        return tuple(value)
    raise invalid(_INVALID_INPUT)


def _token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


def _inputs(body: Mapping[str, Any]) -> tuple[list[Source], bool]:
    """A text, a list of texts, a token array or a list of token arrays — never empty, nor an empty text — and
    whether they came as a list."""
    if "input" not in body:
        raise missing("input")
    value = body["input"]
    if isinstance(value, str) or (isinstance(value, list) and value and all(_token(item) for item in value)):
        return [_item(value)], False
    if not isinstance(value, list) or not value:
        raise invalid(_INVALID_INPUT)
    if len(value) > MAX_INPUTS:
        raise invalid(f"Invalid 'input': array length must be {MAX_INPUTS} or less.")
    return [_item(item) for item in value], True


def _dimensions(body: Mapping[str, Any], model: str) -> int:
    default, shortens = MODELS.get(model, OTHER_MODEL)
    if "dimensions" not in body:
        return default
    if not shortens:
        raise invalid("This model does not support specifying dimensions.")
    value = body["dimensions"]
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(f"{value!r} is not of type 'integer' - 'dimensions'")
    if value < 1:
        raise invalid(f"{value} is less than the minimum of 1 - 'dimensions'")
    highest = default if model in MODELS else MAX_DIMENSIONS
    if value > highest:
        raise invalid(f"Invalid value for 'dimensions' = {value}. Must be less than or equal to {highest}.")
    return value


def _encoding(body: Mapping[str, Any]) -> Encoding:
    value = body.get("encoding_format")
    if value is None:
        return "float"
    if value in ENCODINGS:
        encoding: Encoding = value
        return encoding
    raise invalid(f"Invalid value for 'encoding_format' = {value}. Supported values: ['float', 'base64'].")


def _count(source: Source) -> int:
    return count_tokens_once(source) if isinstance(source, str) else len(source)


def parse_request(body: Mapping[str, Any]) -> EmbeddingsAsk:
    model = params.model(body)
    inputs, listed = _inputs(body)
    tokens = [_count(source) for source in inputs]
    for index, count in enumerate(tokens):
        if count > MAX_INPUT_TOKENS:
            where = f"input[{index}]" if listed else "input"
            raise invalid(f"Invalid '{where}': maximum input length is {MAX_INPUT_TOKENS} tokens.")
    if sum(tokens) > MAX_REQUEST_TOKENS:
        message = f"Requested {sum(tokens)} tokens, max {MAX_REQUEST_TOKENS} tokens per request"
        raise ApiError(400, message, "max_tokens_per_request", None, "max_tokens_per_request")
    dimensions = _dimensions(body, model)
    encoding = _encoding(body)
    params.optional(body, "user", str, "a string")
    texts = [source if isinstance(source, str) else " ".join(map(str, source)) for source in inputs]
    return EmbeddingsAsk(
        model=model,
        last_user="\n".join(texts),
        prompt_tokens=sum(tokens),
        stream=False,
        messages=tuple(Message("user", text) for text in texts),
        inputs=tuple(inputs),
        dimensions=dimensions,
        encoding=encoding,
    )
