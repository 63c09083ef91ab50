"""Requests written to hurt: each gets the API's error envelope, the server logs no traceback, the journal
always renders and stays within its bounds, connections that stall are closed, and state stays bounded."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
import zlib
from typing import Any

import pytest
import raw_http
from aiohttp import web
from helpers import LAUGHS, USER, error_of

from mockserver.engine.ask import Ask, Message
from mockserver.engine.selection import Selector
from mockserver.scenario.load import load_text
from mockserver.scenario.model import Match, Scenario
from mockserver.server import state as state_module
from mockserver.server.journal import ENTRY_OVERHEAD, Journal
from mockserver.server.runner import start, stop
from mockserver.server.settings import Settings
from mockserver.server.state import STATE, State
from mockserver.testing import make_app

SCENARIOS = "scenarios:\n  - {name: default, text: ok}\n  - {name: slow, chunks: [a, b, c], interval_ms: 250}\n"
CHAT = json.dumps({"model": "m", "messages": USER}).encode()


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]


# --- text that cannot be written back as UTF-8 ---------------------------------------------------------------


async def test_raw_surrogate_bytes_in_a_body_are_a_400(client_for: Any, caplog: Any) -> None:
    client = await client_for(SCENARIOS)
    body = b'{"model": "\xed\xa0\x80", "messages": [{"role": "user", "content": "hi"}]}'
    error = await error_of(await client.post("/v1/chat/completions", data=body), 400)
    assert error["message"].startswith("We could not parse the JSON body")
    assert (await client.get("/_mock/requests")).status == 200
    no_tracebacks(caplog)


async def test_use_of_a_name_that_is_not_text_is_a_400(client_for: Any, caplog: Any) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/_mock/use", data=b'{"scenario": "\\ud800"}')
    await error_of(response, 400)
    no_tracebacks(caplog)


async def test_a_scenario_named_with_half_a_surrogate_is_refused_and_not_found_still_answers(
    client_for: Any, caplog: Any
) -> None:
    client = await client_for("scenarios:\n  - {name: only, text: ok}\n")
    response = await client.post("/_mock/scenarios", data=b'{"name": "\\ud800", "text": "x"}')
    assert (await error_of(response, 422, more=True))["code"] == "invalid_scenario"
    response = await client.post("/v1/chat/completions", json={"model": "nothing", "messages": USER})
    assert (await error_of(response, 404))["code"] == "scenario_not_found"
    no_tracebacks(caplog)


# --- the journal always renders, within its bounds ----------------------------------------------------------


async def test_the_journal_renders_any_body_that_parsed(client_for: Any, caplog: Any) -> None:
    client = await client_for(SCENARIOS)
    # Around the parser's recursion limit some bodies parse on arrival but would not parse again deeper in a
    # call stack: every one renders, since the journal never parses a body again.
    depths = [*range(850, 1000, 2), 5000]
    for depth in depths:
        nested = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": ' + b"[" * depth
        await client.post("/v1/chat/completions", data=nested + b"]" * depth + b"}")
    response = await client.get("/_mock/requests")
    assert response.status == 200
    assert len((await response.json())["requests"]) == len(depths)
    no_tracebacks(caplog)


async def test_a_journal_body_is_the_json_sent_or_its_text(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await client.post(
        "/v1/chat/completions", data=b' {"model": "m",\n "messages": [{"role": "user", "content": "hi"}]}'
    )
    await client.post("/v1/chat/completions", data=b"not json \xff")
    await client.get("/v1/models")
    entries = (await (await client.get("/_mock/requests")).json())["requests"]
    assert [entry["body"] for entry in entries] == [
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        "not json \ufffd",
        None,
    ]


async def test_the_journal_keeps_a_byte_budget_oldest_first(client_for: Any) -> None:
    client = await client_for(SCENARIOS, journal_bytes=200_000)
    padding = "x" * 50_000
    for index in range(10):
        body = {"model": "m", "messages": [{"role": "user", "content": f"{index} {padding}"}]}
        await client.post("/v1/chat/completions", json=body)
    entries = (await (await client.get("/_mock/requests")).json())["requests"]
    assert 2 <= len(entries) <= 4
    assert [entry["id"] for entry in entries] == list(range(11 - len(entries), 11))  # the newest are kept
    journal = client.server.app[STATE].journal
    assert journal.bytes <= 200_000


def test_the_journal_always_keeps_the_newest_entry_and_its_size_bound() -> None:
    journal = Journal(size=3, max_bytes=10)
    for index in range(5):
        entry = journal.open("POST", f"/v1/{index}", None, {})
        journal.keep(entry, b"{}")
    assert [entry.path for entry in journal.entries] == ["/v1/4"]  # over budget alone: still kept
    journal = Journal(size=3, max_bytes=10 * ENTRY_OVERHEAD)
    for index in range(5):
        journal.open("GET", f"/v1/{index}", None, {})
    assert [entry.path for entry in journal.entries] == ["/v1/2", "/v1/3", "/v1/4"]


async def test_the_journal_listing_is_streamed_and_paged(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    for _ in range(5):
        await client.post("/v1/chat/completions", json={"model": "m", "messages": USER})
    response = await client.get("/_mock/requests", params={"after": "2", "limit": "2"})
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert [entry["id"] for entry in (await response.json())["requests"]] == [4, 5]
    response = await client.get("/_mock/requests", params={"after": "x"})
    assert (await error_of(response, 400))["param"] == "after"


# --- bodies: encodings, duplicates, timeouts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "body", "status", "code"),
    [
        ("gzip", gzip.compress(CHAT)[:-5], 400, "invalid_content_encoding"),
        ("gzip", b"not gzip at all", 400, "invalid_content_encoding"),
        ("gzip", gzip.compress(CHAT) + b"trailing", 400, "invalid_content_encoding"),
        ("deflate", b"\x78\x9c garbage", 400, "invalid_content_encoding"),
        ("br", CHAT, 400, "unsupported_content_encoding"),
        ("zstd", CHAT, 400, "unsupported_content_encoding"),
        ("gzip, br", CHAT, 400, "unsupported_content_encoding"),
        ("gzip", gzip.compress(b" " * (11 * 1024 * 1024)), 413, None),
    ],
    ids=["truncated-gzip", "not-gzip", "trailing", "bad-deflate", "br", "zstd", "two", "bomb"],
)
async def test_bodies_that_do_not_decompress_are_the_apis_400(
    client_for: Any, caplog: Any, encoding: str, body: bytes, status: int, code: str | None
) -> None:
    client = await client_for(SCENARIOS)
    headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
    answer = await raw_http.request(client.server.port, "POST", "/v1/chat/completions", body, headers)
    assert answer.status == status
    assert answer.error()["code"] == code
    no_tracebacks(caplog)
    assert not [record for record in caplog.records if record.name == "aiohttp.server"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_bodies_still_work(client_for: Any, encoding: str) -> None:
    client = await client_for(SCENARIOS)
    if encoding == "gzip":
        body = gzip.compress(CHAT)
    else:
        compressor = zlib.compressobj(wbits=zlib.MAX_WBITS if encoding == "deflate" else -zlib.MAX_WBITS)
        body = compressor.compress(CHAT) + compressor.flush()
    headers = {"Content-Encoding": encoding.removeprefix("raw-"), "Content-Type": "application/json"}
    response = await client.post("/v1/chat/completions", data=body, headers=headers)
    assert response.status == 200
    (entry,) = (await (await client.get("/_mock/requests")).json())["requests"]
    assert entry["body"]["model"] == "m"


@pytest.mark.parametrize(
    ("body", "key", "where"),
    [
        (b'{"model": "a", "model": "b", "messages": []}', "model", "model"),
        (
            b'{"model": "m", "messages": [{"role": "user", "role": "system", "content": "x"}]}',
            "role",
            "messages[0].role",
        ),
        (b'{"model": "m", "input": "x", "tools": [], "tools": [{"type": "web_search"}]}', "tools", "tools"),
        (b'{"model": "m", "metadata": {"a": {"b": 1, "b": 2}}, "input": "x"}', "b", "metadata.a.b"),
    ],
)
async def test_a_key_given_twice_is_refused_as_the_api_does(client_for: Any, body: bytes, key: str, where: str) -> None:
    client = await client_for(SCENARIOS)
    error = await error_of(await client.post("/v1/responses", data=body), 400)
    assert error == {
        "message": f"Invalid body: duplicate JSON key '{key}' at '{where}'. Duplicate JSON keys are not supported.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_json",
    }


async def test_a_body_that_does_not_come_in_time_is_a_408_and_the_connection_closes(client_for: Any) -> None:
    client = await client_for(SCENARIOS, body_timeout=0.3)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    started = time.monotonic()
    answer = raw_http.parse(await raw_http.send(client.server.port, head + b'{"model":', timeout=15))
    assert 0.3 <= time.monotonic() - started < 3  # answered, then closed
    assert answer.status == 408
    assert answer.error()["code"] == "timeout"


@pytest.mark.parametrize(
    "data",
    [b"", b"GET /v1/models HTTP/1.1\r\nHost: x\r\n", b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n"],
    ids=["idle", "half-header", "finished-keep-alive"],
)
async def test_idle_connections_are_closed(client_for: Any, data: bytes) -> None:
    client = await client_for(SCENARIOS, idle_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    started = time.monotonic()
    writer.write(data)
    try:
        while await asyncio.wait_for(reader.read(65536), 5):
            pass  # the answer to a whole request, then the close
    finally:
        writer.close()
    assert 0.25 <= time.monotonic() - started < 4


async def test_a_slow_scripted_stream_outlives_the_idle_timeout(client_for: Any) -> None:
    client = await client_for(SCENARIOS, idle_timeout=0.2)
    response = await client.post("/v1/chat/completions", json={"model": "slow", "messages": USER, "stream": True})
    body = await response.read()
    assert response.status == 200 and body.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(300)) + b"\r\n",
        b"GET / HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ],
    ids=["garbage", "long-header", "many-headers", "nul", "bad-chunk", "smuggling", "http2"],
)
async def test_malformed_http_is_one_warning_line_without_a_traceback(
    client_for: Any, caplog: Any, data: bytes
) -> None:
    client = await client_for(SCENARIOS)
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        raw = await raw_http.send(client.server.port, data, timeout=2)
    assert (raw.startswith(b"HTTP/1.") and b" 400 " in raw.split(b"\r\n")[0]) or raw == b""
    no_tracebacks(caplog)
    assert len([record for record in caplog.records if record.levelno == logging.WARNING]) <= 1


async def test_chaos_waits_are_bounded(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    response = await client.post("/_mock/chaos", data=b'{"rate_limit": 1, "retry_after": 1e308}')
    assert "at most 86,400" in (await error_of(response, 400))["message"]


# --- state that stays bounded, and work that does not grow with it -------------------------------------------


def test_adding_scenarios_one_by_one_costs_the_same_however_many_there_are() -> None:
    answer = load_text("scenarios:\n  - {name: s, text: x}\n").scenarios[0].steps
    scenarios = [Scenario(f"s{i}", answer, match=Match(contains=f"<{i}>")) for i in range(20_000)]
    selector = Selector()
    started = time.monotonic()
    for scenario in scenarios:
        selector.add([scenario])
    assert time.monotonic() - started < 2.0
    asked = Ask(model="m", last_user="<19999>", prompt_tokens=1, stream=False, messages=(Message("user", "<19999>"),))
    assert selector.choose(asked, session="", header=None).scenario.name == "s19999"


def test_forgetting_a_session_costs_the_same_however_many_there_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "MAX_SESSIONS", 5_000)
    scenario = load_text("scenarios:\n  - {name: s, sequence: [{text: a}, {text: b}]}\n").scenarios[0]
    state = State(Selector([scenario]), Settings())
    asked = Ask(model="s", last_user="", prompt_tokens=1, stream=False)
    started = time.monotonic()
    for index in range(20_000):
        session = f"s{index}"
        state.touch(session)
        state.next_draw(("chaos", session))
        state.selector.choose(asked, session=session, header=None)
    assert time.monotonic() - started < 3.0
    assert len(state.sessions) == len(state.draws) == len(state.selector.counters) == 5_000


async def test_sessions_with_their_own_scenarios_are_forgotten_past_the_cap(
    client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_module, "MAX_SESSIONS", 50)
    client = await client_for(SCENARIOS)
    for index in range(120):
        response = await client.post(f"/_mock/scenarios?session=t{index}", data="name: mine\ntext: own\n")
        assert response.status == 201
    assert len(client.server.app[STATE].selector.sessions) == 50


async def test_a_large_scenario_body_is_loaded_without_holding_up_other_requests(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    text = "name: big\ntext: '" + " w" * 150_000 + "'\n"
    adding = asyncio.create_task(client.post("/_mock/scenarios", data=text))
    waits = []
    while not adding.done():
        started = time.monotonic()
        assert (await client.get("/_mock/health")).status == 200
        waits.append(time.monotonic() - started)
        await asyncio.sleep(0.01)
    assert (await adding).status == 201
    assert len(waits) >= 3 and max(waits) < 1.0


async def test_stopping_cancels_the_requests_in_flight_before_closing_connections(monkeypatch: Any) -> None:
    app = make_app(SCENARIOS)
    runner, port = await start(app, "127.0.0.1", 0)
    streams = [
        asyncio.create_task(
            raw_http.request(
                port,
                "POST",
                "/v1/chat/completions",
                json.dumps({"model": "slow", "messages": USER, "stream": True}).encode(),
                {"Content-Type": "application/json"},
            )
        )
        for _ in range(20)
    ]
    await until(lambda: len(app[STATE].in_flight) == 20)
    in_flight = list(app[STATE].in_flight)
    cleanup = web.AppRunner.cleanup
    seen: list[bool] = []

    async def watched(self: web.AppRunner) -> None:
        seen.extend(task.cancelling() > 0 or task.done() for task in in_flight)
        await cleanup(self)

    monkeypatch.setattr(web.AppRunner, "cleanup", watched)
    started = time.monotonic()
    await stop(runner)
    assert seen == [True] * 20
    assert time.monotonic() - started < 2
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_large_bodies_are_read_a_few_at_a_time_and_small_ones_never_wait(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    port = client.server.port
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}).encode()
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(body)
    writers = []
    for _ in range(state_module.MAX_LARGE_AT_ONCE + 2):  # large bodies that are slow to come
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + body[:1000])
        await writer.drain()
        writers.append((reader, writer))
    semaphore = client.server.app[STATE].large_bodies
    await until(lambda: semaphore.locked())
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json={"model": "m", "messages": USER})
    assert response.status == 200 and time.monotonic() - started < 1  # a small body does not wait its turn
    for _, writer in writers:
        writer.write(body[1000:])
    for reader, writer in writers:
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        writer.close()


@pytest.mark.parametrize(
    "text",
    [
        LAUGHS,
        'name: a\ntext: "\x00"\n',
        "name: a\nttft_ms: " + "9" * 5000 + "\ntext: x\n",
        "[" * 5000 + "]" * 5000,
        "name: a\nmatch: {regex: 'a{99999999999}'}\ntext: x\n",
        'name: a\nchunks: [{raw: "\\udc80"}]\n',
        "name: a\ntool_calls: [{name: f, arguments: {when: 2024-01-01}}]\n",
    ],
    ids=["laughs", "nul", "long-int", "deep", "regex", "surrogate", "date"],
)
async def test_hostile_scenario_bodies_are_422s_and_the_server_keeps_answering(
    client_for: Any, caplog: Any, text: str
) -> None:
    client = await client_for(SCENARIOS)
    started = time.monotonic()
    response = await client.post("/_mock/scenarios", data=text)
    assert time.monotonic() - started < 5
    error = await error_of(response, 422, more=True)
    assert error["code"] == "invalid_scenario"
    assert all(problem["source"] == "<request body>" for problem in error["problems"])
    assert (await client.get("/_mock/health")).status == 200
    no_tracebacks(caplog)


async def test_the_request_log_line_cannot_be_forged(client_for: Any, caplog: Any) -> None:
    client = await client_for(SCENARIOS)
    with caplog.at_level(logging.INFO, logger="mockserver"):
        await raw_http.request(client.server.port, "POST", "/v1/chat%0Acompletions%1B[31m", CHAT)
    (line,) = [record.getMessage() for record in caplog.records if record.name == "mockserver"]
    assert "\n" not in line and "\x1b" not in line
    assert line.startswith("POST /v1/chat\\ncompletions\\x1b[31m 404")


async def test_a_reader_that_leaves_mid_listing_is_no_error(client_for: Any, caplog: Any) -> None:
    client = await client_for(SCENARIOS)
    padding = "x" * 1_000_000
    for index in range(6):
        await client.post(
            "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": f"{index}{padding}"}]}
        )
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(b"GET /_mock/requests HTTP/1.1\r\nHost: x\r\n\r\n")
    await reader.read(1000)
    writer.transport.abort()  # gone, with megabytes still to come
    await asyncio.sleep(0.5)
    assert (await client.get("/_mock/health")).status == 200
    no_tracebacks(caplog)


DEEP = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize("route", ["/_mock/explain", "/_mock/rate-limit", "/_mock/chaos", "/_mock/use"])
async def test_a_body_nested_past_the_parser_is_a_400_on_every_control_route(client_for: Any, route: str) -> None:
    client = await client_for("scenarios:\n  - name: a\n    text: hi\n")
    response = await client.post(route, data=DEEP)
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["type"] == "invalid_request_error"


def test_the_explain_command_refuses_a_body_nested_past_the_parser(tmp_path: Any, capsys: Any) -> None:
    from mockserver.cli import main

    body = tmp_path / "deep.json"
    body.write_bytes(DEEP)
    assert main(["explain", "--request", str(body)]) == 2
    assert "cannot read the request body" in capsys.readouterr().err
