"""The `mockserver` command as a user runs it."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from mockserver.cli import main
from mockserver.scenario.load import BUNDLED, load_paths

pytestmark = pytest.mark.slow  # real clients, subprocesses or a browser


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True, text=True, timeout=timeout)


def test_first_line_is_a_pasteable_base_url(cli_server: Any) -> None:
    server = cli_server()
    assert re.fullmatch(r"OPENAI_BASE_URL=http://127\.0\.0\.1:\d+/v1", server.stdout_first_lines[0])
    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    assert port != 0
    # the following lines say how many scenarios came from where
    bundled = load_paths([BUNDLED])
    assert server.stdout_first_lines[1].endswith(
        f": {len(bundled.scenarios)} scenarios from {len(bundled.files)} file(s)"
    )
    assert any(line.strip().endswith("basics.yaml") for line in server.stdout_first_lines)


def test_a_request_is_logged_in_one_line(cli_server: Any) -> None:
    server = cli_server("--speed", "0")
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=b'{"model": "finish-stop", "messages": [{"role": "user", "content": "hi"}], "stream": true}',
        headers={"Content-Type": "application/json"},
    )
    body = urllib.request.urlopen(request, timeout=10).read()
    assert body.endswith(b"data: [DONE]\n\n")
    time.sleep(0.2)
    lines = [line for line in server.log().splitlines() if "/v1/chat/completions" in line]
    assert len(lines) == 1
    assert re.search(r"INFO POST /v1/chat/completions 200 scenario=finish-stop chunks=9 completed \d+ms$", lines[0])


def test_bad_scenario_file_stops_startup_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: a\n    text: hi\n    intervl_ms: 5\n  - {name: b, ttft_ms: -1}\n")
    result = run("serve", "--port", "0", "--scenarios", str(bad))
    assert result.returncode == 2
    assert f"{bad}:4: unknown key 'intervl_ms' in scenario 'a'; did you mean 'interval_ms'?" in result.stderr
    assert f"{bad}:5: 'ttft_ms' in scenario 'b' must be zero or more, got -1" in result.stderr
    assert "2 problems found" in result.stderr
    assert "not serving until the scenarios are fixed" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_missing_scenarios_path_exits_2(tmp_path: Path) -> None:
    result = run("serve", "--port", "0", "--scenarios", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr


@pytest.mark.parametrize(
    ("flag", "value"), [("--speed", "-1"), ("--speed", "fast"), ("--speed", "1e-300"), ("--port", "70000")]
)  # 1e-300 made every delay a wait for ever
def test_bad_flags_are_usage_errors(flag: str, value: str) -> None:
    result = run("serve", flag, value)
    assert result.returncode == 2
    assert f"argument {flag}" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run("serve", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 1
    assert "the address is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_promptly_even_mid_stream(cli_server: Any) -> None:
    server = cli_server()
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=b'{"model": "fault-stall", "messages": [{"role": "user", "content": "hi"}], "stream": true}',
        headers={"Content-Type": "application/json"},
    )
    streaming = threading.Event()

    def read() -> None:
        with (
            contextlib.suppress(OSError, http.client.HTTPException),
            urllib.request.urlopen(request, timeout=20) as response,
        ):
            response.read(10)
            streaming.set()  # the first chunk arrived; a 10 s stall follows
            response.read()

    threading.Thread(target=read, daemon=True).start()
    assert streaming.wait(timeout=10)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5  # the stalled stream is cut at once, not waited for
    assert "Traceback" not in server.log()


def test_version_and_module_entry_point() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("mockserver ")


def test_the_wheel_ships_the_bundled_scenarios(tmp_path: Path) -> None:
    """A plain (non-editable) install must serve the bundled scenarios too."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("mockserver-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    bundled = sorted(p.name for p in (ROOT / "scenarios").glob("*.*"))  # the YAML files and their schema
    assert sorted(Path(n).name for n in names if n.startswith("mockserver/scenarios/")) == bundled
    assert "mockserver/py.typed" in names  # users' type checkers see mockserver.testing
    page = sorted(p.name for p in (ROOT / "mockserver" / "page").iterdir())
    assert sorted(Path(n).name for n in names if n.startswith("mockserver/page/")) == page  # the page at /_mock/
    # installed from the wheel alone, the package finds and loads them
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import mockserver.scenario.load as l; r = l.load_paths([l.BUNDLED]); "
            "print(l.BUNDLED.is_relative_to(l.Path(l.__file__).parent.parent), len(r.scenarios), len(r.problems))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": ""},
    )
    assert check.stdout.split() == ["True", str(len(load_paths([BUNDLED]).scenarios)), "0"], check.stderr


