"""The pytest plugin (registered through the `pytest11` entry point): the `openai_mock` fixture.

One server serves the whole test session; every test gets its own session on it, so no state leaks between
tests and no test pays for a server start.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .testing import MockServer, OpenAIMock

TEST_API_KEY = "sk-mockserver-test"


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = "scenario files or folders every openai_mock test starts with"
    parser.addini("openai_mock_scenarios", help_text, type="paths", default=[])
    parser.addini("openai_mock_speed", "divide every scripted delay by this (0: no delays); default 1", default="1")
    parser.getgroup("mockserver").addoption(
        "--openai-mock-scenarios", action="append", default=[], metavar="PATH", help=help_text + " (repeatable)"
    )


@pytest.fixture(scope="session")
def openai_mock_server(pytestconfig: pytest.Config) -> Iterator[MockServer]:
    """The server behind `openai_mock`, shared by the whole test session."""
    paths: list[str | Path] = [
        *pytestconfig.getoption("openai_mock_scenarios"),
        *pytestconfig.getini("openai_mock_scenarios"),
    ]
    speed = float(pytestconfig.getini("openai_mock_speed"))
    with MockServer(paths, speed=speed) as server:
        yield server


@pytest.fixture
def openai_mock(
    openai_mock_server: MockServer, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OpenAIMock]:
    """A mockserver session for this test, with `OPENAI_BASE_URL` and `OPENAI_API_KEY` pointing at it
    until the test ends."""
    mock = openai_mock_server.session(request.node.nodeid)
    monkeypatch.setenv("OPENAI_BASE_URL", mock.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    yield mock
    mock.reset()
