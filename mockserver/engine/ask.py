"""What the engine needs from a request, whatever its wire format. A wire format's request checks build one
(or a subclass with what only that format needs); choosing, planning and rendering read it, never the raw body.

The conversation is kept in one shape for every wire format — chat messages, Responses input items and a legacy
prompt all become `Message`s — so a `match` rule reads the same on each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]
# What the request lets the model do with its tools: call none, any or at least one, or call one named function.
ToolMode = Literal["auto", "none", "required", "function"]
FormatType = Literal["text", "json_object", "json_schema"]


@dataclass(frozen=True, slots=True)
class Call:
    """A tool call an assistant turn made."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of the conversation: its role and text; an assistant turn's tool calls; for a tool result, the
    id of the call it answers."""

    role: Role
    text: str = ""
    calls: tuple[Call, ...] = ()
    call_id: str | None = None


def latest_tool_results(conversation: tuple[Message, ...]) -> list[tuple[str, Message]]:
    """The tool results since the last assistant turn, in order, each with the name of the function whose call it
    answers ("" when no turn made that call)."""
    results = []
    for message in reversed(conversation):
        if message.role == "assistant":
            break
        if message.role == "tool":
            results.append(message)
    if not results:
        return []
    names = {call.id: call.name for turn in conversation for call in turn.calls}
    return [(names.get(result.call_id or "", ""), result) for result in reversed(results)]


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the request offers the model, with its JSON schema (None: it takes no parameters)."""

    name: str
    parameters: Mapping[str, Any] | None = None
    strict: bool = False


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """What the request asks the answer's text to be (`response_format`, `text.format`): `name` and `schema` for
    `json_schema`."""

    type: FormatType = "text"
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool = False


TEXT = OutputFormat()


@dataclass(slots=True)
class Ask:
    model: str
    last_user: str  # the text of the last user message, for `match`
    prompt_tokens: int
    stream: bool
    include_usage: bool = False
    max_tokens: int | None = None
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    obfuscation: bool | None = None  # None: the server's default
    text_only: bool = False  # the wire format has room for content alone (legacy completions)
    reasoning_effort: str | None = None  # as the request asks (`reasoning_effort`, `reasoning.effort`)
    raw_reasoning: bool = False  # stream reasoning text as open-weight servers do (the server's default)
    service_tier: str | None = None  # as the request asks
    messages: tuple[Message, ...] = ()  # this request's conversation, in order
    # Turns before this request's own, that the request refers to (a stored response chain, a conversation).
    prior: tuple[Message, ...] = ()
    tools: tuple[Tool, ...] = ()  # the function tools offered, in order
    tool_choice: ToolMode = "none"  # as it applies: without a choice, "auto" when tools are offered, else "none"
    forced_tool: str | None = None  # the function a named tool_choice forces
    parallel_tool_calls: bool = True
    output: OutputFormat = TEXT
    stop: tuple[str, ...] = ()  # stop sequences (chat and legacy completions)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tool_tokens: int = 0  # tokens of the tool definitions, counted towards the context window
    # The 400 for the first parameter the API does not know, raised unless unknown parameters are accepted (by the
    # server or by the scenario chosen): it waits until the scenario is known.
    unknown_parameter: Exception | None = None
    # The 400 for going beyond the model's limits (context window, completion tokens), raised unless the model
    # names a scenario.
    model_refusal: Exception | None = None
    # Whether a streamed request gets such a refusal inside its stream (Responses) rather than as an HTTP 400.
    refuses_in_stream: ClassVar[bool] = False

    @property
    def conversation(self) -> tuple[Message, ...]:
        """Every turn, the prior ones first."""
        return self.prior + self.messages if self.prior else self.messages

    def tool(self, name: str) -> Tool | None:
        """The offered function of that name."""
        return next((tool for tool in self.tools if tool.name == name), None)
