"""`POST /v1/responses`: the typed event stream byte by byte, every event against the SDK's models, endings and
faults, the non-streaming object, request checks, and the real openai SDK (create, the `stream()` helper)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import openai
import pytest
from helpers import assert_known_fields, validate_openapi, validate_sdk
from openai.types.responses import Response, ResponseErrorEvent, ResponseStreamEvent
from pydantic import TypeAdapter

from mockserver.scenario.load import BUNDLED
from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app

SCENARIOS = """
scenarios:
  - name: worm
    chunks: ["a worm", " digs deep", "!"]
  - name: long
    text: "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen."
  - name: filtered
    text: "Some of this"
    finish_reason: content_filter
  - name: empty
    chunks: []
  - name: failing
    chunks: ["a", "b", {error: {message: "Slow down", code: rate_limit_exceeded}}]
  - name: failing-plain
    chunks: ["a", {error: true}]
  - name: failing-standalone
    chunks: ["a", {error: {message: "boom", code: oops}, standalone: true}]
  - name: cut
    chunks: ["a", "b", {disconnect: true}]
  - name: early-end
    chunks: ["a", {end: true}]
  - name: raw
    chunks: [{keepalive: true}, "a", {raw: ": ping\\n\\n"}, "b"]
  - name: think-then-call
    reasoning: "Weather needs a lookup."
    tool_calls: [{name: get_weather, arguments: {city: Paris}}]
"""
HAIKU = "Autumn moonlight —\na worm digs silently\ninto the chestnut."
FRAME = re.compile(rb"event: ([a-z_.]+)\ndata: ([^\n]*)\n\n")
STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": False,
}


def request(model: str, stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {"model": model, "input": "hi", "stream": stream, **extra}


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """The events of a Responses stream, checking its framing: nothing but `event:` + `data:` pairs, each
    followed by a blank line, the data's `type` repeating the event line, sequence numbers 0, 1, 2... and no
    `[DONE]`."""
    position = 0
    events = []
    for match in FRAME.finditer(body):
        assert match.start() == position, f"unexpected bytes at {position}: {body[position : match.start()]!r}"
        event = json.loads(match.group(2))
        assert event["type"] == match.group(1).decode()
        # A background stream's first two carry the response before the number, as recorded.
        opening = event["type"] in ("response.created", "response.queued") and event["response"]["background"]
        order = ["type", "response", "sequence_number"] if opening else ["type", "sequence_number"]
        assert list(event)[: len(order)] == order or event["type"] == "error"
        assert event["sequence_number"] == len(events)
        events.append(event)
        position = match.end()
    assert position == len(body), f"trailing bytes: {body[position:]!r}"
    assert b"[DONE]" not in body
    return events


def sdk_view(response: dict[str, Any]) -> dict[str, Any]:
    """A response object less `store`, which the real API sends and the SDK's `Response` model leaves out."""
    assert response["store"] in (True, False)
    return {key: value for key, value in response.items() if key != "store"}


def spec_view(response: dict[str, Any]) -> dict[str, Any]:
    """A response object less `"user": null` and `"usage": null`, which the real API sends and the OpenAPI
    document does not allow (it declares them optional but not nullable)."""
    return {key: value for key, value in response.items() if key not in ("user", "usage") or value is not None}


def check_response(response: dict[str, Any]) -> Any:
    return validate_sdk(Response, sdk_view(response))


def check_event(event: dict[str, Any]) -> Any:
    """The event as the SDK's model, with no field the model does not declare but two the real API sends: the
    `obfuscation` padding of delta events (only those) and the response's `store`. The `error` event has its
    error nested, as the real API sends it (the SDK raises on it before reading it as a model, whose fields are
    the older flat ones)."""
    data = dict(event)
    if data["type"].endswith(".delta"):
        data.pop("obfuscation", None)
    assert "obfuscation" not in data, data["type"]
    if data["type"] == "response.function_call_arguments.done":
        assert "name" not in data  # as recorded: the OpenAPI document requires it, the wire and the SDK have none
    if data["type"] == "error" and "error" in data:
        assert list(data) == ["type", "sequence_number", "error"]
        assert list(data["error"]) == ["type", "code", "message", "param"]
        return data
    if "response" in data:
        data["response"] = sdk_view(data["response"])
    model = STREAM_EVENT.validate_python(data)
    assert_known_fields(model)
    return model


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"].removeprefix("response.") for event in events]


