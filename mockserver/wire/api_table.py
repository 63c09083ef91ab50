"""The request parameters of each endpoint, from the official OpenAPI document (version 2.3.0):
their JSON types (null aside), allowed values and bounds, `key.member` one level into objects.

Written by tools/api_table.py; run it again when the API changes, never edit this file by hand.
"""

from __future__ import annotations

from typing import NamedTuple


class P(NamedTuple):
    """One parameter: the JSON types it may have, and the rules of each."""

    types: tuple[str, ...]
    enum: tuple[str, ...] = ()  # the values a string may take (empty: any)
    minimum: float | None = None
    maximum: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    max_length: int | None = None


CHAT_REQUIRED = ("model", "messages")
CHAT: dict[str, P] = {
    "audio": P(("object",)),
    "audio.format": P(("string",), enum=("wav", "aac", "mp3", "flac", "opus", "pcm16")),
    "audio.voice": P(("string", "object")),
    "frequency_penalty": P(("number",), minimum=-2, maximum=2),
    "function_call": P(("string", "object"), enum=("none", "auto")),
    "functions": P(("array",), min_items=1, max_items=128),
    "logit_bias": P(("object",)),
    "logprobs": P(("boolean",)),
    "max_completion_tokens": P(("integer",)),
    "max_tokens": P(("integer",)),
    "messages": P(("array",), min_items=1),
    "metadata": P(("object",)),
    "modalities": P(("array",)),
    "model": P(("string",)),
    "moderation": P(("object",)),
    "moderation.model": P(("string",)),
    "moderation.policy": P(("object",)),
    "n": P(("integer",), minimum=1, maximum=128),
    "parallel_tool_calls": P(("boolean",)),
    "prediction": P(("object",)),
    "prediction.content": P(("string", "array"), min_items=1),
    "prediction.type": P(("string",), enum=("content",)),
    "presence_penalty": P(("number",), minimum=-2, maximum=2),
    "prompt_cache_key": P(("string",)),
    "prompt_cache_options": P(("object",)),
    "prompt_cache_options.mode": P(("string",), enum=("implicit", "explicit")),
    "prompt_cache_options.ttl": P(("string",), enum=("30m",)),
    "prompt_cache_retention": P(("string",), enum=("in_memory", "24h")),
    "reasoning_effort": P(("string",), enum=("none", "minimal", "low", "medium", "high", "xhigh", "max")),
    "response_format": P(("object",)),
    "response_format.json_schema": P(("object",)),
    "response_format.type": P(("string",), enum=("text", "json_schema", "json_object")),
    "safety_identifier": P(("string",), max_length=64),
    "seed": P(("integer",), minimum=-9223372036854776000, maximum=9223372036854776000),
    "service_tier": P(("string",), enum=("auto", "default", "flex", "scale", "priority", "fast")),
    "stop": P(("string", "array"), min_items=1, max_items=4),
    "store": P(("boolean",)),
    "stream": P(("boolean",)),
    "stream_options": P(("object",)),
    "stream_options.include_obfuscation": P(("boolean",)),
    "stream_options.include_usage": P(("boolean",)),
    "temperature": P(("number",), minimum=0, maximum=2),
    "tool_choice": P(("string", "object"), enum=("none", "auto", "required")),
    "tools": P(("array",)),
    "top_logprobs": P(("integer",), minimum=0, maximum=20),
    "top_p": P(("number",), minimum=0, maximum=1),
    "user": P(("string",)),
    "verbosity": P(("string",), enum=("low", "medium", "high")),
    "web_search_options": P(("object",)),
    "web_search_options.search_context_size": P(("string",), enum=("low", "medium", "high")),
    "web_search_options.user_location": P(("object",)),
}

COMPLETIONS_REQUIRED = ("model", "prompt")
COMPLETIONS: dict[str, P] = {
    "best_of": P(("integer",), minimum=0, maximum=20),
    "echo": P(("boolean",)),
    "frequency_penalty": P(("number",), minimum=-2, maximum=2),
    "logit_bias": P(("object",)),
    "logprobs": P(("integer",), minimum=0, maximum=5),
    "max_tokens": P(("integer",), minimum=0),
    "model": P(("string",)),
    "n": P(("integer",), minimum=1, maximum=128),
    "presence_penalty": P(("number",), minimum=-2, maximum=2),
    "prompt": P(("string", "array")),
    "seed": P(("integer",)),
    "stop": P(("string", "array"), min_items=1, max_items=4),
    "stream": P(("boolean",)),
    "stream_options": P(("object",)),
    "stream_options.include_obfuscation": P(("boolean",)),
    "stream_options.include_usage": P(("boolean",)),
    "suffix": P(("string",)),
    "temperature": P(("number",), minimum=0, maximum=2),
    "top_p": P(("number",), minimum=0, maximum=1),
    "user": P(("string",)),
}

RESPONSES_REQUIRED = ()
RESPONSES: dict[str, P] = {
    "background": P(("boolean",)),
    "context_management": P(("array",), min_items=1),
    "conversation": P(("string", "object")),
    "include": P(("array",)),
    "input": P(("string", "array")),
    "instructions": P(("string",)),
    "max_output_tokens": P(("integer",), minimum=16),
    "max_tool_calls": P(("integer",)),
    "metadata": P(("object",)),
    "model": P(("string",)),
    "moderation": P(("object",)),
    "moderation.model": P(("string",)),
    "moderation.policy": P(("object",)),
    "parallel_tool_calls": P(("boolean",)),
    "previous_response_id": P(("string",)),
    "prompt": P(("object",)),
    "prompt.id": P(("string",)),
    "prompt.variables": P(("object",)),
    "prompt.version": P(("string",)),
    "prompt_cache_key": P(("string",)),
    "prompt_cache_options": P(("object",)),
    "prompt_cache_options.mode": P(("string",), enum=("implicit", "explicit")),
    "prompt_cache_options.ttl": P(("string",), enum=("30m",)),
    "prompt_cache_retention": P(("string",), enum=("in_memory", "24h")),
    "reasoning": P(("object",)),
    "reasoning.context": P(("string",), enum=("auto", "current_turn", "all_turns")),
    "reasoning.effort": P(("string",), enum=("none", "minimal", "low", "medium", "high", "xhigh", "max")),
    "reasoning.generate_summary": P(("string",), enum=("auto", "concise", "detailed")),
    "reasoning.mode": P(("string",)),
    "reasoning.summary": P(("string",), enum=("auto", "concise", "detailed")),
    "safety_identifier": P(("string",), max_length=64),
    "service_tier": P(("string",), enum=("auto", "default", "flex", "scale", "priority", "fast", "ultrafast")),
    "store": P(("boolean",)),
    "stream": P(("boolean",)),
    "stream_options": P(("object",)),
    "stream_options.include_obfuscation": P(("boolean",)),
    "temperature": P(("number",), minimum=0, maximum=2),
    "text": P(("object",)),
    "text.format": P(("object",)),
    "text.verbosity": P(("string",), enum=("low", "medium", "high")),
    "tool_choice": P(("string", "object"), enum=("none", "auto", "required")),
    "tools": P(("array",)),
    "top_logprobs": P(("integer",), minimum=0, maximum=20),
    "top_p": P(("number",), minimum=0, maximum=1),
    "truncation": P(("string",), enum=("auto", "disabled")),
    "user": P(("string",)),
}
