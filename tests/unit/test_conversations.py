"""The Conversations API: the conversation and its items with the real shapes and errors, and `conversation` on
`POST /v1/responses` reading the items as earlier turns and adding the new ones."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import error_of, validate_openapi, validate_sdk
from openai.types.conversations import Conversation, ConversationDeletedResource, ConversationItemList

from mockserver.testing import make_app

SCENARIOS = """
scenarios:
  - {name: default, text: "Hello."}
  - {name: pelican, match: {contains: pelican}, text: "The word was pelican."}
"""
HELLO = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Remember: pelican."}]}]


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    return await aiohttp_client(make_app(SCENARIOS, speed=0))


async def ok(response: Any) -> Any:
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_conversation_from_creation_to_deletion(client: Any) -> None:
    created = await ok(await client.post("/v1/conversations", json={}))
    assert list(created) == ["id", "object", "created_at", "metadata"]
    assert created["id"].startswith("conv_") and len(created["id"]) == 53
    assert (created["object"], created["metadata"]) == ("conversation", {})
    validate_sdk(Conversation, created)
    url = f"/v1/conversations/{created['id']}"
    assert await ok(await client.get(url)) == created
    updated = await ok(await client.post(url, json={"metadata": {"topic": "birds"}}))
    assert updated == {**created, "metadata": {"topic": "birds"}}
    deleted = await ok(await client.delete(url))
    assert deleted == {"id": created["id"], "object": "conversation.deleted", "deleted": True}
    validate_sdk(ConversationDeletedResource, deleted)
    for method in ("get", "delete"):
        gone = await getattr(client, method)(url)
        assert await error_of(gone, 404) == {
            "message": f"Conversation with id '{created['id']}' not found.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    validate_openapi("ConversationResource", created)


async def test_items_listed_added_read_deleted(client: Any) -> None:
    created = await ok(await client.post("/v1/conversations", json={"items": HELLO, "metadata": {"a": "b"}}))
    url = f"/v1/conversations/{created['id']}/items"
    listed = await ok(await client.get(url))
    validate_sdk(ConversationItemList, listed)
    (first,) = listed["data"]
    assert first == {
        "id": first["id"],
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": HELLO[0]["content"],
    }
    added = await ok(
        await client.post(
            url, json={"items": [{"role": "assistant", "content": "Noted."}, {"role": "user", "content": "Go."}]}
        )
    )
    assert [item["role"] for item in added["data"]] == ["assistant", "user"] and added["has_more"] is False
    assert added["data"][0]["content"] == [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Noted."}]
    newest_first = await ok(await client.get(url))
    assert [item["id"] for item in newest_first["data"]] == [
        added["data"][1]["id"],
        added["data"][0]["id"],
        first["id"],
    ]
    page = await ok(await client.get(url + f"?order=asc&limit=1&after={first['id']}"))
    assert [item["id"] for item in page["data"]] == [added["data"][0]["id"]] and page["has_more"]
    one = f"{url}/{added['data'][0]['id']}"
    assert await ok(await client.get(one)) == added["data"][0]
    assert await ok(await client.delete(one)) == created  # deleting an item answers with the conversation
    assert await error_of(await client.get(one), 404) == {
        "message": f"Item with id '{added['data'][0]['id']}' not found in conversation.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert len((await ok(await client.get(url)))["data"]) == 2
    validate_openapi("ConversationItemList", listed)
    validate_openapi("ConversationItemList", newest_first)


async def test_what_the_api_refuses(client: Any) -> None:
    many = [{"role": "user", "content": str(n)} for n in range(21)]
    assert await error_of(await client.post("/v1/conversations", json={"items": many}), 400) == {
        "message": "Invalid 'items': array too long. Expected an array with maximum length 20, but got an array with length 21 instead.",
        "type": "invalid_request_error",
        "param": "items",
        "code": "array_above_max_length",
    }
    bad = await client.post("/v1/conversations", json={"items": [{"role": "robot", "content": "x"}]})
    assert (await error_of(bad, 400))["param"] == "items[0]"  # the item, as on Responses input
    created = await ok(await client.post("/v1/conversations", json={}))
    for item, param in [
        ({"type": "function_call_output", "call_id": "c", "output": 5}, "items[0].output"),
        ({"type": "function_call", "call_id": "c", "name": 5, "arguments": "{}"}, "items[0].name"),
        ({"role": "user", "content": [{"type": "input_text", "text": 5}]}, "items[0].content[0].text"),
        ({"type": "bogus"}, "items[0]"),
    ]:  # each was stored as sent, and listed back with its wrong type
        added = await client.post(f"/v1/conversations/{created['id']}/items", json={"items": [item]})
        assert (await error_of(added, 400))["param"] == param
    assert (await ok(await client.get(f"/v1/conversations/{created['id']}/items")))["data"] == []
    keys = {f"k{n}": "v" for n in range(17)}
    assert (await error_of(await client.post("/v1/conversations", json={"metadata": keys}), 400))["code"] == (
        "object_above_max_properties"
    )
    created = await ok(await client.post("/v1/conversations", json={}))
    no_metadata = await client.post(f"/v1/conversations/{created['id']}", json={})
    assert (await error_of(no_metadata, 400))["message"] == "Missing required parameter: 'metadata'."
    empty = await client.post(f"/v1/conversations/{created['id']}/items", json={"items": []})
    assert (await error_of(empty, 400))["code"] == "empty_array"
    assert (await client.get("/v1/conversations/conv_nope/items")).status == 404


async def test_a_response_in_a_conversation(client: Any) -> None:
    created = await ok(await client.post("/v1/conversations", json={"items": HELLO}))
    ask = [{"role": "developer", "content": "Say the word."}]  # no user message: the conversation's last one
    answer = await ok(
        await client.post("/v1/responses", json={"model": "gpt-4o", "input": ask, "conversation": created["id"]})
    )
    assert answer["conversation"] == {"id": created["id"]} and answer["previous_response_id"] is None
    assert answer["output"][0]["content"][0]["text"] == "The word was pelican."  # its match saw the earlier turn
    alone = await ok(await client.post("/v1/responses", json={"model": "gpt-4o", "input": ask}))
    assert "conversation" not in alone and alone["output"][0]["content"][0]["text"] == "Hello."
    assert alone["usage"]["input_tokens"] < answer["usage"]["input_tokens"]
    items = (await ok(await client.get(f"/v1/conversations/{created['id']}/items?order=asc")))["data"]
    assert [(item["role"], item["content"][0]["text"]) for item in items] == [
        ("user", "Remember: pelican."),
        ("developer", "Say the word."),
        ("assistant", "The word was pelican."),
    ]
    assert items[2]["id"] == answer["output"][0]["id"]
    # The object form of `conversation`, and a second turn that sees all three.
    again = await ok(
        await client.post(
            "/v1/responses", json={"model": "gpt-4o", "input": "Again?", "conversation": {"id": created["id"]}}
        )
    )
    assert again["usage"]["input_tokens"] > answer["usage"]["input_tokens"]
    missing = await client.post("/v1/responses", json={"model": "gpt-4o", "input": "x", "conversation": "conv_nope"})
    assert (await error_of(missing, 404))["message"] == "Conversation with id 'conv_nope' not found."
