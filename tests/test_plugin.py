"""The pytest plugin, used exactly as a user uses it: a separate pytest run over a user's test file, with the
plugin found through its entry point."""

from __future__ import annotations

import os
import textwrap
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # real clients, subprocesses or a browser

USER_TESTS = '''
import asyncio
import json
import os
import subprocess
import sys

import openai
import pytest

from mockserver import ScenarioError

USER = [{"role": "user", "content": "hello"}]


def ask(**kwargs):
    """The application under test: it knows nothing of mockserver."""
    client = openai.OpenAI()
    return client.chat.completions.create(model="gpt-4o", messages=USER, **kwargs)


def test_sync_client_with_inline_yaml(openai_mock):
    openai_mock.add("""
name: greeting
chunks: ["Hi", " there"]
""")
    openai_mock.use("greeting")  # or name it `default`, or give it a `match`
    stream = ask(stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == "Hi there"
    (request,) = openai_mock.requests
    assert request.body["messages"] == USER
    assert request.body["stream"] is True
    assert (request.scenario, request.status, request.ended, request.retry_count) == ("greeting", 200, "completed", 0)


async def test_async_client_with_a_dict(openai_mock):
    openai_mock.add({"name": "default", "text": "async answer"})
    client = openai.AsyncOpenAI()
    answer = await client.chat.completions.create(model="gpt-4o", messages=USER)
    assert answer.choices[0].message.content == "async answer"
    await client.close()


# The next two tests share one server; each sees only its own requests and sequence counts.
FLAKY = {"name": "default", "sequence": [{"error": {"status": 429, "retry_after": 0.01}}, {"text": "ok"}]}


@pytest.mark.parametrize("run", [1, 2])
def test_isolation(openai_mock, run):
    openai_mock.add(FLAKY)
    assert ask().choices[0].message.content == "ok"
    assert [(r.status, r.retry_count) for r in openai_mock.requests] == [(429, 0), (200, 1)]


def test_bad_inline_scenario_is_a_clear_error(openai_mock):
    with pytest.raises(ScenarioError) as caught:
        openai_mock.add("name: broken\\ntext: hi\\nfinish_reason: done\\n")
    assert str(caught.value) == (
        "<inline>:3: unknown finish_reason 'done' in scenario 'broken'; expected one of: stop, length, content_filter, tool_calls"
    )


def test_use_and_reset(openai_mock):
    openai_mock.add([{"name": "a", "text": "A"}, {"name": "b", "text": "B"}])
    openai_mock.use("b")
    assert ask().choices[0].message.content == "B"
    openai_mock.use(None)
    assert ask(stream=False).choices[0].message.content == "from the project folder"
    openai_mock.reset()
    assert openai_mock.requests == []
    with pytest.raises(openai.NotFoundError, match="No scenario named 'a'"):
        openai.OpenAI().chat.completions.create(model="m", messages=USER, extra_headers={"X-Mock-Scenario": "a"})


def test_scenarios_from_the_ini_option(openai_mock):
    assert ask(stream=False).choices[0].message.content == "from the project folder"


def test_load_a_file(openai_mock, tmp_path):
    path = tmp_path / "extra.yaml"
    path.write_text("scenarios:\\n  - name: default\\n    text: loaded\\n")
    assert openai_mock.load(path) == ["default"]
    assert ask().choices[0].message.content == "loaded"
    path.write_text("scenarios:\\n  - name: x\\n    txt: loaded\\n")
    with pytest.raises(ScenarioError, match=f"{path}:3: unknown key 'txt'"):
        openai_mock.load(path)
    path.write_bytes(b"scenarios: \\xff\\n")  # it was a bare UnicodeDecodeError, without the file
    with pytest.raises(ScenarioError, match=f"{path}: not UTF-8 text"):
        openai_mock.load(path)


def test_a_subprocess_reaches_the_mock(openai_mock):
    openai_mock.add({"name": "default", "text": "from a child"})
    code = "import openai; print(openai.OpenAI().chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'x'}]).choices[0].message.content)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "from a child", result.stderr
    assert len(openai_mock.requests) == 1


def test_verdicts_of_a_resilient_client(openai_mock):
    openai_mock.add(FLAKY)
    assert ask().choices[0].message.content == "ok"
    assert openai_mock.verdicts() == []
    openai_mock.assert_client_resilient()


def test_verdicts_of_a_careless_client(openai_mock):
    openai_mock.add({"name": "default", "error": {"status": 400}})
    careless = openai.OpenAI(max_retries=0)
    for _ in range(2):  # retries a 400 by hand
        with pytest.raises(openai.BadRequestError):
            careless.chat.completions.create(model="gpt-4o", messages=USER)
    (finding,) = openai_mock.verdicts()
    assert finding.rule == "retried_not_retryable"
    with pytest.raises(AssertionError, match=r"retried_not_retryable: Request \\d+ retried request \\d+, whose 400"):
        openai_mock.assert_client_resilient()


AGENT = """
- name: call
  match: {tools: get_weather, last_role: user}
  tool_calls: [{name: get_weather, arguments: auto}]
- name: answer
  match: {last_role: tool, tool_result: {name: get_weather}}
  text: Sunny.
"""
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}, "strict": True}}


def test_an_agent_loop_is_asserted_by_its_tool_calls(openai_mock):
    openai_mock.add(AGENT)
    client = openai.OpenAI()
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER]).choices[0].message
    (call,) = first.tool_calls
    messages += [first.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "Sunny."
    (made,) = openai_mock.tool_calls()  # the agent called get_weather, then answered
    assert (made.name, made.id, made.parsed()) == ("get_weather", call.id, json.loads(call.function.arguments))


def test_environment_is_restored_after_each_test():
    assert os.environ.get("OPENAI_BASE_URL") == "http://unchanged.example/v1"
'''


