"""The programs in examples/ run unchanged against `mockserver serve`: each as a subprocess, with only
OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL set, as the header of each tells a reader to run it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from conftest import ROOT, RunningServer, cli_server_running
from helpers import Session

from mockserver.scenario.load import BUNDLED, load_paths

pytestmark = pytest.mark.slow  # real clients, subprocesses or a browser

EXAMPLES = ROOT / "examples"


# Example 04 with each ending: OPENAI_MODEL -> (text that arrives, what the program tells the user).
FINISHES = {
    "finish-stop": ("The capital of France is Paris.", "[complete answer]"),
    "finish-length": ("Then mix", "[The answer was cut off by the token limit"),
    "finish-content-filter": ("The first step is", "keeping the 47 characters that arrived"),
    "fault-end": ("The answer starts well", "ended without a finish_reason"),
}
# Example 05 with each failure: OPENAI_MODEL -> (its message, requests the server received).
FAILURES = {
    "rate-limit": ("Rate limited (429) even after the SDK's retries; the API asks to wait 1 s.", 3),
    "fault-disconnect": ("The connection failed or was cut: the answer is incomplete (22 characters arrived)", 1),
    "fault-error-event": ("The API reported an error: The server had an error while processing your request", 1),
}

# Every run of an example the tests check: id -> (program, OPENAI_MODEL, more environment).
CASES: dict[str, tuple[str, str, dict[str, str]]] = {
    "01": ("01_basic_streaming.py", "haiku", {}),
    "02": ("02_running_total.py", "chinese", {}),
    "03": ("03_metadata.py", "finish-stop", {}),
    **{f"04 {model}": ("04_finish_reasons.py", model, {}) for model in FINISHES},
    "04 tool-call": ("04_finish_reasons.py", "tool-call", {}),
    **{f"05 {model}": ("05_safe_streaming.py", model, {}) for model in FAILURES},
    "05 finish-stop": ("05_safe_streaming.py", "finish-stop", {}),
    "06 rate-limit-recovers": ("06_retry_backoff.py", "rate-limit-recovers", {}),
    "06 fault-disconnect": ("06_retry_backoff.py", "fault-disconnect", {}),
    "07 cost": ("07_limits.py", "finish-length", {"MAX_COST_USD": "0.0002"}),
    "08": ("08_use_cases.py", "default", {}),
}
# Runs against a server at full speed: the answer (2.7 s) lasts long enough for the client to leave in the middle.
FULL_SPEED_CASES = {"07 chars": ("07_limits.py", "chinese", {"MAX_CHARS": "20"})}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    session: Session  # the run's own session of the server


def run_example(server: RunningServer, script: str, model: str, env: dict[str, str]) -> Run:
    """Run an example against its own session of `server`, so that sequence counts start afresh."""
    session = Session(server.base_url.removesuffix("/v1"))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        env={
            **os.environ,
            "OPENAI_BASE_URL": session.base_url,
            "OPENAI_API_KEY": "sk-example",
            "OPENAI_MODEL": model,
            **env,
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Run(done.returncode, done.stdout, done.stderr, session)


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Future[Run]]]:
    """Every case, started at once. A run is mostly the openai package's import, so running several side by
    side roughly halves the time on two cores; each test waits for its own."""
    with contextlib.ExitStack() as stack:
        fast = stack.enter_context(cli_server_running("--speed", "0"))
        full_speed = stack.enter_context(cli_server_running())
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=4))
        futures = {key: pool.submit(run_example, fast, *case) for key, case in CASES.items()}
        futures |= {key: pool.submit(run_example, full_speed, *case) for key, case in FULL_SPEED_CASES.items()}
        yield futures


def ok(run: Run) -> str:
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    return run.stdout


def test_every_example_is_numbered_and_says_which_scenario_to_use() -> None:
    programs = sorted(EXAMPLES.glob("[0-9][0-9]_*.py")) + sorted(EXAMPLES.glob("[0-9][0-9]_*/app.py"))
    assert [program.relative_to(EXAMPLES).as_posix()[:2] for program in programs] == [f"0{n}" for n in range(1, 10)]
    bundled = {scenario.name for scenario in load_paths([BUNDLED]).scenarios}
    for program in programs:
        source = program.read_text()
        header = source.split('"""')[1]
        assert "mockserver serve" in header and "export OPENAI_BASE_URL=" in header, program
        assert any(f"`{name}`" in header for name in bundled), f"{program} names no bundled scenario"
        assert 'os.environ.get("OPENAI_MODEL"' in source, program


