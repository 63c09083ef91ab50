"""Stored responses: what `GET`, `DELETE`, `input_items` and `input_tokens` answer, chains of
`previous_response_id` (their turns seen by `match` and counted), the real errors, sessions, and the store's
bound."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import error_of, validate_openapi, validate_sdk
from openai.types.responses import Response, ResponseItemList
from openai.types.responses.input_token_count_response import InputTokenCountResponse

from mockserver.scenario.load import BUNDLED
from mockserver.server.state import STATE
from mockserver.testing import make_app

SCENARIOS = """
scenarios:
  - {name: worm, chunks: ["a worm", " digs deep", "!"]}
  - {name: paris, match: {contains: Paris}, text: "Paris it is."}
  - {name: tokyo, match: {contains: Tokyo}, text: "Tokyo it is."}
  - {name: logprobs-worm, chunks: [{content: "a worm", logprob: -0.5}]}
  - {name: failing, chunks: ["a", {error: {message: "Slow down", code: rate_limit_exceeded}}]}
"""
NOT_FOUND = {"type": "invalid_request_error", "param": None, "code": None}


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    return await aiohttp_client(make_app(BUNDLED, SCENARIOS, speed=0))


async def create(client: Any, prefix: str = "", **body: Any) -> dict[str, Any]:
    response = await client.post(prefix + "/v1/responses", json={"model": "worm", "input": "hi", **body})
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


def sdk_view(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "store"}


# --- GET, DELETE ------------------------------------------------------------------------------------------------


async def test_a_response_reads_back_as_it_was_answered(client: Any) -> None:
    created = await create(client)
    got = await client.get(f"/v1/responses/{created['id']}")
    assert got.headers["Content-Type"].startswith("application/json") and "x-request-id" in got.headers
    assert await got.json() == created
    validate_sdk(Response, sdk_view(created))
    # A streamed one reads back as its response.completed carried it.
    body = await (await client.post("/v1/responses", json={"model": "worm", "input": "hi", "stream": True})).read()
    completed = __import__("json").loads(body.rsplit(b"data: ", 1)[1])["response"]
    assert await (await client.get(f"/v1/responses/{completed['id']}")).json() == completed


async def test_a_failed_stream_is_kept_failed(client: Any) -> None:
    body = await (await client.post("/v1/responses", json={"model": "failing", "input": "hi", "stream": True})).read()
    response_id = body.split(b'"id":"', 1)[1].split(b'"', 1)[0].decode()
    got = await (await client.get(f"/v1/responses/{response_id}")).json()
    assert (got["status"], got["error"], got["usage"]) == (
        "failed",
        {"code": "rate_limit_exceeded", "message": "Slow down"},
        None,
    )


async def test_include_on_read(client: Any) -> None:
    created = await create(client, model="logprobs-worm", include=["message.output_text.logprobs"])
    assert created["output"][0]["content"][0]["logprobs"]
    plain = await (await client.get(f"/v1/responses/{created['id']}")).json()
    assert plain["output"][0]["content"][0]["logprobs"] == []  # the read did not ask for them
    asked = await client.get(f"/v1/responses/{created['id']}?include%5B%5D=message.output_text.logprobs")
    assert (await asked.json())["output"][0]["content"][0]["logprobs"] == created["output"][0]["content"][0]["logprobs"]
    thinking = await create(client, reasoning={"effort": "low"})
    url = f"/v1/responses/{thinking['id']}?include%5B%5D=reasoning.encrypted_content"
    reasoning = (await (await client.get(url)).json())["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"].startswith("gAAAAAB")


async def test_unknown_deleted_and_unstored_ids(client: Any) -> None:
    unknown = await client.get("/v1/responses/resp_nope")
    assert await error_of(unknown, 404) == {"message": "Response with id 'resp_nope' not found.", **NOT_FOUND}
    kept = await create(client)
    deleted = await client.delete(f"/v1/responses/{kept['id']}")
    assert await deleted.json() == {"id": kept["id"], "object": "response.deleted", "deleted": True}
    for method in ("get", "delete"):
        gone = await getattr(client, method)(f"/v1/responses/{kept['id']}")
        assert (await error_of(gone, 404))["message"] == f"Response with id '{kept['id']}' not found."
    assert (await client.get(f"/v1/responses/{kept['id']}/input_items")).status == 404
    unstored = await create(client, store=False)
    assert unstored["store"] is False
    assert (await client.get(f"/v1/responses/{unstored['id']}")).status == 404
    for key in (kept["id"], unstored["id"], "resp_nope"):
        chained = await client.post("/v1/responses", json={"model": "worm", "previous_response_id": key})
        assert await error_of(chained, 400) == {
            "message": f"Previous response with id '{key}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
        assert "x-ratelimit-remaining-requests" in chained.headers  # a 400 counts against the limits too


async def test_streaming_a_response_that_is_not_background(client: Any) -> None:
    created = await create(client)
    refused = await client.get(f"/v1/responses/{created['id']}?stream=true")
    assert await error_of(refused, 400) == {
        "message": "This response cannot be streamed because it was not created with background=true.",
        "type": "invalid_request_error",
        "param": "stream",
        "code": "invalid_request_error",
    }


# --- input items, input tokens ------------------------------------------------------------------------------------


async def test_input_items_are_listed_newest_first(client: Any) -> None:
    items = [
        {"role": "user", "content": "one"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "two"}]},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}", "id": "fc_mine"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"role": "user", "content": [{"type": "input_text", "text": "five"}]},
    ]
    created = await create(client, input=items)
    url = f"/v1/responses/{created['id']}/input_items"
    listed = await (await client.get(url)).json()
    validate_sdk(ResponseItemList, listed)
    data = listed["data"]
    assert [item["type"] for item in data] == [
        "message", "function_call_output", "function_call", "message", "message"
    ]  # fmt: skip
    assert data[0] == {
        "id": data[0]["id"],
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "five"}],
    }
    assert data[0]["id"].startswith("msg_") and data[1]["id"].startswith("fco_") and data[2]["id"] == "fc_mine"
    assert data[4]["content"] == [{"type": "input_text", "text": "one"}]  # a string, as a part
    assert (listed["first_id"], listed["last_id"], listed["has_more"]) == (data[0]["id"], data[-1]["id"], False)
    assert await (await client.get(url)).json() == listed  # the same ids every time
    ascending = await (await client.get(url + "?order=asc&limit=2")).json()
    assert [item["id"] for item in ascending["data"]] == [data[4]["id"], data[3]["id"]] and ascending["has_more"]
    rest = await (await client.get(url + f"?order=asc&limit=2&after={data[3]['id']}")).json()
    assert [item["id"] for item in rest["data"]] == [data[2]["id"], data[1]["id"]] and rest["has_more"]
    too_many = await client.get(url + "?limit=101")
    assert await error_of(too_many, 400) == {
        "message": "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead.",
        "type": "invalid_request_error",
        "param": "limit",
        "code": "integer_above_max_value",
    }
    one = await (await client.get(f"/v1/responses/{(await create(client))['id']}/input_items")).json()
    assert [item["content"] for item in one["data"]] == [[{"type": "input_text", "text": "hi"}]]
    validate_openapi("ResponseItemList", listed)


async def test_input_tokens_count_as_usage_does(client: Any) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    body = {"model": "worm", "input": "What is the weather?", "instructions": "Be brief.", "tools": [tool]}
    created = await create(client, **body)
    counted = await client.post("/v1/responses/input_tokens", json=body)
    answer = await counted.json()
    assert answer == {"object": "response.input_tokens", "input_tokens": created["usage"]["input_tokens"]}
    validate_sdk(InputTokenCountResponse, answer)
    without_tools = await (await client.post("/v1/responses/input_tokens", json={**body, "tools": []})).json()
    assert answer["input_tokens"] - without_tools["input_tokens"] == 8 + 1 + (3 + 1 + 1) + 12  # the definition
    assert (await (await client.post("/v1/responses/input_tokens", json={"input": "hi"})).json())["input_tokens"] == 8


# --- chains --------------------------------------------------------------------------------------------------------


async def test_a_chain_carries_its_turns(client: Any) -> None:
    def create_(**body: Any) -> Any:
        return create(client, **{"model": "gpt-4o", **body})  # a model no scenario is named after

    first = await create_(input="Weather in Paris?", instructions="Be brief.")
    assert first["output"][0]["content"][0]["text"] == "Paris it is."
    # No user message of its own: the chain's last one picks the scenario.
    second = await create_(previous_response_id=first["id"], input=[{"role": "developer", "content": "Go on."}])
    assert (second["output"][0]["content"][0]["text"], second["previous_response_id"]) == ("Paris it is.", first["id"])
    alone = await create_(input=[{"role": "developer", "content": "Go on."}])
    assert alone["output"][0]["content"][0]["text"] != "Paris it is."  # without the chain, no Paris
    third = await create_(previous_response_id=second["id"], input="And Tokyo?")
    assert third["output"][0]["content"][0]["text"] == "Tokyo it is."
    # Every earlier input and output counted once; instructions are not carried over.
    turns = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Paris it is."},
        {"role": "developer", "content": "Go on."},
        {"role": "assistant", "content": "Paris it is."},
        {"role": "user", "content": "And Tokyo?"},
    ]
    flat = await create_(input=turns)
    assert third["usage"]["input_tokens"] == flat["usage"]["input_tokens"]
    counted = await client.post(
        "/v1/responses/input_tokens", json={"input": "And Tokyo?", "previous_response_id": second["id"]}
    )
    assert (await counted.json())["input_tokens"] == flat["usage"]["input_tokens"]
    journal = (await (await client.get("/_mock/requests")).json())["requests"]
    assert [entry["scenario"] for entry in journal[:4]] == ["paris", "paris", "default", "tokyo"]


async def test_a_chain_of_tool_calls(client: Any) -> None:
    """The turns of a function call and its output, across responses: the output item of one response and the
    `function_call_output` of the next."""
    call = await create(client, model="tool-call", input="Weather in Tokyo?")
    (item,) = call["output"]
    answer = await create(
        client,
        model="worm",
        previous_response_id=call["id"],
        input=[{"type": "function_call_output", "call_id": item["call_id"], "output": "sunny"}],
    )
    flat = await create(
        client,
        model="worm",
        input=[
            {"role": "user", "content": "Weather in Tokyo?"},
            {"type": "function_call", "call_id": item["call_id"], "name": item["name"], "arguments": item["arguments"]},
            {"type": "function_call_output", "call_id": item["call_id"], "output": "sunny"},
        ],
    )
    assert answer["usage"]["input_tokens"] == flat["usage"]["input_tokens"]


async def test_conversation_and_previous_response_together(client: Any) -> None:
    both = await client.post(
        "/v1/responses", json={"model": "worm", "previous_response_id": "resp_1", "conversation": "conv_1"}
    )
    assert await error_of(both, 400) == {
        "message": "Mutually exclusive parameters: ''. Ensure you are only providing one of: 'pre..._id' or 'conversation'.",
        "type": "invalid_request_error",
        "param": None,
        "code": "mutually_exclusive_parameters",
    }


# --- sessions and the bound ---------------------------------------------------------------------------------------


async def test_each_session_has_its_own_store_and_reset_clears_it(client: Any) -> None:
    mine = await create(client, "/session/a")
    assert (await client.get(f"/session/a/v1/responses/{mine['id']}")).status == 200
    assert (await client.get(f"/session/b/v1/responses/{mine['id']}")).status == 404
    assert (await client.get(f"/v1/responses/{mine['id']}")).status == 404
    other = await create(client, "/session/b")
    await client.post("/_mock/reset?session=a")
    assert (await client.get(f"/session/a/v1/responses/{mine['id']}")).status == 404
    assert (await client.get(f"/session/b/v1/responses/{other['id']}")).status == 200


async def test_the_bound_drops_the_least_recently_used(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(SCENARIOS, speed=0, store_size=2))
    first, second = await create(client), await create(client)
    assert (await client.get(f"/v1/responses/{first['id']}")).status == 200  # first is now the most recent
    await create(client)  # drops second
    assert (await client.get(f"/v1/responses/{first['id']}")).status == 200
    missed = await client.post("/v1/responses", json={"model": "worm", "previous_response_id": second["id"]})
    assert missed.status == 400
    assert (await client.get(f"/v1/responses/{second['id']}")).status == 404
    journal = (await (await client.get("/_mock/requests")).json())["requests"]
    notes = [entry["store_miss"] for entry in journal[-2:]]
    kept = "the store keeps the 2 most recently used objects, holding at most 268,435,456 bytes"
    assert notes == [f"'{second['id']}' was dropped: {kept}"] * 2
    assert journal[0]["store_miss"] is None
    never = await client.get("/v1/responses/resp_never")
    assert never.status == 404
    assert (await (await client.get("/_mock/requests")).json())["requests"][-1]["store_miss"] is None


async def test_the_bound_counts_what_the_objects_hold(aiohttp_client: Any) -> None:
    """Large prompts kept by the thousand, or a conversation that grows without end, must not take all memory."""
    client = await aiohttp_client(make_app(SCENARIOS, speed=0, store_bytes=200_000))
    large = "word " * 16_000  # about 80 KB counted
    first = await (await client.post("/v1/responses", json={"model": "worm", "input": large})).json()
    second = await (await client.post("/v1/responses", json={"model": "worm", "input": large})).json()
    assert (await client.get(f"/v1/responses/{first['id']}")).status == 200
    third = await (await client.post("/v1/responses", json={"model": "worm", "input": large})).json()  # drops second
    assert (await client.get(f"/v1/responses/{second['id']}")).status == 404
    assert (await client.get(f"/v1/responses/{first['id']}")).status == 200
    conversation = await (await client.post("/v1/conversations", json={})).json()
    item = {"type": "message", "role": "user", "content": "word " * 2000}
    adds = [
        await client.post(f"/v1/conversations/{conversation['id']}/items", json={"items": [item] * 10})
        for _ in range(30)  # 300 KB of items in all: past what the whole store may hold
    ]
    assert [added.status for added in adds[:2]] == [200, 400] and adds[-1].status == 400
    error = await error_of(adds[-1], 400)
    assert (error["code"], error["param"]) == ("conversation_too_large", "items")
    assert error["message"] == (
        "These items would make the conversation hold more than this server keeps for everything stored "
        "(serve --store-bytes: 200,000 bytes)."
    )
    assert (await client.get(f"/v1/responses/{third['id']}")).status == 404  # it made room for the conversation
    assert (await client.get(f"/v1/conversations/{conversation['id']}")).status == 200
    assert client.app[STATE].store.bytes <= 200_000
    huge = {"model": "worm", "input": "word " * 48_000}  # about 240 KB: more than everything may hold
    alone = await (await client.post("/v1/responses", json=huge)).json()
    assert (await client.get(f"/v1/responses/{alone['id']}")).status == 404  # answered, but not kept


async def test_a_response_is_costed_by_what_its_input_holds_not_its_tokens(aiohttp_client: Any) -> None:
    # An 8 MiB word is 8 tokens: forty of them were all kept under a 4 MB bound (RSS 191 -> 544 MB).
    client = await aiohttp_client(make_app(SCENARIOS, speed=0, store_bytes=5_000_000))  # two of them
    word = {"model": "worm", "input": "x" * 2_000_000}
    kept = [(await (await client.post("/v1/responses", json=word)).json())["id"] for _ in range(4)]
    found = [(await client.get(f"/v1/responses/{key}")).status for key in kept]
    assert found == [404, 404, 200, 200] and client.app[STATE].store.bytes <= 5_000_000
    told = {"model": "worm", "input": "hi", "instructions": "x" * 2_000_000}  # instructions are held too
    kept = [(await (await client.post("/v1/responses", json=told)).json())["id"] for _ in range(3)]
    assert [(await client.get(f"/v1/responses/{key}")).status for key in kept] == [404, 200, 200]
    parts = [{"type": "input_text", "text": "x"}] * 20_000  # 40,000 tokens, about 6 MB held
    alone = await client.post("/v1/responses", json={"model": "worm", "input": [{"role": "user", "content": parts}]})
    assert (await client.get(f"/v1/responses/{(await alone.json())['id']}")).status == 404  # answered, not kept


async def test_reads_of_different_objects_are_not_retries(client: Any) -> None:
    """Bodiless reads of two unknown responses are two calls, not a retried 404."""
    for key in ("resp_a", "resp_b"):
        assert (await client.get(f"/session/v/v1/responses/{key}")).status == 404
    verdict = await (await client.get("/_mock/verdicts?session=v")).json()
    assert (verdict["clean"], verdict["calls"]) == (True, 2)
    for _ in range(2):  # the same read again is a retry of a 404
        await client.get("/session/w/v1/responses/resp_a")
    verdict = await (await client.get("/_mock/verdicts?session=w")).json()
    assert verdict["calls"] == 1 and not verdict["clean"]


async def test_a_chain_costs_each_turn_once(aiohttp_client: Any) -> None:
    """A response continuing a chain holds its own input: its earlier turns are held by the responses before it."""
    client = await aiohttp_client(make_app(SCENARIOS, speed=0, store_bytes=400_000))
    large = "word " * 15_000  # about 60 KB counted
    first = await (await client.post("/v1/responses", json={"model": "worm", "input": large})).json()
    previous = first
    for _ in range(4):  # five turns of 60 KB: the chain fits, though its last turn reads 300 KB of prompt
        body = {"model": "worm", "input": large, "previous_response_id": previous["id"]}
        previous = await (await client.post("/v1/responses", json=body)).json()
    assert previous["usage"]["input_tokens"] > 70_000
    assert (await client.get(f"/v1/responses/{first['id']}")).status == 200
