"""examples/09_relay: the relay re-streams the API's answer as `content` / `done` events (checked with an HTTP
client), and its page renders the answer as it arrives (checked in a real headless Chromium)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import ROOT
from helpers import CHROMIUM_FLAGS, browser

from mockserver.scenario.load import BUNDLED
from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app

pytestmark = pytest.mark.slow  # real clients, subprocesses or a browser

RELAY = ROOT / "examples" / "09_relay" / "app.py"
LENGTH_TEXT = "Here are the steps to bake sourdough bread: first, feed your starter and wait until it doubles. Then mix"


def load_relay() -> ModuleType:
    """The relay's module, loaded afresh so that it reads this test's environment (OPENAI_MODEL)."""
    spec = importlib.util.spec_from_file_location("relay_example", RELAY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def point_at(monkeypatch: pytest.MonkeyPatch, root_url: str, model: str) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{root_url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-relay")
    monkeypatch.setenv("OPENAI_MODEL", model)


def events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of each server-sent event, checking that each has exactly those two lines."""
    parsed = []
    for block in body.split("\n\n")[:-1]:
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: "), block
        parsed.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    assert body.endswith("\n\n")
    return parsed


@pytest.fixture
async def relay(
    aiohttp_server: Any, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Awaitable[tuple[TestClient, TestServer]]]:
    """`await relay(model, speed=0)`: a test client on the relay, and the mockserver the relay talks to."""

    async def start(model: str, speed: float = 0) -> tuple[TestClient, TestServer]:
        mock = await aiohttp_server(make_app(BUNDLED, speed=speed))
        point_at(monkeypatch, str(mock.make_url("")).rstrip("/"), model)
        return await aiohttp_client(load_relay().make_app()), mock

    return start


# The bundled ending scenarios: model -> (the text relayed, its finish_reason).
ENDINGS = {
    "finish-stop": ("The capital of France is Paris.", "stop"),
    "finish-length": (LENGTH_TEXT, "length"),
    "finish-content-filter": ("I can explain how that works. The first step is", "content_filter"),
}


@pytest.mark.parametrize("model", ENDINGS)
async def test_relay_streams_content_then_done(relay: Any, model: str) -> None:
    client, _ = await relay(model)
    response = await client.get("/chat", params={"message": "hello"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    received = events(await response.text())
    assert {name for name, _ in received[:-1]} == {"content"}
    assert len(received) > 2  # piece by piece, not the whole answer at once
    text, reason = ENDINGS[model]
    assert received[-1] == ("done", {"finish_reason": reason})
    assert "".join(data["text"] for _, data in received[:-1]) == text


async def test_relay_keeps_newlines_inside_the_data_line(relay: Any) -> None:
    client, _ = await relay("haiku")
    received = events(await (await client.get("/chat", params={"message": "a poem"})).text())
    text = "".join(data["text"] for name, data in received if name == "content")
    assert text == "Autumn moonlight —\na worm digs silently\ninto the chestnut."


async def test_relay_reports_a_mid_stream_error(relay: Any) -> None:
    client, _ = await relay("fault-error-event")
    received = events(await (await client.get("/chat", params={"message": "hello"})).text())
    assert "".join(data["text"] for name, data in received if name == "content") == "The answer starts well"
    assert received[-1][0] == "error"
    assert "The server had an error" in received[-1][1]["message"]


async def test_relay_closes_the_api_stream_when_the_browser_leaves(relay: Any) -> None:
    client, mock = await relay("chinese", speed=1)  # at full speed the answer takes 2.7 s
    response = await client.get("/chat", params={"message": "hello"})
    assert (await response.content.readuntil(b"\n\n")).startswith(b"event: content")
    response.close()
    for _ in range(100):
        journal = await (await client.session.get(mock.make_url("/_mock/requests"))).json()
        if journal["requests"][0]["ended"] != "in progress":
            break
        await asyncio.sleep(0.05)
    assert journal["requests"][0]["ended"] == "client disconnected"


async def test_relay_serves_its_page_and_refuses_an_empty_message(relay: Any) -> None:
    client, _ = await relay("default")
    page = await client.get("/")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert "new EventSource(" in await page.text()
    assert (await client.get("/chat", params={"message": " "})).status == 400


def test_page_renders_the_answer_as_it_arrives(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    sync_playwright = browser()
    from playwright.sync_api import Error as PlaywrightError

    # At half speed the answer takes about a second, so the page can be seen half-way through it.
    with BackgroundServer(make_app(BUNDLED, speed=0.5)) as mock:
        point_at(monkeypatch, mock.root_url, "finish-length")
        with BackgroundServer(load_relay().make_app()) as relay, sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_FLAGS
            )
            page = context.new_page()
            try:
                page.goto(f"{relay.root_url}/")
                page.fill("#message", "How do I bake bread?")
                page.click("button")
                # Part of the answer shows while the rest is still on its way...
                page.wait_for_function(
                    "() => document.querySelector('.answer')?.textContent && !document.querySelector('.finish')",
                    polling=20,
                )
                # ...then all of it, and why it ended.
                page.wait_for_selector(".finish", timeout=10_000)
                assert page.text_content(".user") == "How do I bake bread?"
                assert page.text_content(".answer") == LENGTH_TEXT
                assert page.text_content(".finish") == "finish reason: length"
                assert page.query_selector(".error") is None
            except (AssertionError, PlaywrightError) as exc:
                shot = tempfile.mkstemp(prefix="relay-page-", suffix=".png")[1]
                page.screenshot(path=shot)
                raise AssertionError(f"{exc}\nscreenshot of the page: {shot}") from exc
            finally:
                context.close()