def test_validate_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("scenarios:\n  - {name: a, text: hi}\n")
    bad = tmp_path / "sub" / "bad.yml"
    bad.parent.mkdir()
    bad.write_text(
        "scenarios:\n"
        "  - name: b\n"
        "    text: hi\n"
        "    ttft: 5\n"
        "  - name: a\n"
        "    chunks: [x]\n"
        "  - name: c\n"
        "    error: {status: 429, retry_after: soon}\n"
    )
    result = run("validate", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bad}:4: unknown key 'ttft' in scenario 'b'; did you mean 'ttft_ms'?",
        f"{bad}:5: duplicate scenario name 'a' (first defined at {good}:2)",
        f"{bad}:8: 'retry_after' in 'error' of scenario 'c' must be seconds or an HTTP date like 'Wed, 21 Oct 2026 07:28:00 GMT', got 'soon'",
        "3 problems found",
    ]
    clean = run("validate", str(good))
    assert (clean.returncode, clean.stdout) == (0, "ok: 1 scenarios in 1 file(s)\n")


def test_list_shows_selection_order(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "scenarios:\n"
        "  - {name: default, text: x, description: The fallback}\n"
        "  - {name: named, text: x}\n"
        "  - {name: poems, text: x, match: {contains: poem}}\n"
        "  - {name: minis, text: x, match: {model: 'gpt-4o-mini*'}}\n"
    )
    result = run("list", str(path))
    assert result.returncode == 0
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [words[0] for words in lines] == ["poems", "minis", "named", "default"]
    assert "contains='poem'" in result.stdout
    assert result.stdout.splitlines()[-1].split() == [
        "default",
        "any",
        "other",
        "request",
        "The",
        "fallback",
        f"({path}:2)",
    ]
    assert run("list").stdout.count("\n") == len(load_paths([BUNDLED]).scenarios)


def test_watch_reloads_and_keeps_the_last_good_set(cli_server: Any, tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text("scenarios:\n  - {name: default, text: first}\n")
    server = cli_server("--watch", "--scenarios", str(tmp_path))

    def answer() -> str:
        request = urllib.request.Request(
            server.base_url + "/chat/completions",
            data=b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}',
            headers={"Content-Type": "application/json"},
        )
        return json.loads(urllib.request.urlopen(request, timeout=10).read())["choices"][0]["message"]["content"]

    def eventually(expected: str) -> None:
        deadline = time.monotonic() + 10
        while answer() != expected:
            assert time.monotonic() < deadline, f"still not {expected!r}"
            time.sleep(0.1)

    assert answer() == "first"
    path.write_text("scenarios:\n  - {name: default, text: second}\n")
    eventually("second")
    path.write_text("scenarios:\n  - {name: default, txt: broken}\n")
    deadline = time.monotonic() + 10
    while "not reloaded" not in server.log():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert f"{path}:2: unknown key 'txt'" in server.log()
    assert answer() == "second"  # the last good set keeps serving
    (tmp_path / "more.yaml").write_text("scenarios:\n  - {name: extra, text: x}\n")
    path.write_text("scenarios:\n  - {name: default, text: third}\n")
    eventually("third")


def test_options_come_from_the_environment_too(cli_server: Any, tmp_path: Path) -> None:
    (tmp_path / "env.yaml").write_text("scenarios:\n  - {name: default, text: from env}\n")
    server = cli_server(
        env={
            "MOCKSERVER_SCENARIOS": str(tmp_path),
            "MOCKSERVER_API_KEY": "sk-env",
            "MOCKSERVER_SPEED": "0",
            "MOCKSERVER_OBFUSCATION": "0",
        }
    )
    assert "  delays off (--speed 0)" in server.stdout_first_lines
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-env"},
    )
    assert (
        json.loads(urllib.request.urlopen(request, timeout=10).read())["choices"][0]["message"]["content"] == "from env"
    )
    request.data = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
    assert b"obfuscation" not in urllib.request.urlopen(request, timeout=10).read()


def test_a_flag_wins_over_its_variable_and_bad_values_name_the_variable(cli_server: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "MOCKSERVER_SPEED": "fast"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("mockserver serve: error: MOCKSERVER_SPEED='fast': 'fast' is not a number")
    server = cli_server("--speed", "0", env={"MOCKSERVER_SPEED": "fast"})
    assert "  delays off (--speed 0)" in server.stdout_first_lines


def test_two_workers_both_answer(cli_server: Any) -> None:
    server = cli_server("--workers", "2")
    assert "2 worker processes share the port" in "\n".join(server.stdout_first_lines)
    root = server.base_url.removesuffix("/v1")
    pids = set()
    for _ in range(200):
        with urllib.request.urlopen(root + "/_mock/health", timeout=10) as response:  # a new connection each time
            pids.add(json.loads(response.read())["pid"])
        if len(pids) == 2:
            break
    assert len(pids) == 2
    assert server.process.pid not in pids
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=15) == 0


