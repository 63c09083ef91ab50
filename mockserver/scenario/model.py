"""The script model: what a scenario says, independent of YAML and of any wire format.

The loader builds these objects once, at load time; renderers read them for every request. Anything that
can be worked out before a request arrives (token pieces, their JSON) is worked out here, so the hot
path only has to assemble.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar, cast

from .chaos import ChaosSpec
from .endpoints import ModerationScript, Vector
from .quota import Quota
from .tokens import split_tokens

FinishReason = Literal["stop", "length", "content_filter", "tool_calls"]
Shaped = Literal["body", "json"]
FINISH_REASONS: tuple[FinishReason, ...] = ("stop", "length", "content_filter", "tool_calls")

# What a chunk carries. A tool call streams as a header chunk (its id and name, no tokens), then its arguments.
ChunkKind = Literal["content", "reasoning", "refusal", "tool_call", "arguments"]
CONTENT: ChunkKind = "content"
REASONING: ChunkKind = "reasoning"
REFUSAL: ChunkKind = "refusal"
TOOL_CALL: ChunkKind = "tool_call"
ARGUMENTS: ChunkKind = "arguments"

# What a `chunks` item that is not content does: an error event, a cut connection, a clean early end, a stall,
# raw bytes, a keep-alive comment — or `wait`, time spent on what a wire format leaves out.
FaultKind = Literal["error", "disconnect", "end", "stall", "wait", "raw", "keepalive"]
# Faults that end a stream early: nothing scripted after them is sent.
ENDINGS: tuple[FaultKind, ...] = ("error", "disconnect", "end")
# Faults that only pass time: a scripted stall, and a silent wait.
SILENCES: tuple[FaultKind, ...] = ("stall", "wait")

# What a `keepalive: true` item sends: an SSE comment, which every client must ignore.
KEEPALIVE = b": keep-alive\n\n"
MID_STREAM_ERROR: Mapping[str, Any] = {
    "message": "The server experienced an error while processing your request. We apologize for the inconvenience!",
    "type": "server_error",
    "param": None,
    "code": None,
}

T = TypeVar("T")


class MemoKind(Generic[T]):
    """A kind of work derived from an answer (its schedule, a renderer's bytes), typed by its result: the memo
    hands back a `T` for a `MemoKind[T]`, whatever other kinds it holds."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"MemoKind({self.name!r})"


class Memo:
    """Work a renderer or the scheduler does once per answer instead of once per request. It belongs to one
    answer: `derive()` (and `dataclasses.replace`) give a derived answer an empty memo of its own, so it can
    never serve another answer's bytes."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[tuple[Hashable, ...], Any] = {}

    def get(self, kind: MemoKind[T], key: Hashable, compute: Callable[[], T]) -> T:
        """The value of `kind` for `key`, computed on first use."""
        try:
            return cast(T, self._values[kind, key])
        except KeyError:
            value = self._values[kind, key] = compute()
            return value


@dataclass(frozen=True)
class Chunk:
    """One delta, with the delay before it (`None`: the step's ttft/interval applies). `kind` says what it
    carries: content, reasoning, refusal, a tool call's header, or a piece of a tool call's arguments (`tool`
    is then the call's index)."""

    content: str
    delay_ms: float | None = None
    kind: ChunkKind = CONTENT
    tool: int | None = None
    logprob: float | None = None  # a scripted logprob for every token of this chunk
    tokens: tuple[str, ...] = field(init=False)
    content_json: str = field(init=False)  # the content as compact JSON, non-ASCII kept as UTF-8

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", split_tokens(self.content))
        object.__setattr__(self, "content_json", json.dumps(self.content, ensure_ascii=False))


@dataclass(frozen=True)
class ToolCall:
    """A function call the answer makes; `arguments` is the JSON text streamed, `id` the scripted call id
    (without one, each answer draws its own). With `auto`, the arguments are made from the tool's schema in
    the request."""

    index: int
    name: str
    arguments: str
    id: str | None = None
    auto: bool = False


@dataclass(frozen=True)
class Usage:
    """A scripted override of the reported token counts; a field left `None` is computed (the cached tokens:
    0)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None  # of the completion tokens, those spent reasoning
    cached_tokens: int | None = None  # of the prompt tokens, those read from the cache


@dataclass(frozen=True)
class Hangup:
    """How a `disconnect` (or `close`) ends a WebSocket connection: the close code sent (1006: dropped without a
    close frame; 1005: a close frame without a code) with its reason, and how many of the session's next upgrades
    are refused, with which HTTP status. Over HTTP the connection is cut all the same."""

    code: int = 1006
    reason: str = ""
    refuse: int = 0
    refuse_status: int = 503


@dataclass(frozen=True)
class Fault:
    """A `chunks` item that is not content: an error event, a cut connection, a clean early end, a stall,
    raw bytes, or a keep-alive comment."""

    kind: FaultKind
    delay_ms: float | None = None  # the wait before it; for a stall, how long nothing is sent
    raw: bytes = b""  # for raw: the bytes, verbatim
    # For error: the error object sent in the event; with `status`, only the fields the script gave (the rest are
    # that status's defaults, filled in when the model is known).
    error: Mapping[str, Any] | None = None
    standalone: bool = False  # for error, in the Responses API: the flat `error` event alone
    status: int | None = None  # for error: the HTTP status whose default error this is (not streaming: the status)
    hangup: Hangup | None = None  # for disconnect: how a WebSocket connection ends (None: dropped)


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error answered instead of a stream. Unset fields take the real API's defaults for the status."""

    status: int
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after: float | str | None = None  # seconds, or an HTTP date
    retry_after_ms: float | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # Which of message/type/code/param the script set explicitly (a scripted `code: null` must stay null).
    given: frozenset[str] = frozenset()
    latency_ms: float = 0.0
    jitter_ms: float = 0.0


@dataclass(frozen=True)
class Answer:
    """A streamed answer: content chunks and faults in order, how it ends, its timing, its chaos."""

    items: tuple[Chunk | Fault, ...]
    finish_reason: FinishReason = "stop"
    tool_calls: tuple[ToolCall, ...] = ()
    ttft_ms: float = 0.0
    interval_ms: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    usage: Usage | None = None
    model: str | None = None
    system_fingerprint: str | None = None  # None: one derived from the model
    chaos: ChaosSpec | None = None
    raw_reasoning: bool | None = None  # stream reasoning text as open-weight servers do (None: the server's default)
    # Other answers for requests with n > 1: choice i answers with choices[i % len(choices)].
    choices: tuple[Answer, ...] = ()
    # What /v1/embeddings and /v1/moderations answer, per input (repeating); None: computed from the input.
    embeddings: tuple[Vector, ...] | None = None
    moderation: tuple[ModerationScript, ...] | None = None
    # What the request decides: the whole answer ("body": none was scripted), or the content ("json": `json: auto`,
    # a document made from the request's schema).
    shaped: Shaped | None = None
    auto_call: bool = False  # `tool_calls: auto`: a call of the function the request forces, or of one it offers
    memo: Memo = field(init=False, default_factory=Memo, compare=False, repr=False)
    chunks: tuple[Chunk, ...] = field(init=False, compare=False, repr=False)  # the items that are deltas
    content: str = field(init=False, compare=False, repr=False)
    completion_tokens: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        chunks = tuple(item for item in self.items if isinstance(item, Chunk))
        object.__setattr__(self, "chunks", chunks)
        object.__setattr__(self, "content", text_of(chunks, CONTENT))
        object.__setattr__(self, "completion_tokens", sum(len(chunk.tokens) for chunk in chunks))


def derive(answer: Answer, **changes: Any) -> Answer:
    """The answer with `changes`: a new answer, with derived fields and an empty memo of its own."""
    return replace(answer, **changes)


def text_of(chunks: tuple[Chunk, ...], kind: ChunkKind) -> str:
    """The text the chunks of one kind carry (content, reasoning or refusal)."""
    return "".join(chunk.content for chunk in chunks if chunk.kind == kind)


def tokens_of(chunks: tuple[Chunk, ...], kind: ChunkKind) -> int:
    return sum(len(chunk.tokens) for chunk in chunks if chunk.kind == kind)


Step = Answer | ErrorReply


@dataclass(frozen=True)
class TextRule:
    """Text that must be there: `contains` (any case) and `regex` (searched)."""

    contains: str | None = None
    regex: re.Pattern[str] | None = None

    def describe(self) -> dict[str, str]:
        rules = {"contains": self.contains, "regex": self.regex.pattern if self.regex else None}
        return {key: value for key, value in rules.items() if value is not None}


@dataclass(frozen=True)
class ToolResultRule(TextRule):
    """A tool result since the last assistant turn: of the function `name` (a glob), with this text."""

    name: str | None = None

    def describe(self) -> dict[str, str]:
        return {**({"name": self.name} if self.name is not None else {}), **super().describe()}


@dataclass(frozen=True)
class Match:
    """Rules on the request and its conversation; every rule given must hold (`engine/matching.py` checks them)."""

    model: str | None = None  # a glob
    contains: str | None = None  # in the last user message
    regex: re.Pattern[str] | None = None  # searched in the last user message
    last_role: str | None = None  # user, assistant, tool or system
    tool_result: ToolResultRule | None = None
    turn: tuple[int, int | None] | None = None  # assistant turns so far: at least, at most (None: no bound)
    system: TextRule | None = None  # on the system and developer messages
    tools: tuple[str, ...] = ()  # globs, each naming a function the request must offer
    tool_choice: str | None = None  # auto, none, required, or the function forced
    response_format: str | None = None  # text, json_object or json_schema
    response_format_name: str | None = None  # a glob on the json_schema's name
    headers: tuple[tuple[str, str], ...] = ()  # (lower-case name, glob on the value)
    metadata: tuple[tuple[str, str], ...] = ()  # (key, glob on the value)

    def describe(self) -> dict[str, Any]:
        """The rules given, as a scenario file writes them."""
        rules: dict[str, Any] = {
            "model": self.model,
            "contains": self.contains,
            "regex": self.regex and self.regex.pattern,
        }
        rules["last_role"] = self.last_role
        rules["tool_result"] = self.tool_result.describe() if self.tool_result else None
        if self.turn is not None:
            low, high = self.turn
            rules["turn"] = low if low == high else {"min": low, **({"max": high} if high is not None else {})}
        rules["system"] = self.system.describe() if self.system else None
        rules["tools"] = list(self.tools) or None
        rules["tool_choice"] = self.tool_choice
        if self.response_format_name is not None:
            rules["response_format"] = {"type": self.response_format, "name": self.response_format_name}
        else:
            rules["response_format"] = self.response_format
        rules["headers"] = dict(self.headers) or None
        rules["metadata"] = dict(self.metadata) or None
        return {key: value for key, value in rules.items() if value is not None}


@dataclass(frozen=True)
class Scenario:
    """A named script: one step, or a sequence of steps answered in turn (the last one repeating)."""

    name: str
    steps: tuple[Step, ...]
    is_sequence: bool = False
    description: str | None = None
    match: Match | None = None
    rate_limit: Quota | None = None  # a quota of the scenario's own
    source: str = "<inline>"
    line: int = 0
    accept_unknown_params: bool = False  # let parameters the API does not know through (vendor extras)

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"
