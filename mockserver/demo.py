"""`mockserver demo`: the ways a stream ends, each streamed live through the openai SDK from an in-process
server, then how the client saw it. Learning what a client must handle is easier watching it happen."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any

from .scenario.load import BUNDLED, load_paths
from .server.app import create_app
from .server.runner import BackgroundServer
from .server.sessions import SESSION_PREFIX
from .server.settings import Settings
from .testing import OpenAIMock

# The walk-through: a complete answer, the two early endings, a 429 that clears, one that does not, and an
# error in the middle of a stream.
ENDINGS = (
    "finish-stop",
    "finish-length",
    "finish-content-filter",
    "rate-limit-recovers",
    "rate-limit",
    "fault-error-event",
)
MEANING = {
    "stop": "the answer is complete",
    "length": "the token limit cut the answer: raise max_tokens or ask the model to continue",
    "content_filter": "the content filter stopped the answer: keep what arrived, and say so",
    "tool_calls": "the model asks for tool calls: run them and send the results back",
    None: "the stream ended without a finish_reason: the answer may be incomplete",
}
MISSING_SDK = "mockserver demo needs the openai package: pip install 'mockserver[demo]' (or: pip install openai)"


@dataclass
class Seen:
    """One answer as the client saw it."""

    finish_reason: str | None = None
    error: BaseException | None = None
    first_token: float | None = None  # seconds from the call to the first text
    total: float = 0.0
    tool_calls: dict[int, list[str]] = field(default_factory=dict)  # index -> [name, arguments]


def run(args: argparse.Namespace) -> int:
    """`mockserver demo [--scenario NAME] [--speed F]`; the SDK is imported here, as only the demo needs it."""
    try:
        import openai
    except ImportError:
        print(MISSING_SDK, file=sys.stderr)
        return 1
    result = load_paths([BUNDLED])
    result.raise_for_problems()
    scenarios = {scenario.name: scenario for scenario in result.scenarios}
    if args.scenario is not None and args.scenario not in scenarios:
        print(f"mockserver demo: no bundled scenario named {args.scenario!r} (see: mockserver list)", file=sys.stderr)
        return 2
    names = [args.scenario] if args.scenario else list(ENDINGS)
    try:
        with BackgroundServer(create_app(result.scenarios, Settings(speed=args.speed))) as server:
            print(f"mockserver demo: streaming through openai {openai.__version__} from {server.root_url}/v1")
            for name in names:
                # A session per scenario: sequence counts start afresh, and the journal tells its attempts apart.
                session = f"demo-{name}"
                print(f"\n== {name}: {scenarios[name].description or ''}".rstrip(), flush=True)
                with openai.OpenAI(base_url=f"{server.root_url}{SESSION_PREFIX}{session}/v1", api_key="demo") as client:
                    seen = stream(client, name)
                report(seen, len(OpenAIMock(server.root_url, session).requests))
    except KeyboardInterrupt:
        return 130
    if not args.scenario:
        print("\nOne scenario at a time: mockserver demo --scenario NAME (mockserver list shows them all).")
    return 0


def report(seen: Seen, attempts: int) -> None:
    """How the client saw the answer: its ending, the attempts it took and when the first text came."""
    for index, (name, arguments) in sorted(seen.tool_calls.items()):
        print(f"   tool call {index}:  {name}({arguments})")
    if seen.error is not None:
        print(f"   ended:        the client raised {describe(seen.error)}")
    else:
        meaning = MEANING.get(seen.finish_reason, "see the API reference")
        print(f"   ended:        finish_reason {json.dumps(seen.finish_reason)} - {meaning}")
    print(f"   attempts:     {attempts}")
    first = f"{seen.first_token:.2f} s" if seen.first_token is not None else "none arrived"
    print(f"   first token:  {first} (total {seen.total:.2f} s)", flush=True)


def stream(client: Any, model: str) -> Seen:
    """Stream one answer to the terminal as it arrives, noting how it ended and when."""
    seen = Seen()
    printed = False
    start = time.perf_counter()
    try:
        answer = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Show me how this ends."}], stream=True
        )
        for chunk in answer:
            for choice in chunk.choices:
                text = choice.delta.content or choice.delta.refusal
                if (text or choice.delta.tool_calls) and seen.first_token is None:
                    seen.first_token = time.perf_counter() - start
                if text:
                    print(text, end="", flush=True)
                    printed = True
                for call in choice.delta.tool_calls or []:
                    parts = seen.tool_calls.setdefault(call.index, ["", ""])
                    if call.function is not None:
                        parts[0] += call.function.name or ""
                        parts[1] += call.function.arguments or ""
                seen.finish_reason = choice.finish_reason or seen.finish_reason
    except Exception as exc:  # whatever the client raised is what the demo is there to show
        seen.error = exc
    seen.total = time.perf_counter() - start
    if printed:
        print()  # end the streamed text's line
    return seen


def describe(error: BaseException) -> str:
    """The exception's class, its status when it has one, and the API's own message rather than the SDK's."""
    status = getattr(error, "status_code", None)
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    text = f"{type(error).__name__}{f' ({status})' if status else ''}: {message or error}"
    return textwrap.shorten(text, 160, placeholder=" ...")
