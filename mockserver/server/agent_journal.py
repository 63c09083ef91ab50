"""What a journal entry records of an agent loop's step: the tool calls the answer made (name, id, arguments),
the tool results the request brought since the assistant last spoke (name, call id), and what the request
changed in the scripted answer. `openai_mock.tool_calls()` reads them back in order."""

from __future__ import annotations

from collections.abc import Sequence

from ..engine.ask import Ask, latest_tool_results
from ..engine.plan import Plan
from .journal import Entry


def tool_results(ask: Ask) -> list[dict[str, str]]:
    """The tool results since the last assistant turn, each named by the call it answers."""
    return [{"name": name, "call_id": result.call_id or ""} for name, result in latest_tool_results(ask.conversation)]


def record_request(entry: Entry | None, ask: Ask) -> None:
    """The tool results a request brings (a request with one message brings none)."""
    if entry is not None and (ask.prior or len(ask.messages) > 1):
        entry.tool_results = tool_results(ask) or None


def record_notes(entry: Entry | None, notes: Sequence[str]) -> None:
    if entry is not None and notes:
        entry.notes = list(notes)


def record_calls(entry: Entry | None, plan: Plan, ids: Sequence[str]) -> None:
    """The calls the first choice's answer makes, as sent (with the ids the wire format gave them)."""
    if entry is None or not plan.answer.tool_calls:
        return
    entry.tool_calls = [
        {"name": call.name, "id": ids[call.index] if call.index < len(ids) else "", "arguments": arguments}
        for call, arguments in plan.tool_calls
    ] or None
