"""The well-known OpenAI models and their limits — the largest prompt, the largest completion, reasoning or
not — and the 400s the real API gives a request beyond them. A model missing here (or a scenario's name used as
the model) has no limits: the mock answers it as scripted.

Sources: the published model pages as mirrored by LiteLLM's and LangChain's model tables; `context` is the
largest prompt (for the gpt-5 family, the window less the output), `output` the largest completion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ApiError, invalid


@dataclass(frozen=True)
class ModelSpec:
    context: int  # tokens a prompt may take
    output: int  # tokens a completion may take
    reasoning: bool  # a reasoning model: `max_completion_tokens`, never `max_tokens`


_GPT4O = ModelSpec(128_000, 16_384, False)
_GPT41 = ModelSpec(1_047_576, 32_768, False)
_O_SERIES = ModelSpec(200_000, 100_000, True)
_GPT5 = ModelSpec(272_000, 128_000, True)
_CHAT_LATEST = ModelSpec(128_000, 16_384, False)
_MILLION = ModelSpec(1_050_000, 128_000, True)

MODELS: dict[str, ModelSpec] = {
    "gpt-3.5-turbo": ModelSpec(16_385, 4_096, False),
    "gpt-3.5-turbo-instruct": ModelSpec(8_192, 4_096, False),
    "gpt-4": ModelSpec(8_192, 8_192, False),
    "gpt-4-turbo": ModelSpec(128_000, 4_096, False),
    "gpt-4o": _GPT4O,
    "gpt-4o-2024-05-13": ModelSpec(128_000, 4_096, False),
    "gpt-4o-mini": _GPT4O,
    "chatgpt-4o-latest": _GPT4O,
    "gpt-4.1": _GPT41,
    "gpt-4.1-mini": _GPT41,
    "gpt-4.1-nano": _GPT41,
    "o1": _O_SERIES,
    "o1-pro": _O_SERIES,
    "o1-mini": ModelSpec(128_000, 65_536, True),
    "o1-preview": ModelSpec(128_000, 32_768, True),
    "o3": _O_SERIES,
    "o3-mini": _O_SERIES,
    "o3-pro": _O_SERIES,
    "o4-mini": _O_SERIES,
    "codex-mini-latest": _O_SERIES,
    "gpt-5": _GPT5,
    "gpt-5-mini": _GPT5,
    "gpt-5-nano": _GPT5,
    "gpt-5-pro": ModelSpec(272_000, 272_000, True),
    "gpt-5-codex": _GPT5,
    "gpt-5-chat-latest": _CHAT_LATEST,
    "gpt-5.1": _GPT5,
    "gpt-5.1-codex": _GPT5,
    "gpt-5.1-codex-max": _GPT5,
    "gpt-5.1-codex-mini": _GPT5,
    "gpt-5.1-chat-latest": _CHAT_LATEST,
    "gpt-5.2": _GPT5,
    "gpt-5.2-pro": _GPT5,
    "gpt-5.2-codex": _GPT5,
    "gpt-5.2-chat-latest": _CHAT_LATEST,
    "gpt-5.3-codex": _GPT5,
    "gpt-5.3-chat-latest": _CHAT_LATEST,
    "gpt-5.4": _MILLION,
    "gpt-5.4-mini": _GPT5,
    "gpt-5.4-nano": _GPT5,
    "gpt-5.4-pro": _MILLION,
    "gpt-5.5": _MILLION,
    "gpt-5.5-pro": _MILLION,
    "gpt-5.6-sol": _MILLION,
    "gpt-5.6-terra": _MILLION,
    "gpt-5.6-luna": _MILLION,
    "gpt-6-sol": _MILLION,
    "gpt-6-luna": _MILLION,
    "gpt-6-astra": _MILLION,
    "gpt-6.1-sol": _MILLION,
    "gpt-6.1-terra": _MILLION,
    "gpt-6.2-sol": _MILLION,
    "gpt-6.2-astra": _MILLION,
}
# A dated snapshot (gpt-4o-2024-08-06, gpt-4-0613) has the limits of its model unless listed itself.
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def spec_of(model: str) -> ModelSpec | None:
    spec = MODELS.get(model)
    if spec is None and model[-1:].isdigit() and _SNAPSHOT.search(model):
        spec = MODELS.get(_SNAPSHOT.sub("", model))
    return spec


def chat_limits(model: str, key: str | None, limit: int | None, messages: int, tools: int) -> ApiError | None:
    """What the real API refuses of a chat request for this model: `max_tokens` on a reasoning model, a completion
    budget over the model's output limit, a prompt over its context window."""
    spec = spec_of(model)
    if spec is None:
        return None
    if key == "max_tokens" and spec.reasoning:
        return invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' "
            "instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    if key is not None and limit is not None and limit > spec.output:
        return invalid(
            f"{key} is too large: {limit}. This model supports at most {spec.output} completion tokens, whereas you "
            f"provided {limit}.",
            key,
            "invalid_value",
        )
    if messages + tools > spec.context:
        if tools:
            detail = f"{messages + tools} tokens ({messages} in the messages, {tools} in the functions)"
            reduce = "the messages or functions"
        else:
            detail, reduce = f"{messages} tokens", "the messages"
        return invalid(
            f"This model's maximum context length is {spec.context} tokens. However, your messages resulted in "
            f"{detail}. Please reduce the length of {reduce}.",
            "messages",
            "context_length_exceeded",
        )
    return None


def responses_limits(model: str, tokens: int) -> ApiError | None:
    """A Responses prompt over the model's context window (tools and instructions counted in)."""
    spec = spec_of(model)
    if spec is None or tokens <= spec.context:
        return None
    return invalid(
        "Your input exceeds the context window of this model. Please adjust your input and try again.",
        "input",
        "context_length_exceeded",
    )
