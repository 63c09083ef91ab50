"""Moderation requests (`POST /v1/moderations`), checked as the real API checks them: `input` as a text, a list
of texts, or a list of text and image parts; `model` optional."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.ask import Ask, Message
from ..scenario.tokens import count_tokens_once
from . import params
from .errors import invalid, missing

# What the real API answers a request without a model with (the docs say omni; the wire says otherwise).
DEFAULT_MODEL = "text-moderation-latest"
_PART_TYPES = ("text", "image_url")
MAX_INPUTS = 2048  # texts in one request: the mock's own limit, as for embeddings
_INPUT_TYPES = "one of a string, an array of strings, or an array of objects"


@dataclass(frozen=True)
class Moderated:
    """One input that gets one result: its text, and how many images came with it."""

    text: str
    images: int = 0


@dataclass(slots=True)
class ModerationsAsk(Ask):
    inputs: tuple[Moderated, ...] = ()


def legacy(model: str) -> bool:
    """Whether the model is a text-moderation one: 11 categories, text only, no applied input types."""
    return model.startswith("text-moderation")


def _parts(parts: list[Any]) -> Moderated:
    """A multi-modal input: text and image parts, moderated together."""
    texts, images = [], 0
    for index, part in enumerate(parts):
        where = f"input[{index}]"
        if not isinstance(part, Mapping):
            raise params.wrong_type("input", _INPUT_TYPES, parts)
        if "type" not in part:
            raise missing(f"{where}.type")
        if part["type"] not in _PART_TYPES:
            raise invalid(
                f"Invalid value: {json.dumps(part['type'])}. Supported values are: 'text' and 'image_url'.",
                f"{where}.type",
                "invalid_value",
            )
        if part["type"] == "text":
            if "text" not in part:
                raise missing(f"{where}.text")
            if not isinstance(part["text"], str):
                raise params.wrong_type(f"{where}.text", "a string", part["text"])
            texts.append(part["text"])
            continue
        image = part.get("image_url")
        if image is None:
            raise missing(f"{where}.image_url")
        if not isinstance(image, Mapping):
            raise params.wrong_type(f"{where}.image_url", "an object", image)
        if "url" not in image:
            raise missing(f"{where}.image_url.url")
        if not isinstance(image["url"], str):
            raise params.wrong_type(f"{where}.image_url.url", "a string", image["url"])
        images += 1
    return Moderated("\n".join(texts), images)


def _inputs(body: Mapping[str, Any]) -> list[Moderated]:
    if "input" not in body:
        raise missing("input")
    value = body["input"]
    if isinstance(value, str):
        return [Moderated(value)]
    if not isinstance(value, list):
        raise params.wrong_type("input", _INPUT_TYPES, value)
    if not value:
        raise invalid(
            "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "input",
            "empty_array",
        )
    if all(isinstance(item, str) for item in value):
        if len(value) > MAX_INPUTS:
            raise invalid(
                f"Invalid 'input': array too long. Expected an array with maximum length {MAX_INPUTS}, but got an "
                f"array with length {len(value)} instead.",
                "input",
                "array_above_max_length",
            )
        return [Moderated(item) for item in value]
    return [_parts(value)]


def parse_request(body: Mapping[str, Any]) -> ModerationsAsk:
    model = params.optional(body, "model", str, "a string") or DEFAULT_MODEL
    inputs = _inputs(body)
    if legacy(model) and any(moderated.images for moderated in inputs):
        raise invalid(f"Invalid 'input': {model} moderates text only; images need an omni-moderation model.", "input")
    texts = [moderated.text for moderated in inputs]
    return ModerationsAsk(
        model=model,
        last_user="\n".join(texts),
        prompt_tokens=sum(count_tokens_once(text) for text in texts),
        stream=False,
        messages=tuple(Message("user", text) for text in texts),
        inputs=tuple(inputs),
    )
