"""`serve --upstream URL --record FILE` (record on a miss), secrets that never reach the file or the log, a client
that leaves mid-stream, and the commands as a user runs them — a recorder killed mid-write leaves a file that
loads."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from conftest import cli_server_running
from recording import Stream, deltas, post, recording, replaying, serving

from mockserver import Settings, create_app, load_paths, load_text
from mockserver.record.tees import StreamTee
from mockserver.server.runner import BackgroundServer

pytestmark = pytest.mark.slow  # servers on threads and in subprocesses

UPSTREAM = """
scenarios:
  - name: flaky
    match: {contains: flaky}
    sequence:
      - error: {status: 503}
      - text: Back again.
  - name: secretive
    match: {contains: secret}
    chunks: ["Your key is sk-proj-", "abcdefghijklmnopqrstuvwxyz0123", "456789 and ACME-", "42."]
  - name: long
    match: {contains: long}
    text: one two three four five six seven eight nine ten
    interval_ms: 40
  - name: upstream-answer
    match: {model: gpt-4o}
    text: From the upstream.
    ttft_ms: 20
"""
LOCAL = "scenarios:\n  - name: local\n    match: {contains: local}\n    text: From a scenario.\n"


def said(stream: Stream) -> str:
    return "".join(delta.get("content") or "" for delta in deltas(stream))


def chat(text: str, stream: bool = True) -> dict[str, object]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], "stream": stream}


async def test_a_miss_is_forwarded_recorded_and_then_answered_from_the_recording(tmp_path: Path) -> None:
    out = tmp_path / "misses.yaml"
    upstream = BackgroundServer(create_app(load_text(UPSTREAM).scenarios)).start()
    settings = Settings(upstream=f"{upstream.root_url}/v1", record=str(out))
    with BackgroundServer(create_app(load_text(LOCAL).scenarios, settings)) as server:
        local = await post(server.root_url, "/v1/chat/completions", chat("a local question"))
        forwarded = await post(server.root_url, "/v1/chat/completions", chat("anything else"))
        assert said(local) == "From a scenario." and said(forwarded) == "From the upstream."
        # a 503 is not served from the recording: the retry goes to the upstream and becomes step 2
        failed = await post(server.root_url, "/v1/chat/completions", chat("flaky", stream=False))
        retried = await post(server.root_url, "/v1/chat/completions", chat("flaky", stream=False))
        assert (failed.status, retried.status) == (503, 200)
        upstream.stop()  # from now on, only the recordings answer
        again = await post(server.root_url, "/v1/chat/completions", chat("anything else"))
        assert again.comparable() == forwarded.comparable()
        # the sequence as it happened: a client that retries gets the 503, then the answer
        third = await post(server.root_url, "/v1/chat/completions", chat("flaky", stream=False))
        fourth = await post(server.root_url, "/v1/chat/completions", chat("flaky", stream=False))
        assert (third.status, fourth.status) == (503, 200)
        assert json.loads(fourth.body)["choices"][0]["message"]["content"] == "Back again."
        unknown = await post(server.root_url, "/v1/chat/completions", chat("never seen"))
        assert unknown.status == 502  # the upstream is gone: said so, in the API's error format
    result = load_paths([out])
    assert result.problems == []
    assert [s.name for s in result.scenarios] == ["anything-else", "flaky"]
    assert "local" not in out.read_text()


async def test_without_an_upstream_a_miss_is_still_explained() -> None:
    with serving(LOCAL) as server:
        missed = await post(server.root_url, "/v1/chat/completions", chat("anything else"))
    assert missed.status == 404 and b"scenario_not_found" in missed.body


async def test_secrets_never_reach_the_file_or_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "secrets.yaml"
    key = "sk-proj-" + "Zq9" * 20
    headers = {"Authorization": f"Bearer {key}", "OpenAI-Organization": "org-" + "A" * 24, "OpenAI-Project": "p1"}
    caplog.set_level(logging.DEBUG, logger="mockserver")
    with serving(UPSTREAM) as upstream, recording(upstream, out, redact=("ACME-\\d+",)) as proxy:
        streamed = await post(proxy.root_url, "/v1/chat/completions", chat(f"my secret is {key}"), headers)
    assert said(streamed) == "Your key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789 and ACME-42."  # as sent
    text = out.read_text()
    for secret in (key, "org-" + "A" * 24, "p1", "abcdefghijklmnopqrstuvwxyz0123", "ACME-42", "Authorization"):
        assert secret not in text, secret
        assert secret not in caplog.text, secret
    assert "[redacted]" in text and load_paths([out]).problems == []


async def test_a_client_that_leaves_is_recorded_up_to_there(tmp_path: Path) -> None:
    out = tmp_path / "left.yaml"
    with serving(UPSTREAM) as upstream, recording(upstream, out) as proxy:
        async with (
            aiohttp.ClientSession() as session,
            session.post(proxy.root_url + "/v1/chat/completions", json=chat("a long one")) as response,
        ):
            await response.content.readuntil(b" two")
        await asyncio.sleep(0.3)
    (scenario,) = load_paths([out]).scenarios
    assert "the client left" in (scenario.description or "")
    answer = scenario.steps[0]
    assert "one" in answer.content and "ten" not in answer.content  # type: ignore[union-attr]
    assert answer.items[-1].kind == "disconnect"  # type: ignore[union-attr]


async def test_a_large_answer_is_recorded_while_the_proxy_goes_on_serving(tmp_path: Path) -> None:
    """Recording a 1.5 MB answer takes about a second: the client's connection is free for its next request at
    once (it used to wait until the recording was written), and the recording is in the file when the proxy
    stops, after the smaller one that ended behind it."""
    out = tmp_path / "large.yaml"
    large = {"model": "gpt-4o", "input": ["a"] * 128, "dimensions": 1024}
    with serving(UPSTREAM) as upstream, recording(upstream, out) as proxy:
        async with aiohttp.ClientSession() as session:  # one connection, kept alive as the SDKs keep it
            async with session.post(proxy.root_url + "/v1/embeddings", json=large) as response:
                assert len(await response.read()) > 1_000_000
            started = time.monotonic()
            async with session.post(proxy.root_url + "/v1/chat/completions", json=chat("next")) as response:
                assert (await response.read()).endswith(b"data: [DONE]\n\n")
            assert time.monotonic() - started < 0.4
    result = load_paths([out])
    assert result.problems == []
    assert [s.name for s in result.scenarios] == ["a-a-a-a-a-a", "next"]
    with replaying(out) as replay:
        replayed = await post(replay.root_url, "/v1/embeddings", large)
    vectors = json.loads(replayed.body)["data"]
    assert len(vectors) == 128 and len(vectors[0]["embedding"]) == 1024


def _misshapen_upstream() -> web.Application:
    """An upstream whose stream has a field of a type the API never sends."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"choices": 5}\n\ndata: [DONE]\n\n')
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    return app


