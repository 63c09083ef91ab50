"""mockserver inside a test suite: a server on a free port, and a handle per test that scripts answers and
reads what the code under test sent.

Each handle is a session of its own (`/session/NAME/v1` in its base URL), so tests sharing one server never
see each other's requests, sequence counts or added scenarios. The handle talks to the server over the
control API, so it works the same with a server in this process, in a container, or anywhere else.
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .scenario.load import LoadResult, Problem, ScenarioError, load_data, load_paths, load_text, scenario_files
from .server.app import create_app
from .server.journal import Entry
from .server.runner import BackgroundServer
from .server.sessions import SESSION_PREFIX
from .server.settings import Settings
from .server.verdicts import Finding

Scenarios = str | Mapping[str, Any] | Sequence[Mapping[str, Any]]
_counter = itertools.count(1)


def _scenarios_of(source: Path | Scenarios) -> LoadResult:
    if isinstance(source, Path):
        return load_paths([source])
    if isinstance(source, str):
        return load_text(source, "<inline>", snippet=True)
    return load_data(source, "<inline>")


def make_app(*sources: Path | Scenarios, **settings: Any) -> web.Application:
    """An app for pytest-aiohttp's `aiohttp_client` / `aiohttp_server`, from scenario files (`Path`), YAML
    text (`str`) or Python data; `settings` are those of `mockserver.Settings` (speed, api_key, ...).
    Invalid scenarios raise `ScenarioError` listing every problem."""
    scenarios = []
    for source in sources:
        result = _scenarios_of(source)
        result.raise_for_problems()
        scenarios.extend(result.scenarios)
    return create_app(scenarios, Settings(**settings))


class OpenAIMock:
    """One test's view of a mockserver: its own session, scenarios, sequence counts and journal."""

    def __init__(self, root_url: str, session: str, admin_token: str | None = None) -> None:
        self.root_url = root_url.rstrip("/")
        self.session = session
        self.admin_token = admin_token

    @property
    def base_url(self) -> str:
        """The `OPENAI_BASE_URL` for this session."""
        return f"{self.root_url}{SESSION_PREFIX}{self.session}/v1"

    def add(self, scenarios: Scenarios, *, source: str = "<inline>") -> list[str]:
        """Add scenarios for this session: YAML text, or a dict (one scenario, or `{"scenarios": [...]}`), or
        a list of dicts. A scenario with the name of an existing one replaces it for this session. Invalid
        scenarios raise `ScenarioError` with the same `source:line: message` problems as files."""
        if isinstance(scenarios, str):
            body, content_type = scenarios.encode(), "application/yaml"
        else:
            body, content_type = json.dumps(scenarios).encode(), "application/json"
        added: list[str] = self._call("POST", "scenarios", body, content_type, source=source)["added"]
        return added

    def load(self, path: str | Path) -> list[str]:
        """Add the scenarios of a file or folder for this session (problems name the file and line)."""
        files, problems = scenario_files([path])
        if problems:
            raise ScenarioError(problems)
        added = []
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise ScenarioError([Problem(str(file), 0, "not UTF-8 text")]) from None
            added += self.add(text, source=str(file))
        return added

    def use(self, name: str | None) -> None:
        """Answer every request of this test with the scenario `name` (None: choose as usual again)."""
        self._call("POST", "use", json.dumps({"scenario": name}).encode(), "application/json")

    def rate_limit(self, requests: str | None = None, tokens: str | None = None) -> None:
        """Give this test's session a quota of its own, e.g. `rate_limit(requests="5/min")`: the answers'
        x-ratelimit-* headers count down, and a request over it gets the real 429. With neither, the session
        follows the server's quota again."""
        if requests is None and tokens is None:
            self._call("DELETE", "rate-limit")
        else:
            body = json.dumps({"requests": requests, "tokens": tokens}).encode()
            self._call("POST", "rate-limit", body, "application/json")

    @property
    def requests(self) -> list[Entry]:
        """The journal entries of this test's requests, oldest first."""
        return [Entry(**entry) for entry in self._call("GET", "requests")["requests"]]

    def tool_calls(self) -> list[CallMade]:
        """The tool calls answered in this test, in order: what the agent under test was asked to run."""
        return [
            CallMade(call["name"], call["arguments"], call["id"], entry.id)
            for entry in self.requests
            for call in entry.tool_calls or ()
        ]

    def explain(self, body: Mapping[str, Any], endpoint: str | None = None) -> dict[str, Any]:
        """Why a request body would get the scenario it gets in this test (or none), without sending it: the
        trace of `POST /_mock/explain`."""
        query = {"endpoint": endpoint} if endpoint else {}
        return self._call("POST", "explain", json.dumps(body).encode(), "application/json", **query)

    def reset(self) -> None:
        """Forget this test's requests, sequence counts, added scenarios, `use()`, stored responses, conversations."""
        self._call("POST", "reset")

    def verdicts(self, max_retries: int = 5) -> list[Finding]:
        """What the journal says about the client's retries, waits and timeouts in this test (see
        docs/faults.md); an empty list means it behaved."""
        findings = self._call("GET", "verdicts", max_retries=str(max_retries))["findings"]
        return [Finding(**{**finding, "requests": tuple(finding["requests"])}) for finding in findings]

    def assert_client_resilient(self, max_retries: int = 5) -> None:
        """Fail the test with one line per finding when the client did not handle the faults as it should."""
        findings = self.verdicts(max_retries)
        if findings:
            lines = "\n".join(f"  {finding.rule}: {finding.message}" for finding in findings)
            raise AssertionError(f"the client did not handle the API's faults well:\n{lines}")

    def _call(
        self, method: str, route: str, body: bytes | None = None, content_type: str = "", **query: str
    ) -> dict[str, Any]:
        params = urllib.parse.urlencode({"session": self.session, **query})
        request = urllib.request.Request(f"{self.root_url}/_mock/{route}?{params}", data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.admin_token:
            request.add_header("Authorization", f"Bearer {self.admin_token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read() or b"{}").get("error") or {}
            except ValueError:
                error = {}
            if "problems" in error:
                raise ScenarioError([Problem(**problem) for problem in error["problems"]]) from None
            raise MockServerError(method, route, exc.code, error.get("code"), error.get("message") or "") from None


@dataclass(frozen=True)
class CallMade:
    """A tool call an answer made: the function, its arguments as sent (JSON text), its id, and the journal
    entry of the request it answered."""

    name: str
    arguments: str
    id: str
    request: int

    def parsed(self) -> Any:
        """The arguments as JSON."""
        return json.loads(self.arguments)


class MockServerError(RuntimeError):
    """A control-API call that the server refused: `status`, the error's `code` and `message` say why (a
    scenario that does not load raises `ScenarioError` instead)."""

    def __init__(self, method: str, route: str, status: int, code: str | None, message: str) -> None:
        super().__init__(f"mockserver {method} /_mock/{route}: {status} {message}")
        self.status = status
        self.code = code
        self.message = message


class MockServer:
    """A mockserver on a free port in a background thread; `session()` gives each test its own handle."""

    def __init__(self, paths: Iterable[str | Path] = (), **settings: Any) -> None:
        paths = list(paths)
        result = load_paths(paths) if paths else LoadResult()
        result.raise_for_problems()
        self.server = BackgroundServer(create_app(result.scenarios, Settings(**settings)))
        self.admin_token = settings.get("admin_token")

    @property
    def root_url(self) -> str:
        return self.server.root_url

    def start(self) -> MockServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def session(self, name: str = "test") -> OpenAIMock:
        """A handle with a session of its own; `name` (a test id, say) shows in logs and the journal."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:80] or "test"
        return OpenAIMock(self.root_url, f"{safe}-{next(_counter)}", self.admin_token)