async def stream(client: Any, model: str, **extra: Any) -> list[dict[str, Any]]:
    response = await client.post("/v1/responses", json=request(model, **extra))
    assert response.status == 200, await response.text()
    events = parse_events(await response.read())
    for event in events:
        check_event(event)
    return events


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    return await aiohttp_client(make_app(BUNDLED, SCENARIOS, speed=0))


# --- the stream, on the wire --------------------------------------------------------------------------------


async def test_a_text_answer_event_by_event(client: Any) -> None:
    response = await client.post("/v1/responses", json=request("worm", stream_options={"include_obfuscation": False}))
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    body = await response.read()
    assert body.startswith(b'event: response.created\ndata: {"type":"response.created","sequence_number":0,')
    assert body.endswith(b"}}\n\n")  # the body ends with response.completed: no [DONE]
    events = parse_events(body)
    assert types(events) == [
        "created",
        "in_progress",
        "output_item.added",
        "content_part.added",
        "output_text.delta",
        "output_text.delta",
        "output_text.delta",
        "output_text.done",
        "content_part.done",
        "output_item.done",
        "completed",
    ]
    created, in_progress, added, part_added, *deltas, text_done, part_done, item_done, completed = events
    response_id = created["response"]["id"]
    assert re.fullmatch(r"resp_[0-9a-f]{48}", response_id)
    assert created["response"] == in_progress["response"]
    assert created["response"]["status"] == "in_progress" and created["response"]["output"] == []
    assert created["response"]["usage"] is None
    item_id = added["item"]["id"]
    assert re.fullmatch(r"msg_[0-9a-f]{48}", item_id)
    assert added == {
        "type": "response.output_item.added",
        "sequence_number": 2,
        "output_index": 0,
        "item": {"id": item_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"},
    }
    ids = {"item_id": item_id, "output_index": 0, "content_index": 0}
    empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    assert part_added == {"type": "response.content_part.added", "sequence_number": 3, **ids, "part": empty_part}
    assert deltas[0] == {
        "type": "response.output_text.delta",
        "sequence_number": 4,
        **ids,
        "delta": "a worm",
        "logprobs": [],
    }
    assert [delta["delta"] for delta in deltas] == ["a worm", " digs deep", "!"]
    assert text_done == {
        "type": "response.output_text.done",
        "sequence_number": 7,
        **ids,
        "text": "a worm digs deep!",
        "logprobs": [],
    }
    full_part = {**empty_part, "text": "a worm digs deep!"}
    assert part_done == {"type": "response.content_part.done", "sequence_number": 8, **ids, "part": full_part}
    message = {"id": item_id, "type": "message", "status": "completed", "content": [full_part], "role": "assistant"}
    assert item_done == {"type": "response.output_item.done", "sequence_number": 9, "output_index": 0, "item": message}
    final = completed["response"]
    assert (final["id"], final["status"], final["output"]) == (response_id, "completed", [message])
    assert final["usage"] == {
        "input_tokens": 8,  # the chat estimate of one user message "hi"
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 5,  # "a worm" 2, " digs deep" 2, "!" 1
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 13,
    }
    assert "output_text" not in final  # an SDK convenience, never on the wire
    for event in events:
        check_event(event)


async def test_the_response_object_echoes_the_request(client: Any) -> None:
    events = await stream(client, "worm")
    assert list(events[0]["response"]) == [
        "id", "object", "created_at", "status", "background", "completed_at", "error", "incomplete_details",
        "instructions", "max_output_tokens", "max_tool_calls", "model", "output", "parallel_tool_calls",
        "previous_response_id", "prompt_cache_key", "reasoning", "safety_identifier", "service_tier", "store",
        "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "usage", "user",
        "metadata",
    ]  # fmt: skip
    defaults = events[0]["response"]
    assert abs(defaults["created_at"] - time.time()) < 5
    assert {key: defaults[key] for key in ("object", "model", "instructions", "tool_choice", "tools")} == {
        "object": "response",
        "model": "worm",
        "instructions": None,
        "tool_choice": "auto",
        "tools": [],
    }
    assert (defaults["parallel_tool_calls"], defaults["temperature"], defaults["top_p"]) == (True, 1.0, 1.0)
    assert (defaults["text"], defaults["reasoning"]) == (
        {"format": {"type": "text"}, "verbosity": "medium"},
        {"effort": None, "summary": None},
    )
    assert defaults["completed_at"] is None
    finished = events[-1]["response"]
    assert finished["completed_at"] == finished["created_at"]  # no delays here
    assert (defaults["truncation"], defaults["store"], defaults["metadata"]) == ("disabled", True, {})
    assert (defaults["service_tier"], events[-1]["response"]["service_tier"]) == ("auto", "default")

    settings = {
        "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": "required",
        "temperature": 0.2,
        "top_p": 0.5,
        "parallel_tool_calls": False,
        "store": False,
        "metadata": {"run": "7"},
        "user": "u-1",
        "truncation": "auto",
        "max_output_tokens": 100,
        "text": {"format": {"type": "json_object"}},
        "reasoning": {"effort": "low"},
        "input": "hi, in JSON",  # JSON mode needs the word in the input
    }
    echoed = (await stream(client, "worm", **settings))[-1]["response"]
    assert echoed["tools"] == [
        {"type": "function", "description": None, "name": "f", "parameters": {"type": "object"}, "strict": True}
    ]
    assert echoed["reasoning"] == {"effort": "low", "summary": None}
    assert echoed["text"] == {"format": {"type": "json_object"}, "verbosity": "medium"}
    for key in settings.keys() - {"tools", "reasoning", "text", "input"}:
        assert echoed[key] == settings[key], key
    # A developer message "Be brief." more, and the tool's definition: 8 + its name + 12.
    assert echoed["usage"]["input_tokens"] == 11 + (3 + 1 + 3) + (8 + 1 + 12)
    check_response(echoed)


async def test_obfuscation_pads_delta_events_by_default(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    body = await (await client.post("/v1/responses", json=request("worm"))).read()
    events = parse_events(body)
    padded = [event for event in events if "obfuscation" in event]
    assert [event["type"] for event in padded] == ["response.output_text.delta"] * 3
    for event in padded:
        assert list(event)[-1] == "obfuscation" and re.fullmatch("[0-9A-Za-z]{0,15}", event["obfuscation"])
    again = parse_events(await (await client.post("/v1/responses", json=request("worm"))).read())
    assert [e.get("obfuscation") for e in again] == [e.get("obfuscation") for e in events]  # the same every time
    plain = await client.post("/v1/responses", json=request("worm", stream_options={"include_obfuscation": False}))
    assert b"obfuscation" not in await plain.read()
    client = await client_for(SCENARIOS, obfuscation=False)
    assert b"obfuscation" not in await (await client.post("/v1/responses", json=request("worm"))).read()
    asked = await client.post("/v1/responses", json=request("worm", stream_options={"include_obfuscation": True}))
    assert b"obfuscation" in await asked.read()


async def test_a_tool_call(client: Any) -> None:
    events = await stream(client, "tool-call")
    assert types(events)[:3] == ["created", "in_progress", "output_item.added"]
    added, *deltas, arguments_done, item_done, completed = events[2:]
    assert {event["type"] for event in deltas} == {"response.function_call_arguments.delta"}
    assert len(deltas) > 3  # the arguments arrive in fragments
    assert (arguments_done["type"], item_done["type"], completed["type"]) == (
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    )
    item = added["item"]
    assert list(item) == ["id", "type", "status", "arguments", "call_id", "name"]
    assert re.fullmatch(r"fc_[0-9a-f]{48}", item["id"]) and re.fullmatch(r"call_[0-9A-Za-z]{24}", item["call_id"])
    assert (item["type"], item["status"], item["arguments"], item["name"]) == (
        "function_call",
        "in_progress",
        "",
        "get_weather",
    )
    for delta in deltas:
        assert list(delta) == ["type", "sequence_number", "item_id", "output_index", "delta", "obfuscation"]
    arguments = "".join(delta["delta"] for delta in deltas)
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    assert list(arguments_done) == ["type", "sequence_number", "item_id", "output_index", "arguments"]
    assert (arguments_done["item_id"], arguments_done["arguments"]) == (item["id"], arguments)
    done = {**item, "status": "completed", "arguments": arguments}
    assert item_done["item"] == done
    assert completed["response"]["output"] == [done]
    assert "content_part" not in " ".join(types(events))


async def test_parallel_tool_calls_follow_one_another(client: Any) -> None:
    events = await stream(client, "parallel-tool-calls")
    assert [t for t in types(events) if not t.endswith(".delta")] == [
        "created", "in_progress",
        "output_item.added", "function_call_arguments.done", "output_item.done",
        "output_item.added", "function_call_arguments.done", "output_item.done",
        "completed",
    ]  # fmt: skip
    first, second = events[-1]["response"]["output"]
    added = [event for event in events if event["type"] == "response.output_item.added"]
    assert [event["output_index"] for event in added] == [0, 1]
    assert second["call_id"] == "call_tokyo" and first["call_id"] != second["call_id"]
    assert [json.loads(call["arguments"]) for call in (first, second)] == [{"city": "Paris"}, {"city": "Tokyo"}]
    for event in events:
        if event["type"] == "response.function_call_arguments.delta":
            assert event["item_id"] == [first, second][event["output_index"]]["id"]


async def test_text_then_a_tool_call(client: Any) -> None:
    events = await stream(client, "text-then-tool-call")
    assert [t for t in types(events) if not t.endswith(".delta")] == [
        "created", "in_progress",
        "output_item.added", "content_part.added", "output_text.done", "content_part.done", "output_item.done",
        "output_item.added", "function_call_arguments.done", "output_item.done",
        "completed",
    ]  # fmt: skip
    message, call = events[-1]["response"]["output"]
    assert message["content"][0]["text"] == "Let me look that up."
    assert (call["name"], json.loads(call["arguments"])) == ("search", {"query": "opening hours"})


async def test_a_refusal(client: Any) -> None:
    events = await stream(client, "refusal")
    assert [t for t in types(events) if not t.endswith(".delta")] == [
        "created", "in_progress", "output_item.added", "content_part.added", "refusal.done", "content_part.done",
        "output_item.done", "completed",
    ]  # fmt: skip
    refusal = "I'm sorry, but I can't help with that request."
    assert events[3]["part"] == {"type": "refusal", "refusal": ""}
    deltas = [event for event in events if event["type"] == "response.refusal.delta"]
    assert "".join(delta["delta"] for delta in deltas) == refusal
    assert all("logprobs" not in delta for delta in deltas)
    assert events[-4]["refusal"] == refusal
    (message,) = events[-1]["response"]["output"]
    assert message["content"] == [{"type": "refusal", "refusal": refusal}]


REASONING = "The question asks for the product of six and seven. Six sevens are forty-two."


async def test_reasoning_is_an_item_without_text_by_default(client: Any) -> None:
    """As OpenAI's reasoning models send it: the reasoning item opens and closes with nothing between, and only
    its tokens tell that there was reasoning."""
    events = await stream(client, "reasoning")
    assert [t for t in types(events) if not t.endswith(".delta")] == [
        "created", "in_progress",
        "output_item.added", "output_item.done",
        "output_item.added", "content_part.added", "output_text.done", "content_part.done", "output_item.done",
        "completed",
    ]  # fmt: skip
    assert {t for t in types(events) if t.endswith(".delta")} == {"output_text.delta"}
    reasoning, message = events[-1]["response"]["output"]
    assert re.fullmatch(r"rs_[0-9a-f]{48}", reasoning["id"])
    assert reasoning == {"id": reasoning["id"], "type": "reasoning", "summary": [], "content": []}
    assert events[2]["item"] == events[3]["item"] == reasoning
    assert message["content"][0]["text"] == "6 × 7 = 42."
    usage = events[-1]["response"]["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] == 18
    assert usage["output_tokens"] == 18 + len([e for e in events if e["type"] == "response.output_text.delta"])
    assert REASONING not in json.dumps(events)


async def test_raw_reasoning_comes_first_as_reasoning_text(client: Any) -> None:
    """The open-weight servers' convention, scripted with `raw_reasoning: true`."""
    events = await stream(client, "reasoning-raw")
    assert [t for t in types(events) if not t.endswith(".delta")] == [
        "created", "in_progress",
        "output_item.added", "content_part.added", "reasoning_text.done", "content_part.done", "output_item.done",
        "output_item.added", "content_part.added", "output_text.done", "content_part.done", "output_item.done",
        "completed",
    ]  # fmt: skip
    reasoning, message = events[-1]["response"]["output"]
    assert reasoning == {
        "id": reasoning["id"],
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": REASONING}],
    }
    deltas = [e["delta"] for e in events if e["type"] == "response.reasoning_text.delta"]
    assert "".join(deltas) == REASONING
    assert message["content"][0]["text"] == "6 × 7 = 42."
    usage = events[-1]["response"]["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] == len(deltas)
    assert usage["output_tokens"] == len(deltas) + len([e for e in events if e["type"] == "response.output_text.delta"])


async def test_reasoning_as_a_summary_when_asked(client: Any) -> None:
    events = await stream(client, "think-then-call", reasoning={"effort": "low", "summary": "auto"})
    assert [t for t in types(events) if not t.endswith(".delta")] == [
        "created", "in_progress",
        "output_item.added", "reasoning_summary_part.added", "reasoning_summary_text.done",
        "reasoning_summary_part.done", "output_item.done",
        "output_item.added", "function_call_arguments.done", "output_item.done",
        "completed",
    ]  # fmt: skip
    part_added = events[3]
    assert part_added["summary_index"] == 0 and part_added["part"] == {"type": "summary_text", "text": ""}
    deltas = [e for e in events if e["type"] == "response.reasoning_summary_text.delta"]
    assert list(deltas[0]) == [
        "type", "sequence_number", "item_id", "output_index", "summary_index", "delta", "obfuscation"
    ]  # fmt: skip
    reasoning, call = events[-1]["response"]["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Weather needs a lookup."}]
    assert reasoning["content"] == [] and call["type"] == "function_call"


async def test_encrypted_reasoning_when_included(client: Any) -> None:
    events = await stream(client, "reasoning", include=["reasoning.encrypted_content"])
    added, done = events[2]["item"], events[3]["item"]
    token = added["encrypted_content"]
    assert done == added and list(added) == ["id", "type", "summary", "content", "encrypted_content"]
    assert token.startswith("gAAAAAB") and len(token) % 4 == 0  # a Fernet token's shape
    assert events[-1]["response"]["output"][0]["encrypted_content"] == token
    # Sent back in the next request's input, it is accepted, and its tokens are read again.
    # (A reasoning item comes back with the item that followed it, or the real API refuses the input.)
    item = {"type": "reasoning", "id": added["id"], "summary": [], "encrypted_content": token}
    answer = {"type": "message", "role": "assistant", "content": "Sunny."}
    body = {"model": "worm", "input": [{"role": "user", "content": "hi"}, item, answer]}
    echoed = await (await client.post("/v1/responses", json=body)).json()
    item["encrypted_content"] = "gAAAAABnot-one-of-ours=="
    other = await (await client.post("/v1/responses", json=body)).json()
    # accepted both times; only the mock's own token is read again
    assert echoed["usage"]["input_tokens"] - other["usage"]["input_tokens"] == 18


async def test_a_reasoning_effort_reasons_without_a_script(client: Any) -> None:
    """A request for reasoning effort gets what a reasoning model sends: an empty reasoning item first, and
    reasoning tokens, though the scenario scripts no reasoning."""
    events = await stream(client, "worm", reasoning={"effort": "medium"})
    assert types(events)[:5] == ["created", "in_progress", "output_item.added", "output_item.done", "output_item.added"]
    reasoning, message = events[-1]["response"]["output"]
    assert reasoning["type"] == "reasoning" and message["type"] == "message"
    assert [event["output_index"] for event in events[2:5]] == [0, 0, 1]
    usage = events[-1]["response"]["usage"]
    assert (usage["output_tokens_details"]["reasoning_tokens"], usage["output_tokens"]) == (192, 192 + 5)
    for effort in ("minimal", "none"):
        final = (await stream(client, "worm", reasoning={"effort": effort}))[-1]["response"]
        assert [item["type"] for item in final["output"]] == ["message"]
        assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 0


async def test_logprobs_when_included(client: Any) -> None:
    events = await stream(client, "logprobs", include=["message.output_text.logprobs"], top_logprobs=2)
    deltas = [event for event in events if event["type"] == "response.output_text.delta"]
    blue = next(delta for delta in deltas if delta["delta"] == " blue")
    (entry,) = blue["logprobs"]
    assert entry["token"] == " blue" and entry["logprob"] == -0.42
    assert len(entry["top_logprobs"]) == 2 and entry["top_logprobs"][0] == {"token": " blue", "logprob": -0.42}
    part = events[-1]["response"]["output"][0]["content"][0]
    assert [e["token"] for e in part["logprobs"]] == ["The", " sky", " is", " blue", "."]
    assert part["logprobs"][3]["bytes"] == list(b" blue")  # the output text's own entries carry bytes
    plain = await stream(client, "logprobs", top_logprobs=2)  # without the include, none
    assert all(event.get("logprobs", []) == [] for event in plain)


async def test_max_output_tokens_ends_incomplete(client: Any) -> None:
    events = await stream(client, "long", max_output_tokens=16)
    assert types(events)[-4:] == ["output_text.done", "content_part.done", "output_item.done", "incomplete"]
    final = events[-1]["response"]
    assert (final["status"], final["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    assert final["max_output_tokens"] == 16
    (message,) = final["output"]
    text = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    assert message["status"] == "incomplete" and message["content"][0]["text"] == text
    assert events[-2]["item"]["status"] == "incomplete"
    assert final["usage"]["output_tokens"] == 16 == len([t for t in types(events) if t == "output_text.delta"])
    assert (await stream(client, "long", max_output_tokens=17))[-1]["type"] == "response.incomplete"
    assert (await stream(client, "long", max_output_tokens=18))[-1]["type"] == "response.completed"


async def test_content_filter_ends_incomplete(client: Any) -> None:
    final = (await stream(client, "filtered"))[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "content_filter"}
    assert final["response"]["output"][0]["status"] == "incomplete"


async def test_an_empty_answer_is_an_empty_message(client: Any) -> None:
    events = await stream(client, "empty")
    assert types(events) == [
        "created", "in_progress", "output_item.added", "content_part.added", "output_text.done",
        "content_part.done", "output_item.done", "completed",
    ]  # fmt: skip
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == ""


# --- faults ------------------------------------------------------------------------------------------------


async def test_a_scripted_error_fails_the_response(client: Any) -> None:
    events = await stream(client, "failing")
    assert types(events) == [
        "created", "in_progress", "output_item.added", "content_part.added", "output_text.delta",
        "output_text.delta", "error", "failed",
    ]  # fmt: skip
    assert events[-2] == {
        "type": "error",
        "sequence_number": 6,
        "error": {"type": "server_error", "code": "rate_limit_exceeded", "message": "Slow down", "param": None},
    }
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["usage"] is None
    assert failed["error"] == {"code": "rate_limit_exceeded", "message": "Slow down"}
    (message,) = failed["output"]
    assert message["status"] == "incomplete" and message["content"][0]["text"] == "ab"
    plain = (await stream(client, "failing-plain"))[-1]["response"]
    assert plain["error"]["code"] == "server_error"


async def test_the_journal_counts_events_and_faults(client: Any) -> None:
    events = await stream(client, "worm")
    await stream(client, "failing")
    worm, failing = (await (await client.get("/_mock/requests")).json())["requests"]
    assert (worm["path"], worm["scenario"], worm["status"]) == ("/v1/responses", "worm", 200)
    assert (worm["ended"], worm["chunks"]) == ("completed", len(events))
    assert (failing["ended"], failing["fault"], failing["chunks"]) == ("fault", "error", 8)


async def test_a_standalone_error_event(client: Any) -> None:
    response = await client.post("/v1/responses", json=request("failing-standalone"))
    events = parse_events(await response.read())
    assert types(events)[-2:] == ["output_text.delta", "error"]
    error = events[-1]
    assert list(error) == ["type", "code", "message", "param", "sequence_number"]
    assert error == {"type": "error", "code": "oops", "message": "boom", "param": None, "sequence_number": 5}
    assert isinstance(check_event(error), ResponseErrorEvent)


async def test_cut_end_and_raw_faults(client: Any) -> None:
    response = await client.post("/v1/responses", json=request("cut"))
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async for data in response.content.iter_any():
            received += data
    assert types(parse_events(received))[-2:] == ["output_text.delta", "output_text.delta"]
    events = parse_events(await (await client.post("/v1/responses", json=request("early-end"))).read())
    assert types(events)[-1] == "output_text.delta"  # the body ends cleanly, with no terminal event
    body = await (await client.post("/v1/responses", json=request("raw"))).read()
    # response.created and response.in_progress go out first, whatever the script says
    assert b'"metadata":{}}}\n\n: keep-alive\n\nevent: response.output_item.added\n' in body
    assert b'"delta":"a"' in body.split(b": ping\n\n")[0] and b'"delta":"b"' in body.split(b": ping\n\n")[1]
    parse_events(body.replace(b": keep-alive\n\n", b"").replace(b": ping\n\n", b""))


async def test_lifecycle_events_come_at_once_and_the_first_delta_at_ttft(client_for: Any) -> None:
    client = await client_for("scenarios:\n  - {name: slow, text: 'Hello there.', ttft_ms: 1500, interval_ms: 50}\n")
    started = time.monotonic()
    response = await client.post("/v1/responses", json=request("slow"))
    assert b"response.created" in await response.content.readuntil(b"\n\n")
    assert b"response.in_progress" in await response.content.readuntil(b"\n\n")
    lifecycle = time.monotonic()
    assert b"response.output_item.added" in await response.content.readuntil(b"\n\n")
    assert time.monotonic() - lifecycle >= 0.75  # created and in_progress came well before ttft
    assert time.monotonic() - started >= 1.5 - 0.005
    await response.read()
    assert time.monotonic() - started >= 1.55 - 0.005


# --- not streaming ----------------------------------------------------------------------------------------


async def test_the_non_streaming_response(client: Any) -> None:
    response = await client.post("/v1/responses", json=request("text-then-tool-call", stream=False))
    assert response.headers["Content-Type"].startswith("application/json")
    body = await response.json()
    assert (body["object"], body["status"], body["error"], body["incomplete_details"]) == (
        "response", "completed", None, None
    )  # fmt: skip
    message, call = body["output"]
    assert message["content"][0]["text"] == "Let me look that up." and message["status"] == "completed"
    assert call["type"] == "function_call" and call["status"] == "completed"
    assert body["usage"]["total_tokens"] == body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    assert "output_text" not in body
    check_response(body)
    cut = await (await client.post("/v1/responses", json=request("long", stream=False, max_output_tokens=16))).json()
    assert (cut["status"], cut["incomplete_details"], cut["usage"]["output_tokens"]) == (
        "incomplete", {"reason": "max_output_tokens"}, 16
    )  # fmt: skip
    check_response(cut)
    failed = await client.post("/v1/responses", json=request("failing", stream=False))
    assert failed.status == 500
    assert (await failed.json())["error"]["message"] == "Slow down"


async def test_events_and_objects_match_the_openapi_document(client: Any) -> None:
    """Every event and object against the document, but for two places where the recorded wire differs from it:
    `function_call_arguments.done` has no `name` (the document requires one), and the `error` event nests its
    error (the document has the older flat form, which `standalone` still sends)."""
    for model, extra in (
        ("worm", {}),
        ("text-then-tool-call", {}),
        ("refusal", {}),
        ("reasoning", {"include": ["reasoning.encrypted_content"]}),
        ("reasoning-raw", {}),
        ("think-then-call", {"reasoning": {"summary": "auto"}}),
        ("logprobs", {"include": ["message.output_text.logprobs"], "top_logprobs": 3}),
        ("long", {"max_output_tokens": 16}),
        ("failing", {}),
        ("failing-standalone", {}),
        ("worm", {"background": True}),
    ):
        response = await client.post("/v1/responses", json=request(model, **extra))
        for event in parse_events(await response.read()):
            if "response" in event:
                event = {**event, "response": spec_view(event["response"])}
            if event["type"] == "response.function_call_arguments.done":
                event = {**event, "name": "f"}
            if event["type"] == "error" and "error" in event:
                continue
            validate_openapi("ResponseStreamEvent", event)
        body = await (await client.post("/v1/responses", json=request(model, stream=False, **extra))).json()
        if "error" not in body:
            validate_openapi("Response", spec_view(body))


# --- requests ----------------------------------------------------------------------------------------------


BAD_REQUESTS = [  # body, param, code, message (all 400 invalid_request_error)
    ({"input": "hi"}, "model", "missing_required_parameter", "Missing required parameter: 'model'."),
    ({"model": "worm", "input": 5}, "input", "invalid_type", "Invalid type for 'input': expected one of a string or array of input items, but got an integer instead."),
    ({"model": "worm", "input": ["hi"]}, "input[0]", "invalid_type", "Invalid type for 'input[0]': expected an object, but got a string instead."),
    ({"model": "worm", "input": [{"content": "hi"}]}, "input[0].role", "missing_required_parameter", "Missing required parameter: 'input[0].role'."),
    ({"model": "worm", "input": [{"role": "robot", "content": "hi"}]}, "input[0]", "invalid_value", "Invalid value: 'robot'. Supported values are: 'assistant', 'system', 'developer', and 'user'."),
    ({"model": "worm", "input": [{"role": "user"}]}, "input[0].content", "missing_required_parameter", "Missing required parameter: 'input[0].content'."),
    ({"model": "worm", "input": "hi", "max_output_tokens": 15}, "max_output_tokens", "integer_below_min_value", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 instead."),
    ({"model": "worm", "input": "hi", "stream_options": {"include_obfuscation": False}}, "stream_options", None, "The 'stream_options' parameter is only allowed when 'stream' is enabled."),
    ({"model": "worm", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name", "missing_required_parameter", "Missing required parameter: 'tools[0].name'."),
    ({"model": "worm", "input": "hi", "temperature": "hot"}, "temperature", "invalid_type", "Invalid type for 'temperature': expected a decimal, but got a string instead."),
]  # fmt: skip


@pytest.mark.parametrize(("body", "param", "code", "message"), BAD_REQUESTS)
async def test_bad_requests(client: Any, body: dict[str, Any], param: str, code: str, message: str) -> None:
    response = await client.post("/v1/responses", json=body)
    assert response.status == 400
    assert (await response.json())["error"] == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }


async def test_the_last_user_message_picks_the_scenario(client: Any) -> None:
    items = [
        {"role": "system", "content": "You write poems."},
        {"role": "user", "content": "Hello"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"role": "user", "content": [{"type": "input_text", "text": "Write a poem"}]},
    ]
    body = await (await client.post("/v1/responses", json={"model": "gpt-4o", "input": items})).json()
    assert body["output"][0]["content"][0]["text"] == HAIKU  # 'haiku' matches "poem" in the last user message
    assert body["model"] == "gpt-4o"
    # A previous response the server never stored is the real API's 400.
    unknown = await client.post("/v1/responses", json={"model": "gpt-4o", "previous_response_id": "resp_1"})
    assert unknown.status == 400
    assert (await unknown.json())["error"] == {
        "message": "Previous response with id 'resp_1' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }


# --- with the real openai SDK -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(make_app(BUNDLED, SCENARIOS, speed=0)) as running:
        yield running


def sdk(server: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.root_url}/v1", api_key="x", max_retries=0)


def test_sdk_create_streams_the_script(server: BackgroundServer) -> None:
    events = list(sdk(server).responses.create(model="haiku", input="hi", stream=True))
    assert "".join(event.delta for event in events if event.type == "response.output_text.delta") == HAIKU
    assert events[-1].type == "response.completed" and events[-1].response.output_text == HAIKU


def test_sdk_stream_helper_text(server: BackgroundServer) -> None:
    with sdk(server).responses.stream(model="haiku", input="Write a poem") as stream:
        snapshots = [event.snapshot for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert snapshots[-1] == final.output_text == HAIKU
    assert final.status == "completed" and final.usage is not None
    assert final.usage.output_tokens == 14  # "a worm" is two tokens


def test_sdk_stream_helper_tool_calls(server: BackgroundServer) -> None:
    client = sdk(server)
    with client.responses.stream(model="parallel-tool-calls", input="Weather?", tools=[WEATHER_TOOL]) as stream:
        argument_snapshots = [e.snapshot for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(call.name, json.loads(call.arguments)) for call in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert calls[0].call_id.startswith("call_") and calls[1].call_id == "call_tokyo"
    assert argument_snapshots[-1] == calls[1].arguments
    with client.responses.stream(model="text-then-tool-call", input="When?", tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_response()
    assert final.output_text == "Let me look that up."
    assert [item.type for item in final.output] == ["message", "function_call"]


def test_sdk_reasoning_and_refusal(server: BackgroundServer) -> None:
    client = sdk(server)
    with client.responses.stream(model="reasoning", input="6 x 7?") as stream:
        final = stream.get_final_response()
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output_text == "6 × 7 = 42."
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens > 0
    with client.responses.stream(model="refusal", input="?") as stream:
        final = stream.get_final_response()
    assert final.output[0].content[0].type == "refusal"  # type: ignore[union-attr]


def test_sdk_endings_and_errors(server: BackgroundServer) -> None:
    client = sdk(server)
    last = list(client.responses.create(model="long", input="hi", max_output_tokens=16, stream=True))[-1]
    assert last.type == "response.incomplete" and last.response.incomplete_details.reason == "max_output_tokens"
    with pytest.raises(openai.APIError, match="Slow down") as raised:  # the error event raises, as on the real API
        list(client.responses.create(model="failing", input="hi", stream=True))
    assert raised.value.code == "rate_limit_exceeded"
    last = list(client.responses.create(model="failing-standalone", input="hi", stream=True))[-1]
    assert isinstance(last, ResponseErrorEvent) and (last.code, last.message) == ("oops", "boom")
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="failing", input="hi")


def test_sdk_non_streaming(server: BackgroundServer) -> None:
    response = sdk(server).responses.create(model="text-then-tool-call", input="hi", instructions="Be brief.")
    assert response.output_text == "Let me look that up."
    assert response.instructions == "Be brief." and response.status == "completed"
    (call,) = [item for item in response.output if item.type == "function_call"]
    assert json.loads(call.arguments) == {"query": "opening hours"}


async def test_async_sdk(server: BackgroundServer) -> None:
    client = openai.AsyncOpenAI(base_url=f"{server.root_url}/v1", api_key="x", max_retries=0)
    text = ""
    async for event in await client.responses.create(model="haiku", input="hi", stream=True):
        if event.type == "response.output_text.delta":
            text += event.delta
    assert text == HAIKU
    async with client.responses.stream(model="tool-call", input="Weather?", tools=[WEATHER_TOOL]) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Paris", "unit": "celsius"}
    response = await client.responses.create(model="haiku", input="hi")
    assert response.output_text == HAIKU
    await client.close()
