"""Legacy Completions requests (`POST /v1/completions`), checked as the real API checks them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.ask import Ask, Message
from ..scenario.tokens import count_tokens
from . import params, validation
from .chat_request import stop_sequences
from .errors import invalid, missing

DEFAULT_MAX_TOKENS = 16
MAX_CHOICES = 128  # prompts times n: a small request must not ask for a huge answer


@dataclass(slots=True)
class CompletionsAsk(Ask):
    """A completions request: one choice per prompt and per `n`, the prompt's choices together."""

    echo: list[str] | None = None  # with `echo`, the prompts, sent before each choice's text
    per_prompt: int = 1  # the request's `n`


def _prompts(body: Mapping[str, Any]) -> list[str]:
    """The prompts as text: a string, a list of strings, or token arrays (counted, not decoded)."""
    if "prompt" not in body:
        raise missing("prompt")
    prompt = body["prompt"]
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(item, str) for item in prompt):
            return list(prompt)
        if all(isinstance(item, int) and not isinstance(item, bool) for item in prompt):
            return [" ".join(map(str, prompt))]
        if all(isinstance(item, list) for item in prompt):
            return [" ".join(map(str, item)) for item in prompt]
    raise params.wrong_type("prompt", "a string, an array of strings, or an array of token arrays", prompt)


def parse_request(body: Mapping[str, Any]) -> CompletionsAsk:
    """Check a legacy completions request as the real API does; an unknown parameter's 400 waits, as in chat."""
    model = params.model(body)
    return validation.checked(body, validation.COMPLETIONS, lambda: _parse(body, model))


def _parse(body: Mapping[str, Any], model: str) -> CompletionsAsk:
    prompts = _prompts(body)
    validation.check_params(body, validation.COMPLETIONS, skip=("model", "prompt"))
    stream, options = params.stream_options(body)
    limit = body.get("max_tokens")
    logprobs = body.get("logprobs")
    echo = body.get("echo") is True
    n = body.get("n") or 1
    if n * len(prompts) > MAX_CHOICES:
        raise invalid(
            f"Invalid 'prompt': {len(prompts)} prompts with n={n} make {n * len(prompts)} choices; "
            f"at most {MAX_CHOICES} are answered.",
            "prompt",
        )
    return CompletionsAsk(
        model=model,
        last_user=prompts[-1],
        prompt_tokens=sum(count_tokens(prompt) for prompt in prompts),
        stream=stream,
        include_usage=params.flag(options, "include_usage", False),
        max_tokens=DEFAULT_MAX_TOKENS if limit is None else limit,
        n=n * len(prompts),  # one choice per prompt and per n, the prompt's choices together
        logprobs=logprobs is not None,
        top_logprobs=logprobs or 0,
        obfuscation=False,
        text_only=True,
        echo=prompts if echo else None,
        per_prompt=n,
        messages=tuple(Message("user", prompt) for prompt in prompts),
        stop=stop_sequences(body),
    )