@pytest.fixture
def user_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.mkdir("mocks")
    (pytester.path / "mocks" / "base.yaml").write_text(
        "scenarios:\n  - name: default\n    text: from the project folder\n"
    )
    pytester.makeini("[pytest]\nopenai_mock_scenarios = mocks\nasyncio_mode = auto\n")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> Any:
    env = {"OPENAI_BASE_URL": "http://unchanged.example/v1"}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=180)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_user_suite_passes(user_project: pytest.Pytester) -> None:
    result = run(user_project, "-q")
    result.assert_outcomes(passed=13)


def test_the_command_line_option_adds_scenario_folders(user_project: pytest.Pytester) -> None:
    (user_project.path / "more").mkdir()
    (user_project.path / "more" / "m.yaml").write_text("scenarios:\n  - {name: extra-one, text: more}\n")
    user_project.makepyfile(
        test_option=textwrap.dedent(
            """
            import openai

            def test_option(openai_mock):
                answer = openai.OpenAI().chat.completions.create(model="extra-one", messages=[{"role": "user", "content": "x"}])
                assert answer.choices[0].message.content == "more"
            """
        )
    )
    # the ini's folder named again is read once: its names were duplicates of themselves, and the run stopped
    result = run(
        user_project, "-q", "--openai-mock-scenarios", "more", "--openai-mock-scenarios", "mocks", "test_option.py"
    )
    result.assert_outcomes(passed=1)


def test_a_broken_scenarios_folder_stops_the_run_with_its_problems(user_project: pytest.Pytester) -> None:
    (user_project.path / "mocks" / "base.yaml").write_text("scenarios:\n  - name: default\n    txt: oops\n")
    result = run(user_project, "-q")
    result.stderr.fnmatch_lines(
        [
            "*openai_mock_scenarios has problems:*",
            "*mocks/base.yaml:3: unknown key 'txt' in scenario 'default'; did you mean 'text'?*",
        ]
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_an_empty_scenarios_option_is_a_clear_error(user_project: pytest.Pytester) -> None:
    result = run(user_project, "-q", "--openai-mock-scenarios=")  # it read the whole current folder
    result.stderr.fnmatch_lines(["*--openai-mock-scenarios needs a file or folder, got an empty path*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize("speed", ["fast", "1e-300"])  # 1e-300 made every delay a wait for ever
def test_a_bad_speed_is_a_clear_error(user_project: pytest.Pytester, speed: str) -> None:
    user_project.makeini(f"[pytest]\nopenai_mock_speed = {speed}\n")
    result = run(user_project, "-q")
    result.stderr.fnmatch_lines(
        [f"*openai_mock_speed must be 0 (no delays) or a number from 0.001 to 1e12, got '{speed}'*"]
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
