"""`mockserver demo`: every ending streamed through the openai SDK, and how the client saw each."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mockserver.cli import main

pytestmark = pytest.mark.slow  # real clients, subprocesses or a browser


def sections(output: str) -> dict[str, str]:
    """The demo's output per scenario: `== NAME: description` opens each."""
    parts = output.split("\n== ")[1:]
    return {part.split(":", 1)[0]: part for part in parts}


def test_the_walkthrough_shows_every_ending() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "demo", "--speed", "0"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    shown = sections(done.stdout)
    assert list(shown) == [
        "finish-stop",
        "finish-length",
        "finish-content-filter",
        "rate-limit-recovers",
        "rate-limit",
        "fault-error-event",
    ]
    expected = {
        "finish-stop": ("The capital of France is Paris.", 'finish_reason "stop" - the answer is complete', 1),
        "finish-length": ("Then mix", 'finish_reason "length" - the token limit cut the answer', 1),
        "finish-content-filter": ("The first step is", 'finish_reason "content_filter" - the content filter', 1),
        "rate-limit-recovers": ("Thanks for waiting", 'finish_reason "stop"', 3),
        "rate-limit": ("", "the client raised RateLimitError (429): Rate limit reached for rate-limit", 3),
        "fault-error-event": ("The answer starts well", "the client raised APIError: The server had an error", 1),
    }
    for name, (text, ending, attempts) in expected.items():
        assert text in shown[name], shown[name]
        assert f"   ended:        {ending}" in shown[name], shown[name]
        assert f"   attempts:     {attempts}\n" in shown[name], shown[name]
        assert "   first token:  " in shown[name]
    assert "first token:  none arrived" in shown["rate-limit"]
    assert "--scenario NAME" in done.stdout


def test_one_scenario_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--scenario", "haiku", "--speed", "0"]) == 0
    out = capsys.readouterr().out
    assert list(sections(out)) == ["haiku"]
    assert "Autumn moonlight —\na worm digs silently\ninto the chestnut.\n" in out
    assert 'ended:        finish_reason "stop"' in out


def test_a_tool_call_is_shown_whole(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--scenario", "tool-call", "--speed", "0"]) == 0
    out = capsys.readouterr().out
    assert "   tool call 0:  get_weather({" in out
    assert 'finish_reason "tool_calls"' in out


def test_an_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--scenario", "no-such-thing"]) == 2
    assert "no bundled scenario named 'no-such-thing'" in capsys.readouterr().err


def test_without_the_openai_package_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` raise ImportError
    assert main(["demo"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "pip install 'mockserver[demo]'" in captured.err
