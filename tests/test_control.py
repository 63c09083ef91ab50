"""The control API under /_mock/, the request journal, and sessions in the URL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from helpers import USER, Session

from mockserver.scenario.chaos import parse as parse_chaos
from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app

BASE = """
scenarios:
  - name: default
    text: "from the file"
  - name: slow
    chunks: ["a", "b", "c"]
    interval_ms: 300
  - name: flaky
    sequence:
      - error: {status: 500}
      - text: "recovered"
"""


async def ask(
    client: Any, path: str = "/v1/chat/completions", model: str = "gpt-4o", **headers: str
) -> tuple[int, Any]:
    response = await client.post(path, json={"model": model, "messages": USER}, headers=headers)
    data = await response.json()
    return response.status, data["choices"][0]["message"]["content"] if response.status == 200 else data["error"]


async def test_health(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE))
    response = await client.get("/_mock/health")
    assert response.status == 200
    health = await response.json()
    assert health["status"] == "ok"
    assert health["scenarios"] == 3


async def test_list_add_replace_delete(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE))
    listed = (await (await client.get("/_mock/scenarios")).json())["scenarios"]
    assert [s["name"] for s in listed] == ["default", "slow", "flaky"]
    assert listed[0] == {
        "name": "default",
        "description": None,
        "source": "<inline>:3",
        "match": None,
        "steps": None,
        "session": None,
    }
    assert listed[2]["steps"] == 2

    # YAML: one scenario, for everyone
    response = await client.post("/_mock/scenarios", data="name: poem\nmatch: {contains: poem}\ntext: roses\n")
    assert response.status == 201
    assert await response.json() == {"added": ["poem"], "replaced": [], "session": None}
    assert await ask(client, model="x", **{}) == (200, "from the file")
    response = await client.post(
        "/v1/chat/completions", json={"model": "x", "messages": [{"role": "user", "content": "a poem"}]}
    )
    assert (await response.json())["choices"][0]["message"]["content"] == "roses"

    # JSON: a list; a name that exists in the files is shadowed, one added before is replaced
    body = [{"name": "default", "text": "runtime default"}, {"name": "poem", "text": "violets"}]
    response = await client.post("/_mock/scenarios", json=body)
    assert (await response.json())["replaced"] == ["poem"]
    assert await ask(client) == (200, "runtime default")
    assert await ask(client, model="poem") == (200, "violets")
    listed = (await (await client.get("/_mock/scenarios")).json())["scenarios"]
    assert [s["name"] for s in listed] == ["default", "poem", "slow", "flaky"]

    assert (await client.delete("/_mock/scenarios/default")).status == 200
    assert await ask(client) == (200, "from the file")
    response = await client.delete("/_mock/scenarios/slow")  # file scenarios are not removable at run time
    assert response.status == 404
    error = (await response.json())["error"]
    assert error["code"] == "scenario_not_found"
    assert "it was loaded from a file" in error["message"]


async def test_invalid_scenarios_get_422_with_file_style_messages(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE))
    response = await client.post(
        "/_mock/scenarios?source=mine.yaml", data="- name: a\n  txt: hi\n- name: b\n  text: ok\n  ttft_ms: -1\n"
    )
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "invalid_scenario"
    lines = [
        "mine.yaml:2: unknown key 'txt' in scenario 'a'; did you mean 'text'?",
        "mine.yaml:5: 'ttft_ms' in scenario 'b' must be zero or more, got -1",
    ]
    assert error["message"] == "Invalid scenarios:\n" + "\n".join(lines)  # for a person reading it
    assert error["problems"] == [  # for a program
        {"source": "mine.yaml", "line": 2, "message": "unknown key 'txt' in scenario 'a'; did you mean 'text'?"},
        {"source": "mine.yaml", "line": 5, "message": "'ttft_ms' in scenario 'b' must be zero or more, got -1"},
    ]
    response = await client.post("/_mock/scenarios", data=" \n")
    assert response.status == 422
    assert (await response.json())["error"]["message"] == "No scenarios in the request body: it is empty."
    response = await client.post("/_mock/scenarios", data="{not: [valid")
    assert response.status == 422
    problem = (await response.json())["error"]["problems"][0]
    assert (problem["source"], problem["line"]) == ("<request body>", 1)
    assert problem["message"].startswith("YAML syntax error")
    # nothing was added
    assert len((await (await client.get("/_mock/scenarios")).json())["scenarios"]) == 3


async def test_sessions_in_the_url_are_isolated(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE))
    a, b = "/session/a/v1/chat/completions", "/session/b/v1/chat/completions"
    assert (await ask(client, a, model="flaky"))[0] == 500
    assert (await ask(client, b, model="flaky"))[0] == 500  # its own count
    assert await ask(client, a, model="flaky") == (200, "recovered")
    # a session's scenarios and use() are its own
    await client.post("/_mock/scenarios?session=a", data="name: default\ntext: only for a\n")
    assert await ask(client, a) == (200, "only for a")
    assert await ask(client, b) == (200, "from the file")
    assert (await client.post("/_mock/use?session=b", json={"scenario": "slow"})).status == 200
    status, _ = await ask(client, b, model="flaky")
    assert status == 200  # slow answers everything in b
    # the header works as a session too
    assert (await ask(client, model="flaky", **{"X-Mock-Session": "c"}))[0] == 500
    # the journal keeps them apart
    journal = (await (await client.get("/_mock/requests?session=a")).json())["requests"]
    assert [(e["path"], e["scenario"], e["status"]) for e in journal] == [
        (a, "flaky", 500),
        (a, "flaky", 200),
        (a, "default", 200),
    ]
    assert (await client.post("/session/a/v1/nowhere", json={})).status == 404


async def test_reset_one_session_or_all(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE))
    a = "/session/a/v1/chat/completions"
    await ask(client, a, model="flaky")
    await ask(client, model="flaky")
    await client.post("/_mock/scenarios?session=a", data="name: extra\ntext: x\n")
    assert (await (await client.post("/_mock/reset?session=a")).json()) == {"reset": "a"}
    assert (await ask(client, a, model="flaky"))[0] == 500  # a starts again
    assert await ask(client, model="flaky") == (200, "recovered")  # the shared count did not
    assert await ask(client, a, model="extra") == (200, "from the file")  # its scenario went with it
    journal = (await (await client.get("/_mock/requests")).json())["requests"]
    assert len(journal) == 4
    await client.post("/_mock/reset")
    assert (await (await client.get("/_mock/requests")).json())["requests"] == []
    assert (await ask(client, model="flaky"))[0] == 500


async def test_journal_entries(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE, journal_size=3))
    await client.post(
        "/v1/chat/completions",
        json={"model": "flaky", "messages": USER, "stream": True},
        headers={"x-stainless-retry-count": "0", "Authorization": "Bearer sk-secret"},
    )
    await client.post("/v1/chat/completions", data=b"not json")
    await client.post(
        "/v1/chat/completions",
        json={"model": "flaky", "messages": USER, "stream": True},
        headers={"x-stainless-retry-count": "1"},
    )
    entries = (await (await client.get("/_mock/requests")).json())["requests"]
    first, bad, second = entries
    assert first["method"] == "POST" and first["path"] == "/v1/chat/completions"
    assert first["body"] == {"model": "flaky", "messages": USER, "stream": True}
    assert (first["scenario"], first["step"], first["status"], first["retry_count"]) == ("flaky", 1, 500, 0)
    assert first["headers"]["authorization"] == "[redacted]"
    assert first["session"] is None
    assert bad["body"] == "not json" and bad["status"] == 400 and bad["scenario"] is None
    assert (second["step"], second["status"], second["ended"], second["retry_count"]) == (2, 200, "completed", 1)
    assert second["chunks"] == 3  # role, "recovered", finish
    assert second["duration_ms"] >= 0
    assert first["time"] <= second["time"]
    # bounded: the oldest goes first
    await ask(client)
    entries = (await (await client.get("/_mock/requests")).json())["requests"]
    assert [e["id"] for e in entries] == [2, 3, 4]
    assert [e["id"] for e in (await (await client.get("/_mock/requests?limit=1")).json())["requests"]] == [4]
    assert [e["id"] for e in (await (await client.get("/_mock/requests?scenario=flaky")).json())["requests"]] == [3]


async def test_the_journal_keeps_a_large_body_as_a_note(aiohttp_client: Any) -> None:
    # The journal must stay small whatever clients send: a body over 1 MiB is noted, not kept.
    client = await aiohttp_client(make_app(BASE))
    large = {"model": "slow", "messages": [{"role": "user", "content": "x" * (1024 * 1024)}]}
    await client.post("/v1/chat/completions", json=large)
    (entry,) = (await (await client.get("/_mock/requests")).json())["requests"]
    size = len(json.dumps(large).encode())
    assert entry["body"] == f"<{size} bytes, not kept>"


async def test_journal_records_a_disconnect(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE))
    response = await client.post("/v1/chat/completions", json={"model": "slow", "messages": USER, "stream": True})
    await response.content.readline()  # the role chunk and "a"
    response.close()
    for _ in range(50):
        entries = (await (await client.get("/_mock/requests")).json())["requests"]
        if entries[0]["ended"] != "in progress":
            break
        await asyncio.sleep(0.05)
    entry = entries[0]
    assert entry["ended"] == "client disconnected"
    assert entry["status"] == 200
    assert 2 <= entry["chunks"] < 5


def test_journal_counts_sdk_retries() -> None:
    with BackgroundServer(make_app(BASE)) as server:
        client = openai.OpenAI(base_url=server.root_url + "/session/retries/v1", api_key="x")
        answer = client.chat.completions.create(model="flaky", messages=USER)
        assert answer.choices[0].message.content == "recovered"
        entries = Session(server.root_url, "retries").journal()
        assert [(e["retry_count"], e["status"]) for e in entries] == [(0, 500), (1, 200)]


async def test_admin_token(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE, admin_token="s3cret"))
    assert (await client.get("/_mock/health")).status == 200  # open, for health checks
    for method, path in (("GET", "/_mock/scenarios"), ("POST", "/_mock/reset"), ("GET", "/_mock/requests")):
        response = await client.request(method, path)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "invalid_admin_token"
        response = await client.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert response.status == 401
        response = await client.request(method, path, headers={"Authorization": "Bearer s3cret"})
        assert response.status == 200
    assert await ask(client) == (200, "from the file")  # the API itself needs no admin token


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{", 400, None),
        (b"", 400, None),
        (b'{"name": "slow"}', 400, None),  # not silently taken as "stop"
        (b'{"scenario": "nope"}', 404, "scenario_not_found"),
    ],
)
async def test_use_errors(aiohttp_client: Any, body: bytes, status: int, code: str | None) -> None:
    client = await aiohttp_client(make_app(BASE))
    response = await client.post("/_mock/use", data=body)
    error = (await response.json())["error"]
    assert (response.status, error["code"]) == (status, code)
    assert error["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_mock/use", b'{"scenario": []}'),
        ("/_mock/use", b"\xff\xfe"),
        ("/_mock/scenarios", b"\xff\xfe"),
        ("/_mock/chaos", b"\xff\xfe"),
    ],
)
async def test_control_rejects_bodies_it_cannot_read(aiohttp_client: Any, path: str, body: bytes) -> None:
    client = await aiohttp_client(make_app(BASE))
    response = await client.post(path, data=body)
    assert response.status == 400
    assert (await response.json())["error"]["message"]
    assert (await client.get("/_mock/health")).status == 200


async def test_use_for_everyone_reaches_sessions_until_a_global_reset(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE))
    session = "/session/a/v1/chat/completions"
    assert (await client.post("/_mock/use", json={"scenario": "flaky"})).status == 200
    assert (await ask(client, session))[0] == 500
    assert (await ask(client))[0] == 500  # counted apart: the session and everyone else
    await client.post("/_mock/reset?session=a")
    assert (await ask(client, session))[0] == 500  # a session's reset leaves everyone's use()
    await client.post("/_mock/reset")
    assert await ask(client, session) == (200, "from the file")
    assert await ask(client) == (200, "from the file")


async def test_journal_says_how_the_scenario_was_chosen(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(BASE + "  - {name: matched, match: {contains: poem}, text: p}\n"))
    await ask(client, model="slow")
    await ask(client, model="gpt-4o", **{"X-Mock-Scenario": "slow"})
    await client.post("/v1/chat/completions", json={"model": "x", "messages": [{"role": "user", "content": "poem"}]})
    await ask(client, model="x")
    await client.post("/_mock/use", json={"scenario": "slow"})
    await ask(client, model="x")
    entries = (await (await client.get("/_mock/requests")).json())["requests"]
    assert [(e["scenario"], e["chosen_by"]) for e in entries] == [
        ("slow", "model"),
        ("slow", "header"),
        ("matched", "match"),
        ("default", "default"),
        ("slow", "use"),
    ]


async def test_only_recent_sessions_keep_their_state(aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mockserver.server.state.MAX_SESSIONS", 2)
    client = await aiohttp_client(make_app(BASE))
    path = "/session/{}/v1/chat/completions"
    assert (await ask(client, path.format("a"), model="flaky"))[0] == 500
    assert (await ask(client, path.format("b"), model="flaky"))[0] == 500
    assert await ask(client, path.format("a"), model="flaky") == (200, "recovered")  # a is the most recent
    assert (await ask(client, path.format("c"), model="flaky"))[0] == 500  # b is forgotten
    assert await ask(client, path.format("a"), model="flaky") == (200, "recovered")
    assert (await ask(client, path.format("b"), model="flaky"))[0] == 500  # b starts again


async def test_a_cut_without_a_stream_is_logged_as_a_fault(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import aiohttp

    client = await aiohttp_client(make_app("scenarios:\n  - {name: cut, chunks: [a, {disconnect: true}]}\n"))
    with caplog.at_level("INFO", logger="mockserver"), pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post("/v1/chat/completions", json={"model": "cut", "messages": USER})
    for _ in range(50):
        entries = (await (await client.get("/_mock/requests")).json())["requests"]
        if entries and entries[0]["ended"] != "in progress":
            break
        await asyncio.sleep(0.02)
    assert (entries[0]["ended"], entries[0]["status"], entries[0]["fault"]) == ("fault", None, "disconnect")
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST /v1/chat")]
    assert line.startswith("POST /v1/chat/completions - scenario=cut fault=disconnect ")
    assert "chunks=" not in line


async def test_resetting_a_session_after_draws_without_one(aiohttp_client: Any) -> None:
    # Draws made by a request without a session once made a session's reset fail with a 500.
    client = await aiohttp_client(make_app(BASE, chaos=parse_chaos("stall=0.5,stall_ms=1")))
    await client.post("/v1/chat/completions", json={"model": "slow", "messages": USER})
    await client.post("/session/a/v1/chat/completions", json={"model": "slow", "messages": USER})
    response = await client.post("/_mock/reset?session=a")
    assert response.status == 200
    assert (await client.post("/_mock/reset")).status == 200
