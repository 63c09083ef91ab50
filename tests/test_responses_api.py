"""Proof with real clients that the Responses API works as clients use it in 2026: openai-python chaining turns,
reading, deleting and listing stored responses, running background responses (polled, streamed, cut and resumed,
cancelled), conversations, the errors it raises; the OpenAI Agents SDK keeping memory in a conversation and
chaining runs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from helpers import Session

from mockserver.scenario.load import BUNDLED
from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app

pytestmark = pytest.mark.slow

SCENARIOS = """
scenarios:
  - {name: paris, match: {contains: Paris}, text: "Sunny in Paris."}
  - {name: tokyo, match: {contains: Tokyo}, text: "Rainy in Tokyo."}
  - {name: intro, match: {contains: "name is Ada"}, text: "Nice to meet you, Ada."}
  - {name: recall, match: {contains: "What is my name"}, text: "Your name is Ada."}
  - name: slow
    chunks: ["one", " two", " three", " four", " five", " six"]
    latency_ms: 300
    ttft_ms: 200
    interval_ms: 60
  - {name: stalls, chunks: ["before", {stall_ms: 10000}, " after"]}
  - {name: trip-start, match: {model: trip, turn: 0}, text: "Where to?"}
  - {name: trip-when, match: {model: trip, turn: 1, last_role: user}, text: "When do you leave?"}
  - {name: trip-booked, match: {model: trip, turn: {min: 2}}, text: "Booked."}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(make_app(BUNDLED, SCENARIOS)) as running:
        yield running


@pytest.fixture
def session(server: BackgroundServer) -> Session:
    return Session(server.root_url)


@pytest.fixture
def client(session: Session) -> openai.OpenAI:
    return openai.OpenAI(base_url=session.base_url, api_key="sk-test", max_retries=0)


def text_of(response: Any) -> str:
    return str(response.output_text)


def test_a_chain_of_three_turns(client: openai.OpenAI, session: Session) -> None:
    """Each turn names the one before; the scenario of the second (which says nothing new of its own) is chosen
    by the first turn's words, and every turn counts the ones before."""
    first = client.responses.create(model="gpt-4o", input="What is the weather in Paris?")
    second = client.responses.create(
        model="gpt-4o", previous_response_id=first.id, input=[{"role": "developer", "content": "Once more, briefly."}]
    )
    third = client.responses.create(model="gpt-4o", previous_response_id=second.id, input="And in Tokyo?")
    assert [text_of(r) for r in (first, second, third)] == ["Sunny in Paris.", "Sunny in Paris.", "Rainy in Tokyo."]
    alone = client.responses.create(model="gpt-4o", input=[{"role": "developer", "content": "Once more, briefly."}])
    assert text_of(alone) != "Sunny in Paris."
    assert third.previous_response_id == second.id
    assert first.usage and second.usage and third.usage
    assert first.usage.input_tokens < second.usage.input_tokens < third.usage.input_tokens
    counted = client.responses.input_tokens.count(previous_response_id=second.id, input="And in Tokyo?")
    assert counted.input_tokens == third.usage.input_tokens
    assert [entry["scenario"] for entry in session.journal()[:3]] == ["paris", "paris", "tokyo"]


def test_the_turns_of_a_chain_choose_each_answer(client: openai.OpenAI, session: Session) -> None:
    """`match: {turn: N}` counts the assistant turns of the whole chain, the stored ones included."""
    first = client.responses.create(model="trip", input="Plan a trip for me.")
    second = client.responses.create(model="trip", previous_response_id=first.id, input="Lisbon.")
    third = client.responses.create(model="trip", previous_response_id=second.id, input="On Friday.")
    assert [text_of(r) for r in (first, second, third)] == ["Where to?", "When do you leave?", "Booked."]
    alone = client.responses.create(model="trip", input="On Friday.")  # no chain: the first turn again
    assert text_of(alone) == "Where to?"
    assert [entry["scenario"] for entry in session.journal()] == [
        "trip-start",
        "trip-when",
        "trip-booked",
        "trip-start",
    ]