async def test_a_stream_the_recorder_cannot_read_is_relayed_whole_and_not_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It was a traceback, and a client cut off mid-answer (with `serve --record`, a 500 written inside the 200)."""
    out = tmp_path / "odd.yaml"
    caplog.set_level(logging.INFO, logger="mockserver")
    with BackgroundServer(_misshapen_upstream()) as upstream, recording(upstream, out) as proxy:
        streamed = await post(proxy.root_url, "/v1/chat/completions", chat("hi"))
    assert (streamed.status, streamed.cut) == (200, False)
    assert streamed.body == b'data: {"choices": 5}\n\ndata: [DONE]\n\n'
    assert "not recorded: an event holds a field of a type the API never sends" in caplog.text
    assert "Traceback" not in caplog.text and not out.exists()


async def test_a_bug_after_the_answer_began_cuts_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rather than writing a second head (a 500) inside the answer that began, which left the client waiting."""

    def bug(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(StreamTee, "event", bug)
    upstream = BackgroundServer(create_app(load_text(UPSTREAM).scenarios)).start()
    settings = Settings(upstream=f"{upstream.root_url}/v1", record=str(tmp_path / "bug.yaml"))
    try:
        with BackgroundServer(create_app([], settings)) as server:
            host, port = server.root_url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            body = json.dumps(chat("anything")).encode()
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            received = await asyncio.wait_for(reader.read(), 5)  # until the server closes the connection
            writer.close()
    finally:
        upstream.stop()
    assert received.startswith(b"HTTP/1.1 200 OK") and received.count(b"HTTP/1.1") == 1


async def test_an_upstream_s_garbled_status_line_is_quoted_short(tmp_path: Path) -> None:
    """The 502 quoted the whole of what the upstream sent: 5 KB of garbage in the message and the log line."""

    async def garbled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 2" + b"\x01garbage" * 500 + b"\r\n\r\n")
        await writer.drain()
        writer.close()

    upstream = await asyncio.start_server(garbled, "127.0.0.1", 0)
    port = upstream.sockets[0].getsockname()[1]
    try:
        at = SimpleNamespace(root_url=f"http://127.0.0.1:{port}")  # served by this test's loop
        with recording(at, tmp_path / "out.yaml") as proxy:  # type: ignore[arg-type]
            answer = await post(proxy.root_url, "/v1/chat/completions", chat("hi"))
    finally:
        upstream.close()
    assert answer.status == 502
    message = json.loads(answer.body)["error"]["message"]
    assert message.startswith("mockserver could not reach the upstream") and len(message) < 500


def test_the_record_command_and_a_kill_mid_write(tmp_path: Path) -> None:
    """`mockserver record` as a user runs it; then a recorder killed while fifty answers are being recorded
    leaves a file that loads, each scenario in it whole."""
    out = tmp_path / "cli.yaml"
    upstream_file = tmp_path / "upstream.yaml"
    upstream_file.write_text(UPSTREAM)
    with cli_server_running("--scenarios", str(upstream_file)) as upstream:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mockserver",
                "record",
                "--port",
                "0",
                "--upstream",
                upstream.base_url,
                "--out",
                str(out),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip().split("=", 1)[1]
            root = base_url.removesuffix("/v1")

            async def many() -> None:
                await post(root, "/v1/chat/completions", chat("first one"))
                tasks = [
                    asyncio.create_task(post(root, "/v1/chat/completions", chat(f"number {i}"))) for i in range(50)
                ]
                await asyncio.sleep(0.15)
                os.kill(process.pid, signal.SIGKILL)
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run(many())
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
    result = load_paths([out])
    assert result.problems == []
    assert result.scenarios[0].name == "first-one" and 1 <= len(result.scenarios) <= 51


def test_serve_refuses_record_without_upstream_or_with_workers(tmp_path: Path) -> None:
    for extra, message in (
        ([], "--record FILE records what --upstream URL answers"),
        (["--upstream", "http://127.0.0.1:9/v1", "--workers", "2"], "cannot be used with --workers"),
        (["--upstream", "ftp://example.com"], "is not an http:// or https:// URL"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "mockserver", "serve", "--record", str(tmp_path / "x.yaml"), *extra],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_serve_records_on_a_miss_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "served.yaml"
    with (
        serving(UPSTREAM) as upstream,
        cli_server_running("--upstream", f"{upstream.root_url}/v1", "--record", str(out)) as server,
    ):
        assert any("recording them in" in line for line in server.stdout_first_lines)
        forwarded = asyncio.run(post(server.base_url.removesuffix("/v1"), "/v1/chat/completions", chat("hello")))
        deadline = time.monotonic() + 10  # the server logs it once the stream has ended
        while "recorded 'hello'" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
    assert forwarded.status == 200
    with replaying(out) as replay:
        replayed = asyncio.run(post(replay.root_url, "/v1/chat/completions", chat("hello")))
    assert replayed.comparable() == forwarded.comparable()


async def test_a_compressed_request_is_forwarded_and_recorded(tmp_path: Path) -> None:
    out = tmp_path / "gzip.yaml"
    body = gzip.compress(json.dumps(chat("zipped")).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    with serving(UPSTREAM) as upstream, recording(upstream, out) as proxy:
        async with (
            aiohttp.ClientSession() as session,
            session.post(proxy.root_url + "/v1/chat/completions", data=body, headers=headers) as response,
        ):
            assert response.status == 200 and await response.read()
    assert [scenario.name for scenario in load_paths([out]).scenarios] == ["zipped"]


async def test_a_compressed_bomb_goes_upstream_as_it_came(tmp_path: Path) -> None:
    """`mockserver record` let aiohttp decompress a request first: 0.5 MB of gzip took the proxy to 690 MB before
    aiohttp's own plain-text 413. Now the bytes go on as they came, and the upstream answers (here, its 413)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = packer.compress(b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "')
    body += b"".join(packer.compress(b"a" * (1 << 20)) for _ in range(64)) + packer.compress(b'"}]}') + packer.flush()
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    with serving(UPSTREAM) as upstream, recording(upstream, tmp_path / "bomb.yaml") as proxy:
        async with (
            aiohttp.ClientSession() as session,
            session.post(proxy.root_url + "/v1/chat/completions", data=body, headers=headers) as response,
        ):
            assert response.status == 413
            assert (await response.json())["error"]["message"].startswith("Request body too large")
