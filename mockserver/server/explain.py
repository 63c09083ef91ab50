"""Why a request gets the scenario it gets — or none: the request as `match` rules read it, and for every
scenario whether its rules hold or which one fails first and what the request had instead. Nothing is answered
and no sequence moves on: `POST /_mock/explain` and `mockserver explain` show it for any request body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.ask import Ask
from ..engine.matching import Facts
from ..engine.selection import Selector
from ..wire import chat, completions, responses
from ..wire.contract import WireFormat
from ..wire.errors import ApiError
from . import admission
from .settings import Settings

ENDPOINTS: Mapping[str, WireFormat[Any, Any]] = {"chat": chat, "responses": responses, "completions": completions}


def endpoint_of(body: Mapping[str, Any]) -> str:
    """The endpoint a body is for, by its keys: `messages` (chat), `prompt` (legacy completions), else Responses."""
    if "messages" in body:
        return "chat"
    return "completions" if "prompt" in body else "responses"


def _error(error: ApiError) -> dict[str, Any]:
    fields = {"message": error.message, "type": error.type, "param": error.param, "code": error.code}
    return {"status": error.status, **fields}


def request_view(ask: Ask, facts: Facts) -> dict[str, Any]:
    """What the rules see of a request."""
    return {
        "model": ask.model,
        "last_user": facts.last_user,
        "last_role": facts.last_role,
        "turn": facts.turn,
        "tool_results": [name for name, _ in facts.tool_results],
        "system": facts.system,
        "tools": facts.tool_names,
        "tool_choice": facts.tool_choice,
        "response_format": ask.output.type if ask.output.name is None else f"{ask.output.type} {ask.output.name}",
        "metadata": dict(ask.metadata),
    }


def explain(
    selector: Selector,
    settings: Settings,
    body: Mapping[str, Any],
    endpoint: str | None = None,
    session: str = "",
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The trace of one request body: the request's view, the scenario chosen (or the error the request gets),
    and every scenario with its verdict, in the order they are tried."""
    endpoint = endpoint or endpoint_of(body)
    headers = headers or {}
    result: dict[str, Any] = {"endpoint": endpoint}
    try:
        ask = admission.parse(ENDPOINTS[endpoint], body, settings)
    except ApiError as error:
        return {**result, "chosen": None, "error": _error(error)}
    facts = Facts(ask, headers)
    result["request"] = request_view(ask, facts)
    result["chosen"], result["error"] = None, None
    try:
        selection = selector.choose(
            ask, session=session, header=headers.get("X-Mock-Scenario"), headers=headers, peek=True
        )
        result["chosen"] = {
            "scenario": selection.scenario.name,
            "chosen_by": selection.reason,
            "step": selection.step_number,
            "source": selection.scenario.where,
        }
        if admission.admit(ask, selection, settings) is not None and isinstance(ask.model_refusal, ApiError):
            result["error"] = {**_error(ask.model_refusal), "in_stream": True}  # a 200 stream with an error event
    except ApiError as error:
        result["error"] = _error(error)
    misses = {scenario.name: why for scenario, why in selector.misses(facts, session)}
    result["scenarios"] = [
        {
            "name": scenario.name,
            "source": scenario.where,
            "match": scenario.match.describe() if scenario.match else None,
            "holds": None if scenario.match is None else misses.get(scenario.name) is None,
            "miss": (why.to_json() if (why := misses.get(scenario.name)) is not None else None),
        }
        for scenario in selector.visible(session)
    ]
    return result


def render(trace: Mapping[str, Any]) -> str:
    """The trace for a person: the request, one line per scenario, the outcome."""
    lines = []
    request = trace.get("request")
    if request:
        parts = [f"model {request['model']!r}", f"last message from {request['last_role']}", f"turn {request['turn']}"]
        if request["tool_results"]:
            parts.append("tool results from " + ", ".join(name or "?" for name in request["tool_results"]))
        if request["tools"]:
            parts.append("tools " + ", ".join(request["tools"]) + f" (tool_choice {request['tool_choice']})")
        if request["response_format"] != "text":
            parts.append(f"response_format {request['response_format']}")
        lines.append(f"request ({trace['endpoint']}): " + ", ".join(parts))
    scenarios = trace.get("scenarios") or []
    width = max((len(entry["name"]) for entry in scenarios), default=4)
    for entry in scenarios:
        if entry["holds"] is None:
            verdict = "by name" if entry["name"] != "default" else "any other request"
        elif entry["holds"]:
            verdict = "match holds"
        else:
            miss = entry["miss"]
            verdict = f"no: {miss['rule']}: wanted {miss['wanted']}, got {miss['got']}"
        lines.append(f"  {entry['name']:<{width}}  {verdict}  ({entry['source']})")
    chosen = trace.get("chosen")
    if chosen:
        step = f", step {chosen['step']}" if chosen["step"] > 1 else ""
        lines.append(f"chosen: {chosen['scenario']} (by {chosen['chosen_by']}{step})")
    if trace.get("error"):
        error = trace["error"]
        lines.append(f"answer: {error['status']} {error['code'] or error['type']}: {error['message']}")
    return "\n".join(lines)