def test_report_prints_the_verdicts_at_shutdown(cli_server: Any) -> None:
    server = cli_server("--report", "--speed", "0")
    body = b'{"model": "error-400", "messages": [{"role": "user", "content": "hi"}]}'
    for _ in range(2):  # a client that retries a 400
        request = urllib.request.Request(
            server.base_url + "/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=10)
    server.process.send_signal(signal.SIGTERM)
    output, _ = server.process.communicate(timeout=10)
    assert server.process.returncode == 0
    assert "Client verdicts: 1 finding in 2 requests (1 calls)" in output
    assert "retried_not_retryable  Request 2 retried request 1, whose 400 is not retryable." in output


def test_a_bad_seed_is_named_plainly() -> None:
    result = run("serve", "--seed", "x")
    assert result.returncode == 2
    assert "argument --seed: 'x' is not a whole number" in result.stderr


def test_a_closed_pipe_ends_a_listing_quietly(tmp_path: Path) -> None:
    many = tmp_path / "many.yaml"  # a listing longer than a pipe holds, so that writing it meets the closed pipe
    many.write_text(
        "scenarios:\n" + "".join(f"  - {{name: s{i}, text: x, description: {'d' * 80}}}\n" for i in range(2000))
    )
    listing = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "list", str(many)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.read(1)
    listing.stdout.close()  # as `| head -1` does once it has its line
    assert listing.wait(timeout=30) == 0
    with listing.stderr:
        assert listing.stderr.read() == b""


def test_schema_prints_the_schema_the_bundled_files_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].startswith("http://json-schema.org/draft-07/")
    assert (
        (ROOT / "scenarios" / "basics.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=./scenario.schema.json\n")
    )


def test_problems_go_to_the_stderr_of_the_moment() -> None:
    # Bound at call time, not at import: a caller that redirects stderr gets the problem lines.
    from mockserver.scenario.load import load_text
    from mockserver.serve import report

    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        report(load_text("scenarios:\n  - {name: a, txt: hi}\n", "a.yaml"))
    assert captured.getvalue().startswith("a.yaml:2: unknown key 'txt' in scenario 'a'")
    assert captured.getvalue().endswith("1 problem found\n")


def test_the_event_loop_is_chosen_by_flag_and_named_at_start_up(cli_server: Any) -> None:
    plain = cli_server("--loop", "asyncio")
    assert "  event loop: asyncio" in plain.stdout_first_lines
    pytest.importorskip("uvloop")  # the `fast` extra
    fast = cli_server("--loop", "auto", "--speed", "0")
    assert any(re.fullmatch(r"  event loop: uvloop \d+\.\d+\.\d+", line) for line in fast.stdout_first_lines)
    request = urllib.request.Request(
        fast.base_url + "/chat/completions",
        data=b'{"model": "finish-stop", "messages": [{"role": "user", "content": "hi"}], "stream": true}',
        headers={"Content-Type": "application/json"},
    )
    assert urllib.request.urlopen(request, timeout=10).read().endswith(b"data: [DONE]\n\n")


def test_asking_for_uvloop_without_it_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver.server import process

    monkeypatch.setattr(process.importlib.util, "find_spec", lambda name: None)
    assert not process.uses_uvloop("auto")
    assert process.loop_label("auto") == "asyncio"
    assert process.missing("auto") is None
    assert process.missing("uvloop") == "--loop uvloop needs uvloop: pip install 'mockserver[fast]'"

    async def nothing() -> None:
        return None

    coroutine = nothing()
    with pytest.raises(SystemExit, match=r"--loop uvloop needs uvloop: pip install 'mockserver\[fast\]'"):
        process.run(coroutine, "uvloop")
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning


def test_uvloop_asked_for_and_missing_stops_before_serving(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from mockserver.server import process

    monkeypatch.setattr(process.importlib.util, "find_spec", lambda name: None)
    assert main(["serve", "--port", "0", "--loop", "uvloop", "--workers", "2"]) == 2
    assert capsys.readouterr().err.count("--loop uvloop needs uvloop: pip install 'mockserver[fast]'") == 1


def test_the_allocator_keeps_slack_on_glibc() -> None:
    from mockserver.server import process

    expected = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None
    assert process.tune_allocator() is expected


def test_what_is_loaded_is_frozen_out_of_the_collector_and_a_replaced_set_is_still_freed() -> None:
    import gc

    from mockserver.server import process

    gc.collect()
    loaded = load_paths([BUNDLED])
    del loaded
    assert gc.collect() == 0  # no reference cycles: a set a reload replaces goes by reference counting alone
    try:
        process.freeze_loaded()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
