"""The page's live feed (`/_mock/feed`), the page's files, and the control routes the page reads."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest
from helpers import chat

from mockserver.server import feed
from mockserver.server.feed import FEED, Subscriber
from mockserver.server.feed import summary as summarized
from mockserver.testing import make_app

SCENARIOS = """
scenarios:
  - name: default
    text: "Hello there."
  - name: paced
    chunks: ["a", "b", "c", "d"]
    interval_ms: 150
"""


class Events:
    """The server-sent events of a feed, one at a time."""

    def __init__(self, response: Any) -> None:
        self.response = response

    async def next(self, timeout: float = 5.0) -> tuple[str, Any]:
        while True:
            block = (await asyncio.wait_for(self.response.content.readuntil(b"\n\n"), timeout)).decode()
            if block.startswith(":"):
                continue  # a heartbeat
            name, data = block.strip("\n").split("\n")
            return name.removeprefix("event: "), json.loads(data.removeprefix("data: "))

    async def until(self, name: str, check: Any = lambda data: True) -> Any:
        while True:
            event, data = await self.next()
            if event == name and check(data):
                return data


async def follow(client: Any, query: str = "", **headers: str) -> Events:
    response = await client.get("/_mock/feed" + query, headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    return Events(response)


def merge(seen: dict[int, Any], updates: list[Any]) -> None:
    """What the page does with a `requests` event: a new or ended entry comes whole, one in progress as its new
    ticks."""
    for update in updates:
        old = seen.get(update["id"], {})
        ticks = update["ticks"]  # flat: microseconds, chunks, microseconds, chunks...
        if update["ticks_from"] and old:
            ticks = old["ticks"][: 2 * update["ticks_from"]] + ticks
        seen[update["id"]] = {**old, **update, "ticks": ticks}


async def test_a_snapshot_then_each_stream_as_it_goes(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await client.post("/v1/chat/completions", json=chat("default"))
    events = await follow(client)
    name, snapshot = await events.next()
    assert name == "snapshot" and snapshot["journal_size"] == 1000
    assert [(s["id"], s["scenario"], s["status"]) for s in snapshot["requests"]] == [(1, "default", 200)]
    assert "body" not in snapshot["requests"][0] and "headers" not in snapshot["requests"][0]

    streaming = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat("paced")))
    seen: dict[int, Any] = {}
    updates = 0
    while seen.get(2, {}).get("ended") != "completed":
        merge(seen, (await events.until("requests"))["requests"])
        updates += 1
        if seen[2]["ended"] == "in progress":
            assert seen[2]["scenario"] == "paced" and seen[2]["status"] is None
    assert updates >= 2  # seen while in progress, then ended
    await (await streaming).read()
    journal = (await (await client.get("/_mock/requests")).json())["requests"]
    ticks = seen[2]["ticks"]
    assert [[us / 1000, chunks] for us, chunks in zip(ticks[::2], ticks[1::2], strict=True)] == journal[1]["ticks"]
    assert seen[2]["chunks"] == journal[1]["chunks"] == 6


async def test_a_reset_is_announced(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    events = await follow(client)
    await events.until("snapshot")
    await client.post("/_mock/reset?session=t1")
    assert await events.until("reset") == {"session": "t1"}
    await client.post("/_mock/reset")
    assert await events.until("reset") == {"session": None}


async def test_a_session_s_feed_has_only_its_requests(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    events = await follow(client, "?session=mine")
    await events.until("snapshot")
    await client.post("/session/other/v1/chat/completions", json=chat("default"))
    await client.post("/session/mine/v1/chat/completions", json=chat("default"))
    data = await events.until("requests")
    assert [s["session"] for s in data["requests"]] == ["mine"]


async def test_a_subscriber_that_falls_behind_gets_a_fresh_snapshot(
    client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "MAX_BACKLOG", 10)  # any update overflows it
    client = await client_for(SCENARIOS)
    events = await follow(client)
    await events.until("snapshot")
    await client.post("/v1/chat/completions", json=chat("default"))
    assert await events.until("resync") == {}
    snapshot = await events.until("snapshot")
    assert [s["id"] for s in snapshot["requests"]] == [1]


async def test_a_backlog_never_outgrows_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "MAX_BACKLOG", 1000)
    subscriber = Subscriber(None)
    for _ in range(100):
        subscriber.push(b"x" * 300)
        assert subscriber.size <= 1000
    assert subscriber.behind and not subscriber.backlog  # it will be sent a snapshot instead


async def test_a_page_that_does_not_read_costs_only_the_first_pieces_of_its_snapshot(
    aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot of a full journal runs to megabytes (here 1,000 requests on 8 KB paths: 16 MB). It was made whole
    for each page, and held until the page read it: 100 pages that never read took 3.2 GB."""
    server = await aiohttp_server(make_app(SCENARIOS))
    async with aiohttp.ClientSession() as session:
        gate = asyncio.Semaphore(20)

        async def miss(number: int) -> None:
            async with gate, session.get(server.make_url(f"/v1/{'a' * 8000}{number}")) as response:
                await response.read()

        await asyncio.gather(*(miss(number) for number in range(1000)))
        made = []
        monkeypatch.setattr(feed, "summary", lambda entry, *rest: made.append(entry.id) or summarized(entry, *rest))
    loop = asyncio.get_running_loop()
    with socket.socket() as idle:
        idle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        idle.setblocking(False)
        await loop.sock_connect(idle, (server.host, server.port))
        await loop.sock_sendall(idle, b"GET /_mock/feed HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(100):  # until the first pieces are out
            await asyncio.sleep(0.05)
            if made:
                break
        await asyncio.sleep(0.3)
        assert 0 < len(made) < 700  # what the kernel's buffers took; the rest waits for the page to read
    made.clear()
    async with (
        aiohttp.ClientSession(read_bufsize=1 << 25) as session,
        session.get(server.make_url("/_mock/feed")) as response,
    ):  # a page that reads gets it all
        snapshot = await Events(response).until("snapshot")
    assert [entry["id"] for entry in snapshot["requests"]] == list(range(1, 1001))
    assert snapshot["journal_size"] == 1000 and "answered" in snapshot["stats"]
    assert len(made) == 1000


async def test_calls_are_told_apart_by_their_bodies(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    events = await follow(client)
    await events.until("snapshot")
    for content in ("hi", "hi", "other"):
        await client.post(
            "/v1/chat/completions", json={"model": "default", "messages": [{"role": "user", "content": content}]}
        )
    seen: dict[int, Any] = {}
    while len(seen) < 3 or any(s["ended"] == "in progress" for s in seen.values()):
        merge(seen, (await events.until("requests"))["requests"])
    assert seen[1]["call"] == seen[2]["call"] != seen[3]["call"]


async def test_the_feed_ends_when_the_server_stops(aiohttp_server: Any) -> None:
    app = make_app(SCENARIOS)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        response = await session.get(server.make_url("/_mock/feed"))
        await response.content.readuntil(b"\n\n")
        assert len(app[FEED].subscribers) == 1
        started = asyncio.get_running_loop().time()
        await server.close()
        assert await asyncio.wait_for(response.content.read(), 5) == b""
        assert asyncio.get_running_loop().time() - started < 2


async def test_the_page_s_files_need_no_token_and_its_data_does(client_for: Any) -> None:
    client = await client_for(SCENARIOS, admin_token="s3cret")
    page = await client.get("/_mock/")
    assert page.status == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    html = await page.text()
    assert '<script type="module" src="page.js"></script>' in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]  # no inline code, no other origin
    for name, kind in (("page.js", "text/javascript"), ("feed.js", "text/javascript"), ("page.css", "text/css")):
        asset = await client.get(f"/_mock/{name}")
        assert asset.status == 200 and asset.headers["Content-Type"].startswith(kind)
    redirect = await client.get("/_mock", allow_redirects=False)
    assert (redirect.status, redirect.headers["Location"]) == (302, "/_mock/")
    assert (await client.get("/_mock/feed")).status == 401
    assert (await client.get("/_mock/sessions")).status == 401
    await follow(client, Authorization="Bearer s3cret")


async def test_sessions_and_one_request_by_id(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await client.post("/session/a/v1/chat/completions", json=chat("default"))
    await client.post("/v1/chat/completions", json=chat("default"))
    await client.post("/_mock/scenarios?session=b", data="name: own\ntext: hi")
    await client.post("/_mock/use?session=b", json={"scenario": "own"})
    sessions = (await (await client.get("/_mock/sessions")).json())["sessions"]
    assert sessions == [
        {"session": "b", "requests": 0, "in_progress": 0, "scenarios": 1, "use": "own"},
        {"session": "a", "requests": 1, "in_progress": 0, "scenarios": 0, "use": None},
        {"session": None, "requests": 1, "in_progress": 0, "scenarios": 0, "use": None},
    ]
    one = await (await client.get("/_mock/requests/1")).json()
    assert one["session"] == "a" and one["body"]["model"] == "default"
    missing = await client.get("/_mock/requests/9")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "request_not_found"
    assert (await client.get("/_mock/requests/x")).status == 404
