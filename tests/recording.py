"""Helpers of the recording tests: an upstream mockserver, a recording proxy in front of it, a replay server, and
streams read event by event with the time each event arrived."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from mockserver import Settings, create_app, load_paths, testing
from mockserver.record.command import make_app
from mockserver.record.recorder import Recorder
from mockserver.record.redact import Redactor
from mockserver.record.relay import Relay
from mockserver.server.runner import BackgroundServer

_DROPPED = (
    "id",
    "created",
    "created_at",
    "completed_at",
    "obfuscation",
    "sequence_number",
    "item_id",
    "call_id",
    "response_id",
)


@contextlib.contextmanager
def serving(yaml_text: str, **settings: Any) -> Iterator[BackgroundServer]:
    """A mockserver answering `yaml_text`, on its own thread and port."""
    with BackgroundServer(testing.make_app(yaml_text, **settings)) as server:
        yield server


@contextlib.contextmanager
def replaying(path: Path, **settings: Any) -> Iterator[BackgroundServer]:
    """A mockserver serving a recorded file, which must load as it is."""
    result = load_paths([path])
    assert result.problems == [], result.problems
    with BackgroundServer(create_app(result.scenarios, Settings(**settings))) as server:
        yield server


@contextlib.contextmanager
def recording(upstream: BackgroundServer, out: Path, redact: tuple[str, ...] = ()) -> Iterator[BackgroundServer]:
    """`mockserver record --upstream UPSTREAM --out OUT`, in process; the file is complete once it stops."""
    recorder = Recorder(out, Redactor(redact))
    recorder.open()
    with BackgroundServer(make_app(Relay(f"{upstream.root_url}/v1", recorder))) as proxy:
        yield proxy


@contextlib.contextmanager
def recording_process(upstream: str, out: Path) -> Iterator[str]:
    """`mockserver record --upstream UPSTREAM --out OUT` in a process of its own (no thread of this process competes
    with the client whose timing is compared); yields its root URL. The file is complete once it has stopped."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "record", "--port", "0", "--upstream", upstream, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("OPENAI_BASE_URL="), first
        yield first.strip().split("=", 1)[1].removesuffix("/v1")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@dataclass
class Stream:
    """What a client received: the status, and each event (its JSON, or `[DONE]`) with when it arrived (ms after
    the request was sent)."""

    status: int
    events: list[tuple[float, Any]]
    body: bytes
    cut: bool = False  # the connection closed before the body ended

    @property
    def payloads(self) -> list[Any]:
        return [payload for _, payload in self.events]

    @property
    def times(self) -> list[float]:
        return [at for at, _ in self.events]

    def comparable(self) -> list[Any]:
        """The events without what differs between any two answers (ids, times, padding)."""
        return [_without_ids(payload) for payload in self.payloads]


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_ids(item) for key, item in value.items() if key not in _DROPPED}
    if isinstance(value, list):
        return [_without_ids(item) for item in value]
    return value


async def post(root_url: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Stream:
    """POST and read the answer as it arrives: each SSE event stamped with its arrival."""
    events: list[tuple[float, Any]] = []
    buffer = b""
    raw = b""
    cut = False
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.post(root_url + path, json=body, headers=headers or {}) as response:
            try:
                async for data in response.content.iter_any():
                    at = (time.monotonic() - started) * 1000
                    raw += data
                    buffer += data
                    while b"\n\n" in buffer:
                        block, buffer = buffer.split(b"\n\n", 1)
                        lines = [line for line in block.decode().split("\n") if line.startswith("data: ")]
                        if lines:
                            text = lines[0].removeprefix("data: ")
                            events.append((at, text if text == "[DONE]" else json.loads(text)))
            except aiohttp.ClientPayloadError:
                cut = True
            return Stream(response.status, events, raw, cut)


def deltas(stream: Stream) -> list[dict[str, Any]]:
    """The chat deltas of a stream, in order."""
    return [
        choice["delta"] for payload in stream.payloads if isinstance(payload, dict) for choice in payload["choices"]
    ]
