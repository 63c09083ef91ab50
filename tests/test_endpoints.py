"""End to end: openai-python's embeddings and moderations against `mockserver serve`, and a quota of 5 requests
that the SDK runs into and recovers from, as the real API's answers would make it."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from conftest import RunningServer, cli_server_running
from helpers import Session

from mockserver.scenario.load import BUNDLED
from mockserver.testing import MockServer

pytestmark = pytest.mark.slow  # a server process and real clients

EXTRA = """
scenarios:
  - name: screened
    match: {contains: "fight"}
    moderation:
      flagged: [violence]
      scores: {violence: 0.91}
"""
QUERY = "How do I reset my password?"
DOCUMENTS = [
    "Our office is open from nine to five, Monday to Friday.",
    "To reset your password, open Settings, choose Security and click Reset password.",
    "Invoices are emailed on the first day of each month.",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    extra = tmp_path_factory.mktemp("scenarios") / "extra.yaml"
    extra.write_text(EXTRA)
    with cli_server_running("--scenarios", str(BUNDLED), str(extra), "--speed", "0") as running:
        yield running


@pytest.fixture
def session(server: RunningServer) -> Session:
    return Session(server.base_url.removesuffix("/v1"))


def client(session: Session, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=session.base_url, api_key="sk-test", **options)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_create_base64_by_default_and_meaningful(session: Session) -> None:
    answer = client(session).embeddings.create(model="text-embedding-3-small", input=[QUERY, *DOCUMENTS])
    (body,) = [entry["body"] for entry in session.journal()]
    assert body["encoding_format"] == "base64"  # the SDK asks for base64 and decodes it itself
    assert answer.model == "text-embedding-3-small"
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > 0
    query, *documents = [item.embedding for item in answer.data]
    assert [item.index for item in answer.data] == [0, 1, 2, 3]
    assert len(query) == 1536 and math.isclose(sum(x * x for x in query), 1.0, abs_tol=1e-5)
    scores = [cosine(query, document) for document in documents]
    assert max(range(3), key=scores.__getitem__) == 1  # the document that really is about the query


def test_embeddings_create_as_floats_and_shortened(session: Session) -> None:
    sdk = client(session)
    as_base64 = sdk.embeddings.create(model="text-embedding-3-large", input=QUERY, dimensions=256)
    raw = sdk.embeddings.with_raw_response.create(
        model="text-embedding-3-large", input=QUERY, dimensions=256, encoding_format="float"
    )
    assert raw.headers["openai-model"] == "text-embedding-3-large"
    assert int(raw.headers["x-ratelimit-remaining-requests"]) < 10000
    as_floats = raw.parse()
    assert len(as_floats.data[0].embedding) == 256
    assert all(
        math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)
        for x, y in zip(as_base64.data[0].embedding, as_floats.data[0].embedding, strict=True)
    )
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.embeddings.create(model="text-embedding-ada-002", input=QUERY, dimensions=256)
    assert caught.value.message.endswith("This model does not support specifying dimensions.")


def test_moderations_create(session: Session) -> None:
    sdk = client(session)
    calm = sdk.moderations.create(model="omni-moderation-latest", input="Have a lovely day")
    assert calm.model == "omni-moderation-latest" and calm.id.startswith("modr-")
    assert calm.results[0].flagged is False
    assert calm.results[0].category_applied_input_types.violence == ["text"]
    flagged = sdk.moderations.create(model="omni-moderation-latest", input=["hello", "let's fight"])
    assert [result.flagged for result in flagged.results] == [True, True]  # the scenario answers every input
    assert flagged.results[1].categories.violence is True
    assert flagged.results[1].category_scores.violence == 0.91
    legacy = sdk.moderations.create(input="Have a lovely day")  # no model: the text-moderation shape
    assert legacy.model == "text-moderation-007"
    assert legacy.results[0].categories.illicit is None


def test_a_quota_of_five_counts_down_refuses_the_sixth_and_the_sdk_waits_for_room() -> None:
    """5 requests per 10 s: one request frees up every 2 s, so the SDK's wait stays short."""
    with cli_server_running("--scenarios", str(BUNDLED), "--speed", "0", "--rate-limit", "requests=5/10s") as server:
        session = Session(server.base_url.removesuffix("/v1"))
        sdk = client(session)
        request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        remaining = []
        for _ in range(5):
            raw = sdk.chat.completions.with_raw_response.create(**request)
            remaining.append(raw.headers["x-ratelimit-remaining-requests"])
        assert remaining == ["4", "3", "2", "1", "0"]
        started = time.monotonic()
        answer = sdk.chat.completions.create(**request)  # refused once, then retried when there is room
        waited = time.monotonic() - started
        assert answer.choices[0].message.content
        entries = session.journal()
        assert [entry["status"] for entry in entries] == [200] * 5 + [429, 200]
        refused = entries[5]
        assert refused["rate_limit"] == {
            "quota": "server",
            "remaining_requests": 0,
            "remaining_tokens": refused["rate_limit"]["remaining_tokens"],
            "refused": "requests",
        }
        assert 1.0 < refused["retry_after"] <= 2.0
        assert waited >= refused["retry_after"]
        assert session.control("verdicts")["findings"] == []  # one refusal, then it waited as asked


def test_a_test_gives_its_session_a_quota_of_its_own() -> None:
    with MockServer(speed=0) as server:
        mock = server.session("quota")
        mock.add({"name": "default", "text": "ok"})
        mock.rate_limit(requests="2/min")
        sdk = openai.OpenAI(base_url=mock.base_url, api_key="sk-test", max_retries=0)
        request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        sdk.chat.completions.create(**request)
        sdk.chat.completions.create(**request)
        for question in ("and this?", "and that?"):  # a client that keeps sending new requests
            with pytest.raises(openai.RateLimitError) as caught:
                sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        assert "on requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in" in caught.value.message
        assert [finding.rule for finding in mock.verdicts()] == ["ignored_rate_limit"]
        assert mock.requests[-1].rate_limit["refused"] == "requests"
        mock.rate_limit()  # back to the server's quota: none
        assert sdk.chat.completions.create(**request).choices[0].message.content == "ok"
