"""The page at /_mock/, in a real headless Chromium: a run of requests appears as it happens, a stall shows as a
gap in its timeline, a retry chain is one call, and a verdict links to its requests. The screenshots it saves in
tests/artifacts/ (kept by CI) show what a person sees."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import ROOT
from helpers import CHROMIUM_FLAGS, browser

from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app

pytestmark = pytest.mark.slow  # a browser

ARTIFACTS = ROOT / "tests" / "artifacts"
TOKEN = "s3cret"
EXTRA = """
scenarios:
  - name: stall
    description: Two chunks, nothing for 0.8 s, then the rest.
    chunks: ["The answer", " comes", {stall_ms: 800}, " after", " a pause."]
    interval_ms: 30
  - name: breaks
    description: Three chunks, then an error event.
    chunks: ["The answer", " starts", " well", {error: true}]
    interval_ms: 40
"""


def post(root: str, session: str, model: str, **headers: str) -> None:
    """A chat request read to its end, whatever it answers."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}).encode()
    request = urllib.request.Request(
        f"{root}/session/{session}/v1/chat/completions",
        data=body,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        exc.close()


def in_background(*calls: Callable[[], None]) -> list[threading.Thread]:
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    return threads


def row_of(page: Any, scenario: str) -> Any:
    return page.locator("article.request", has=page.locator(".scenario", has_text=scenario))


def test_the_page_shows_a_run_as_it_happens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync_playwright = browser()
    from playwright.sync_api import Error as PlaywrightError

    ARTIFACTS.mkdir(exist_ok=True)
    monkeypatch.chdir(ROOT)  # the scenarios' sources read `scenarios/basics.yaml:9`, as in the README's picture
    with (
        BackgroundServer(make_app(Path("scenarios"), EXTRA, admin_token=TOKEN)) as mock,
        sync_playwright() as playwright,
    ):
        root = mock.root_url
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=shutil.which("chromium"),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto(f"{root}/_mock/")
            # The admin token guards the data: the page asks for it, and keeps it in this tab only.
            page.fill("#token", TOKEN)
            page.press("#token", "Enter")
            page.wait_for_selector(".connection.live")
            assert page.evaluate("sessionStorage.getItem('mockserver.admin-token')") == TOKEN
            assert page.evaluate("localStorage.length") == 0

            # Streams appear while they run...
            running = in_background(lambda: post(root, "one", "haiku"), lambda: post(root, "two", "stall"))
            page.wait_for_selector("article.request.live", timeout=5_000)
            page.wait_for_selector("article.request.live .line .tick", state="attached", timeout=5_000)
            for thread in running:
                thread.join()

            # ...then a 429-then-OK chain through the SDK, a mid-stream error the client repeats, a miss.
            sdk = openai.OpenAI(base_url=f"{root}/session/three/v1", api_key="sk-test", max_retries=2)
            text = "".join(
                chunk.choices[0].delta.content or ""
                for chunk in sdk.chat.completions.create(
                    model="rate-limit-recovers", messages=[{"role": "user", "content": "hi"}], stream=True
                )
                if chunk.choices
            )
            assert text == "Thanks for waiting - here is your answer."
            post(root, "four", "breaks")
            post(root, "four", "breaks")
            post(root, "five", "haiku", **{"X-Mock-Scenario": "nope"})
            page.wait_for_function("() => document.querySelectorAll('article.request').length === 8")
            page.wait_for_selector("article.request.live", state="detached")

            # The stall: one gap takes most of its timeline, and it is drawn as a stall.
            stall = row_of(page, "stall")
            gap, marked = stall.evaluate(
                """row => {
                    const xs = [...row.querySelectorAll('line.tick')].map(line => +line.getAttribute('x1'));
                    const gaps = xs.slice(1).map((x, i) => x - xs[i]);
                    return [Math.max(...gaps), +row.querySelector('rect.stall').getAttribute('width')];
                }"""
            )
            assert gap > 700 and marked > 700  # of 1000: 0.8 s of about 0.95 s
            assert "stall 800 ms" in stall.locator(".caption").inner_text()

            # The chain: three attempts of one call, with the waits between them.
            chain = page.locator("li.call", has=page.locator(".chain-title"), has_text="rate-limit-recovers")
            assert chain.locator(".chain-title").inner_text() == "One call, 3 attempts: 429 → 429 → 200"
            assert chain.locator("article.request").count() == 3
            assert chain.locator(".waits li").count() == 2

            # The miss says why nothing matched.
            assert "Nothing matched: No scenario named 'nope'" in page.locator("article.request .miss").inner_text()

            # The verdict links to its requests: following a link shows and focuses the request.
            finding = page.locator("#findings li", has_text="repeated_after_stream_fault")
            finding.wait_for()  # the verdicts follow the journal within a second
            links = finding.locator("a[data-request]")
            assert links.count() == 2
            target = links.nth(1).get_attribute("href")
            links.nth(1).click()
            assert page.evaluate("document.activeElement.id") == target.removeprefix("#")
            assert "flash" in (page.locator(target).get_attribute("class") or "")
            assert page.locator(target).locator(".flag", has_text="repeated_after_stream_fault").count() == 1

            # With the keyboard: a request's details open with Enter.
            toggle = page.locator(target).locator("button.toggle")
            toggle.focus()
            page.keyboard.press("Enter")
            page.wait_for_function(
                f"() => document.querySelector('{target} .details').textContent.includes('\"body\"')"
            )

            page.keyboard.press("Enter")

            # Filters: one session.
            page.select_option("#session-filter", "three")
            assert page.locator("article.request").count() == 3
            page.select_option("#session-filter", "*")

            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(ARTIFACTS / "watch-page.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing wider than a phone
            page.screenshot(path=str(ARTIFACTS / "watch-page-phone.png"))
            assert not errors
        except (AssertionError, PlaywrightError) as exc:
            shot = ARTIFACTS / "watch-page-failed.png"
            page.screenshot(path=str(shot), full_page=True)
            raise AssertionError(f"{exc}\nscreenshot of the page: {shot}\npage errors: {errors}") from exc
        finally:
            context.close()
