"""The OpenAPI checks the wire tests rely on are strict: what the official document forbids, they refuse."""

from __future__ import annotations

import pytest
from helpers import validate_openapi


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "input": "x", "extra": 1},  # additionalProperties: false
        {"model": "m", "input": "x", "dimensions": 0},  # minimum: 1
        {"model": "m", "input": "x", "encoding_format": "md5"},  # enum
        {"model": "m"},  # required
    ],
)
def test_a_payload_the_document_forbids_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(AssertionError):
        validate_openapi("CreateEmbeddingRequest", body)


def test_nullable_fields_accept_null() -> None:
    validate_openapi("CreateEmbeddingRequest", {"model": "m", "input": "x"})
    validate_openapi("ChatCompletionStreamResponseDelta", {"role": "assistant", "content": None, "refusal": None})