def test_retrieve_list_and_delete(client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Weather in Paris?", instructions="Be brief.")
    assert client.responses.retrieve(created.id) == created
    (item,) = client.responses.input_items.list(created.id).data
    assert item.type == "message" and item.role == "user"  # type: ignore[union-attr]
    assert item.content[0].text == "Weather in Paris?"  # type: ignore[union-attr]
    assert client.responses.delete(created.id) is None
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve(created.id)
    assert missing.value.body["message"] == f"Response with id '{created.id}' not found."
    with pytest.raises(openai.BadRequestError) as unknown:
        client.responses.create(model="gpt-4o", input="hi", previous_response_id=created.id)
    assert (unknown.value.code, unknown.value.param) == ("previous_response_not_found", "previous_response_id")


def test_a_background_response_polled_to_completion(client: openai.OpenAI) -> None:
    started = time.monotonic()
    response = client.responses.create(model="slow", input="hi", background=True)
    assert response.status == "queued" and time.monotonic() - started < 0.3
    seen = [response.status]
    while response.status in ("queued", "in_progress"):
        time.sleep(0.1)
        response = client.responses.retrieve(response.id)
        if response.status != seen[-1]:
            seen.append(response.status)
    assert seen == ["queued", "in_progress", "completed"]
    assert text_of(response) == "one two three four five six" and response.completed_at is not None


def test_a_background_stream_cut_and_resumed(client: openai.OpenAI) -> None:
    stream = client.responses.create(model="slow", input="hi", background=True, stream=True)
    before = []
    for event in stream:
        before.append(event)
        if len(before) == 6:
            break
    stream.close()  # the connection is gone; the response runs on
    response_id = before[0].response.id  # type: ignore[union-attr]
    last = before[-1].sequence_number
    resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=last))
    assert resumed[0].sequence_number == last + 1
    assert resumed[-1].type == "response.completed"
    whole = list(client.responses.retrieve(response_id, stream=True))
    assert [event.model_dump() for event in whole] == [event.model_dump() for event in before + resumed]
    # The SDK's own helper for resuming (it reads from the start and skips what was seen).
    with client.responses.stream(response_id=response_id, starting_after=last) as helper:
        final = helper.get_final_response()
    assert text_of(final) == "one two three four five six"


def test_cancel(client: openai.OpenAI) -> None:
    response = client.responses.create(model="stalls", input="hi", background=True)
    while client.responses.retrieve(response.id).status == "queued":
        time.sleep(0.02)
    cancelled = client.responses.cancel(response.id)
    assert cancelled.status == "cancelled" and cancelled.usage is None
    assert client.responses.retrieve(response.id).status == "cancelled"
    finished = client.responses.create(model="gpt-4o", input="Paris?", background=True)
    while client.responses.retrieve(finished.id).status != "completed":
        time.sleep(0.02)
    with pytest.raises(openai.BadRequestError, match=r"Cannot cancel a completed response\."):
        client.responses.cancel(finished.id)


def test_a_response_in_a_conversation(client: openai.OpenAI) -> None:
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "I live in Tokyo."}], metadata={"topic": "weather"}
    )
    response = client.responses.create(
        model="gpt-4o", conversation=conversation.id, input=[{"role": "developer", "content": "Answer."}]
    )
    assert response.conversation is not None and response.conversation.id == conversation.id
    assert text_of(response) == "Rainy in Tokyo."
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [item.role for item in items] == ["user", "developer", "assistant"]  # type: ignore[union-attr]
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "weather"}


def test_a_quota_failure_mid_stream_raises(client: openai.OpenAI, session: Session) -> None:
    """HTTP 200, then the failure: the SDK raises APIError, as it does against the real API."""
    with pytest.raises(openai.APIError) as raised:
        for _ in client.responses.create(model="fault-stream-quota", input="hi", stream=True):
            pass
    assert (raised.value.code, raised.value.type) == ("insufficient_quota", "insufficient_quota")
    with pytest.raises(openai.APIError, match="You exceeded your current quota"):  # noqa: SIM117
        with client.responses.stream(model="fault-stream-quota", input="hi") as stream:
            stream.get_final_response()
    assert [entry["status"] for entry in session.journal()] == [200, 200]  # the SDKs never retry these


# --- the OpenAI Agents SDK ------------------------------------------------------------------------------------


async def test_the_agents_sdk_remembers_in_a_conversation_and_chains_runs(session: Session) -> None:
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=session.base_url, api_key="sk-test", max_retries=0)
    agent = agents.Agent(
        name="assistant", instructions="Be brief.", model=agents.OpenAIResponsesModel("gpt-4o", openai_client=client)
    )
    memory = agents.OpenAIConversationsSession(openai_client=client)
    first = await agents.Runner.run(agent, "Hello, my name is Ada.", session=memory)
    second = await agents.Runner.run(agent, "What is my name?", session=memory)
    assert (first.final_output, second.final_output) == ("Nice to meet you, Ada.", "Your name is Ada.")
    # The second run's request carried the first run's turns, read back from the conversation.
    sent = [entry["body"] for entry in session.journal() if entry["path"].endswith("/v1/responses")]
    assert "Hello, my name is Ada." in json.dumps(sent[1]["input"])
    assert "Nice to meet you, Ada." in json.dumps(sent[1]["input"])
    stored = await memory.get_items()
    assert [item.get("role") for item in stored] == ["user", "assistant", "user", "assistant"]
    # A run chained to the last one's response: the server reads its turns back from the stored chain.
    third = await agents.Runner.run(
        agent, [{"role": "developer", "content": "Once more."}], previous_response_id=second.last_response_id
    )
    assert third.final_output == "Your name is Ada."  # chosen by the chain's last user message
    assert session.journal()[-1]["body"]["previous_response_id"] == second.last_response_id
    await client.close()
