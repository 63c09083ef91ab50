"""The pytest plugin (registered through the `pytest11` entry point): the `openai_mock` fixture.

One server serves the whole test session; every test gets its own session on it, so no state leaks between
tests and no test pays for a server start.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from .scenario.load import load_paths
from .server.settings import parse_speed
from .testing import MockServer, OpenAIMock

TEST_API_KEY = "sk-mockserver-test"


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = "scenario files or folders every openai_mock test starts with"
    parser.addini("openai_mock_scenarios", help_text, type="paths", default=[])
    parser.addini("openai_mock_speed", "divide every scripted delay by this (0: no delays); default 1", default="1")
    parser.getgroup("mockserver").addoption(
        "--openai-mock-scenarios", action="append", default=[], metavar="PATH", help=help_text + " (repeatable)"
    )


def _paths(config: pytest.Config) -> list[str | Path]:
    given = config.getoption("openai_mock_scenarios")
    if any(not str(path).strip() for path in given):  # `Path("")` is the current folder, read whole
        raise pytest.UsageError("--openai-mock-scenarios needs a file or folder, got an empty path")
    paths: dict[Path, str | Path] = {}  # a folder named in the ini and on the command line is read once
    for path in [*given, *config.getini("openai_mock_scenarios")]:
        paths.setdefault(Path(path).resolve(), path)
    return list(paths.values())


def _speed(config: pytest.Config) -> float:
    text = str(config.getini("openai_mock_speed")).strip()
    try:
        return parse_speed(text)
    except argparse.ArgumentTypeError:
        raise pytest.UsageError(
            f"openai_mock_speed must be 0 (no delays) or a number from 0.001 to 1e12, got {text!r}"
        ) from None


def pytest_configure(config: pytest.Config) -> None:
    """Check the configured scenarios before any test runs: one clear stop, with every problem listed."""
    _speed(config)
    paths = _paths(config)
    if paths:
        result = load_paths(paths)
        if result.problems:
            problems = "\n".join(map(str, result.problems))
            raise pytest.UsageError(f"openai_mock_scenarios has problems:\n{problems}")


@pytest.fixture(scope="session")
def openai_mock_server(pytestconfig: pytest.Config) -> Iterator[MockServer]:
    """The server behind `openai_mock`, shared by the whole test session."""
    with MockServer(_paths(pytestconfig), speed=_speed(pytestconfig)) as server:
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