def test_01_basic_streaming_times_both_calls(runs: dict[str, Future[Run]]) -> None:
    out = ok(runs["01"].result())
    poem = "Autumn moonlight —\na worm digs silently\ninto the chestnut."
    assert out.count(poem) == 2
    assert "[streaming]     first token after" in out
    assert "[not streaming] first token after" in out


def test_02_running_total_counts_characters_not_bytes(runs: dict[str, Future[Run]]) -> None:
    text, summary = ok(runs["02"].result()).rsplit("\n[", 1)
    assert text.startswith("春眠不觉晓")
    assert summary == f"{len(text)} characters in {len(text)} pieces]\n"  # one character a chunk


def test_03_metadata_from_first_and_last_chunk(runs: dict[str, Future[Run]]) -> None:
    out = ok(runs["03"].result())
    assert out.startswith("The capital of France is Paris.\n")
    assert "id:            chatcmpl-" in out
    assert "model:         finish-stop" in out
    assert "finish_reason: stop" in out
    assert "characters:    31" in out


@pytest.mark.parametrize("model", FINISHES)
def test_04_each_finish_reason(runs: dict[str, Future[Run]], model: str) -> None:
    out = ok(runs[f"04 {model}"].result())
    text, verdict = FINISHES[model]
    assert text in out
    assert verdict in out
    assert "Continue where it stopped?" not in out  # never asks without a terminal


def test_04_tool_calls_are_assembled_by_index(runs: dict[str, Future[Run]]) -> None:
    out = ok(runs["04 tool-call"].result())
    call = next(line for line in out.splitlines() if line.startswith("[tool call 0: get_weather("))
    arguments = call.removeprefix("[tool call 0: get_weather(").rsplit("), id ", 1)[0]
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}  # the fragments joined into one JSON object


@pytest.mark.parametrize("model", FAILURES)
def test_05_each_failure_has_its_own_message(runs: dict[str, Future[Run]], model: str) -> None:
    run = runs[f"05 {model}"].result()
    message, attempts = FAILURES[model]
    assert run.returncode == 1, run.stdout + run.stderr
    assert message in run.stdout
    assert "Traceback" not in run.stderr
    assert len(run.session.journal()) == attempts  # the SDK retried the 429s, and nothing else


def test_05_a_good_answer_passes_through(runs: dict[str, Future[Run]]) -> None:
    assert ok(runs["05 finish-stop"].result()) == "The capital of France is Paris.\n"


def test_06_retries_as_retry_after_asks(runs: dict[str, Future[Run]]) -> None:
    run = runs["06 rate-limit-recovers"].result()
    out = ok(run)
    assert "[attempt 1 failed (429); retrying in 0.10 s]" in out  # retry-after-ms, read before retry-after
    assert "[attempt 2 failed (429); retrying in 0.10 s]" in out
    assert "Thanks for waiting - here is your answer.\n[answered on attempt 3]" in out
    assert [entry["status"] for entry in run.session.journal()] == [429, 429, 200]
    assert run.session.control("verdicts")["findings"] == []  # no retry came too soon


def test_06_does_not_retry_once_the_answer_started(runs: dict[str, Future[Run]]) -> None:
    run = runs["06 fault-disconnect"].result()
    assert run.returncode == 1
    assert run.stdout.count("The answer starts well") == 1
    assert "not retrying" in run.stdout
    assert len(run.session.journal()) == 1


def test_07_stops_at_the_character_limit_and_the_server_sees_it(runs: dict[str, Future[Run]]) -> None:
    run = runs["07 chars"].result()
    out = ok(run)
    assert out.startswith("春眠不觉晓")
    assert "[stopped at 20 characters (MAX_CHARS=20)" in out
    (entry,) = run.session.ended_journal()
    assert entry["ended"] == "client disconnected"


def test_07_stops_at_the_cost_cap(runs: dict[str, Future[Run]]) -> None:
    out = ok(runs["07 cost"].result())
    assert out.startswith("Here are the steps to bake sourdough bread: first")
    assert "[stopped at an estimated $0.000210 (MAX_COST_USD=0.0002); 83 characters, about 21 tokens]" in out


def test_08_use_cases_stream_through_one_generator(runs: dict[str, Future[Run]]) -> None:
    run = runs["08"].result()
    greeting = "Hello! I'm a scripted assistant served by mockserver. How can I help you today?"
    assert ok(run) == "".join(f"--- {title} ---\n{greeting}\n" for title in ("Code", "Outline", "Translation"))
    temperatures = [entry["body"]["temperature"] for entry in run.session.journal()]
    assert temperatures == [0.2, 1.0, 1.0]  # code generation asks for a low temperature
