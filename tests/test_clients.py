"""Proof with real clients other than openai-python: openai-node, LangChain and LiteLLM run unchanged against
mockserver and see what they would see from the real API. docs/compatibility.md cites these tests cell by cell.

A client that cannot be had here (no npm, a package not installed) is skipped, unless MOCKSERVER_REQUIRE_CLIENTS=1
says it must run (as in CI): then it fails, so that a broken install never passes as a skip.
"""

from __future__ import annotations

import fcntl
import functools
import gc
import importlib
import importlib.util
import json
import operator
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import openai
import pytest
from conftest import ROOT
from helpers import Session

from mockserver.scenario.load import BUNDLED
from mockserver.server.runner import BackgroundServer
from mockserver.testing import make_app

pytestmark = pytest.mark.slow  # real clients, subprocesses or a browser

NODE_DIR = ROOT / "tests" / "node"
NPM_LOCK = Path(tempfile.gettempdir()) / "mockserver-npm-install.lock"
QUESTION = "What is the weather in Paris?"
USER = [{"role": "user", "content": QUESTION}]
PARIS = "The capital of France is Paris."
LENGTH_TEXT = "Here are the steps to bake sourdough bread: first, feed your starter and wait until it doubles. Then mix"
FILTERED_TEXT = "I can explain how that works. The first step is"
REFUSAL = "I'm sorry, but I can't help with that request."
FINISHES = [
    ("finish-stop", PARIS, "stop"),
    ("finish-length", LENGTH_TEXT, "length"),
    ("finish-content-filter", FILTERED_TEXT, "content_filter"),
]
# Usage that no tokenizer would count for this text: seeing it proves a client took the usage from the wire.
COUNTED = """
scenarios:
  - name: counted
    text: "Counted by the server."
    usage: {prompt_tokens: 321, completion_tokens: 54}
"""
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}
RESPONSES_WEATHER = {"type": "function", **WEATHER["function"]}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def unavailable(reason: str) -> NoReturn:
    """Skip for want of a client, or fail where the environment says every client must run."""
    if os.environ.get("MOCKSERVER_REQUIRE_CLIENTS") == "1":
        pytest.fail(f"{reason}; MOCKSERVER_REQUIRE_CLIENTS=1 says it must run")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(make_app(BUNDLED, COUNTED, speed=0)) as running:
        yield running


@pytest.fixture
def session(server: BackgroundServer) -> Session:
    return Session(server.root_url)


# --- openai-node ------------------------------------------------------------------------------------------------


def install_openai_node(npm: str) -> None:
    """Install the packages pinned in tests/node/package.json (openai, and ws for its WebSocket client) into
    tests/node/node_modules (gitignored, kept between runs), unless they are there already; a lock keeps two test
    runs in one checkout from installing at once."""
    dependencies = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    pinned = dependencies["openai"]

    def installed(name: str) -> str | None:
        found = NODE_DIR / "node_modules" / name / "package.json"
        return json.loads(found.read_text())["version"] if found.is_file() else None

    with NPM_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(installed(name) == version for name, version in dependencies.items()):
            return
        command = [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"]
        try:
            done = subprocess.run(command, cwd=NODE_DIR, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            unavailable(f"npm install of openai {pinned} took more than 300 s")
        if done.returncode != 0:
            unavailable(f"npm install of openai {pinned} failed: {done.stderr.strip()[-2000:]}")


@dataclass
class NodeRun:
    """What tests/node/clients.mjs printed (case -> result), and the session its requests went to."""

    results: dict[str, Any]
    session: Session

    def answer(self, case: str) -> dict[str, Any]:
        """The result of a case that must succeed, or a failure that shows what openai-node threw."""
        result = self.results[case]
        assert "error" not in result, f"openai-node threw in {case}: {result['error']}"
        return result


@pytest.fixture(scope="module")
def node(server: BackgroundServer) -> NodeRun:
    """One run of the Node script for every case: Node starts once, and the cases share one session."""
    node_binary, npm = shutil.which("node"), shutil.which("npm")
    if not node_binary or not npm:
        unavailable("openai-node needs Node.js and npm, and they are not on PATH")
    install_openai_node(npm)
    session = Session(server.root_url)
    environment = {**os.environ, "OPENAI_BASE_URL": session.base_url, "OPENAI_API_KEY": "sk-node"}
    done = subprocess.run(
        [node_binary, "clients.mjs"], cwd=NODE_DIR, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"clients.mjs failed:\n{done.stderr}"
    return NodeRun(json.loads(done.stdout), session)


def test_node_streams_chat_text(node: NodeRun) -> None:
    assert node.answer("chat_text") == {
        "text": PARIS,
        "reasoning": "",
        "finish_reason": "stop",
        "usage": None,
        "chunks": 9,  # the role chunk, seven content chunks, the finish chunk
        "roles": ["assistant"],
        "empty_choices": 0,
    }


def test_node_gets_the_usage_chunk_when_asked(node: NodeRun) -> None:
    seen = node.answer("chat_usage")
    assert (seen["text"], seen["chunks"], seen["empty_choices"]) == (PARIS, 10, 1)
    usage = seen["usage"]
    assert usage["completion_tokens"] == 7
    assert usage["total_tokens"] == usage["prompt_tokens"] + 7


@pytest.mark.parametrize(
    ("case", "text", "reason"),
    [("finish_length", LENGTH_TEXT, "length"), ("finish_content_filter", FILTERED_TEXT, "content_filter")],
)
def test_node_finish_reasons(node: NodeRun, case: str, text: str, reason: str) -> None:
    seen = node.answer(case)
    assert (seen["text"], seen["finish_reason"]) == (text, reason)


def test_node_stream_helper_accumulates_text(node: NodeRun) -> None:
    """ChatCompletionStream's final snapshot throws when a role is missing; it must come out whole."""
    (choice,) = node.answer("helper_text")["choices"]
    assert choice["message"]["role"] == "assistant"
    assert (choice["message"]["content"], choice["finish_reason"]) == (PARIS, "stop")
    assert node.answer("helper_text")["events"]["content"] == 7


def test_node_stream_helper_tool_call(node: NodeRun) -> None:
    """finalChatCompletion() throws when a call's id, type or name is missing, and garbles them when repeated."""
    result = node.answer("helper_tool_call")
    (choice,) = result["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and len(call["id"]) == 29
    assert (call["type"], call["function"]["name"]) == ("function", "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert result["events"]["arguments"] > 3  # the arguments arrived in fragments


def test_node_stream_helper_parallel_tool_calls(node: NodeRun) -> None:
    (choice,) = node.answer("helper_parallel_tool_calls")["choices"]
    first, second = choice["message"]["tool_calls"]
    assert first["id"].startswith("call_") and second["id"] == "call_tokyo"
    assert [call["function"]["name"] for call in (first, second)] == ["get_weather", "get_weather"]
    assert [json.loads(call["function"]["arguments"]) for call in (first, second)] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    assert choice["finish_reason"] == "tool_calls"


def test_node_stream_helper_text_then_tool_call(node: NodeRun) -> None:
    (choice,) = node.answer("helper_text_then_tool_call")["choices"]
    assert choice["message"]["content"] == "Let me look that up."
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "search"
    assert json.loads(call["function"]["arguments"]) == {"query": "opening hours"}


def test_node_stream_helper_refusal(node: NodeRun) -> None:
    result = node.answer("helper_refusal")
    (choice,) = result["choices"]
    assert (choice["message"]["refusal"], choice["message"]["content"]) == (REFUSAL, None)
    assert result["events"]["refusal"] > 1 and result["events"]["content"] == 0


def test_node_stream_helper_logprobs(node: NodeRun) -> None:
    result = node.answer("helper_logprobs")
    assert result["events"]["logprobs"] >= 5  # logprobs.content.delta, chunk by chunk
    (choice,) = result["choices"]
    entries = choice["logprobs"]["content"]
    assert [entry["token"] for entry in entries] == ["The", " sky", " is", " blue", "."]
    assert [entry["logprob"] for entry in entries][2:4] == [-0.0001, -0.42]  # scripted
    assert all(len(entry["top_logprobs"]) == 2 for entry in entries)


def test_node_stream_helper_n_choices(node: NodeRun) -> None:
    choices = node.answer("helper_n_choices")["choices"]
    assert [choice["message"]["content"] for choice in choices] == ["Paris.", PARIS, "Paris, on the Seine."]
    assert [choice["finish_reason"] for choice in choices] == ["stop"] * 3


def test_node_reasoning_content_passes_through(node: NodeRun) -> None:
    seen = node.answer("reasoning_raw")
    assert seen["reasoning"] == "The question asks for the product of six and seven. Six sevens are forty-two."
    assert seen["text"] == "6 × 7 = 42."
    hidden = node.answer("reasoning")  # as OpenAI's models: counted, not sent
    assert (hidden["reasoning"], hidden["text"]) == ("", "6 × 7 = 42.")


def test_node_responses_stream_rejects_on_a_failure_mid_stream(node: NodeRun) -> None:
    """HTTP 200, then the quota failure: the responses.stream() helper rejects, as against the real API."""
    error = node.results["responses_quota"]["error"]
    assert (error["name"], error["status"], error["code"]) == ("APIError", None, "insufficient_quota")
    assert error["message"].startswith("You exceeded your current quota")
    assert len(node.session.requests_to("fault-stream-quota")) == 1  # never retried


def test_node_mid_stream_error_event(node: NodeRun) -> None:
    seen = node.results["error_event"]
    assert seen["text"] == "The answer starts well"
    assert seen["error"]["name"] == "APIError"
    assert (seen["error"]["status"], seen["error"]["type"]) == (None, "server_error")
    assert seen["error"]["message"] == "The server had an error while processing your request. Sorry about that!"
    assert len(node.session.requests_to("fault-error-event")) == 1  # never retried


def test_node_disconnect(node: NodeRun) -> None:
    seen = node.results["disconnect"]
    assert seen["text"] == "The answer starts well" and seen["finish_reason"] is None
    error = seen["error"]
    assert (error["name"], error["message"], error["status"]) == ("TypeError", "terminated", None)  # from undici
    assert len(node.session.requests_to("fault-disconnect")) == 1


def test_node_retries_429(node: NodeRun) -> None:
    seen = node.answer("rate_limit_recovers")
    assert (seen["text"], seen["finish_reason"]) == ("Thanks for waiting - here is your answer.", "stop")
    attempts = node.session.requests_to("rate-limit-recovers")
    assert [(entry["status"], entry["retry_count"]) for entry in attempts] == [(429, 0), (429, 1), (200, 2)]
    error = node.results["rate_limit"]["error"]
    assert (error["name"], error["status"], error["code"]) == ("RateLimitError", 429, "rate_limit_exceeded")
    assert error["request_id"].startswith("req_")
    assert len(node.session.requests_to("rate-limit")) == 3


def test_node_handles_every_fault_well(node: NodeRun) -> None:
    """The journal's verdicts on the whole run: no retry too soon, none of a broken stream, no storm."""
    assert node.session.control("verdicts")["findings"] == []


def test_node_legacy_completions(node: NodeRun) -> None:
    assert node.answer("legacy_completions") == {"text": PARIS, "finish_reason": "stop"}


def test_node_responses_stream_helper_text(node: NodeRun) -> None:
    result = node.answer("responses_text")
    assert result["types"][:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert result["types"][-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert result["deltas"] == result["output_text"] == PARIS
    assert result["status"] == "completed"
    assert result["usage"]["output_tokens"] == 7
    assert result["usage"]["total_tokens"] == result["usage"]["input_tokens"] + 7


def test_node_responses_stream_helper_tool_call(node: NodeRun) -> None:
    result = node.answer("responses_tool_call")
    (item,) = result["output"]
    assert (item["type"], item["name"], item["status"]) == ("function_call", "get_weather", "completed")
    assert item["call_id"].startswith("call_")
    assert json.loads(item["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert "response.function_call_arguments.done" in result["types"]
    assert result["status"] == "completed"


def test_node_responses_create_stream_incomplete(node: NodeRun) -> None:
    result = node.answer("responses_incomplete")
    assert result["text"] == LENGTH_TEXT
    assert result["types"][-1] == "response.incomplete"
    assert result["sequence"] == list(range(len(result["types"])))
    assert (result["status"], result["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})


def test_node_responses_websocket_turn(node: NodeRun) -> None:
    """openai-node's `ResponsesWS` (the Responses API's WebSocket mode) streams one turn from the same scenario."""
    result = node.answer("responses_websocket")
    assert result["url"].startswith("ws://") and result["url"].endswith("/v1/responses")
    assert result["types"][:2] == ["response.created", "response.in_progress"]
    assert result["types"][-1] == "response.completed"
    assert result["deltas"] == result["output_text"] == PARIS
    assert result["status"] == "completed"
    turns = [entry for entry in node.session.journal() if entry["method"] == "WS"]
    assert [(entry["scenario"], entry["status"]) for entry in turns] == [("finish-stop", 200)]


# --- Python clients: LangChain and LiteLLM ------------------------------------------------------------------------


def import_client(name: str) -> ModuleType:
    """The client package, imported only by the tests that use it, so that its absence skips (or fails) just them."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"{name} is not installed ({exc}); pip install -e '.[test]'")


@pytest.fixture
def no_outside_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuses and records every name lookup or connection beyond this machine — tiktoken fetching its files,
    LiteLLM its price list — so that a client reaching out shows as a failure rather than a slow fallback."""
    attempts: list[Any] = []
    lookup, connect = socket.getaddrinfo, socket.socket.connect

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            attempts.append(host)
            raise socket.gaierror(f"mockserver tests: no lookups beyond this machine ({host})")
        return lookup(host, *args, **kwargs)

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            attempts.append(address)
            raise OSError(f"mockserver tests: no connections beyond this machine ({address})")
        connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield attempts
    assert attempts == [], f"the client tried to reach beyond this machine: {attempts}"


# --- LangChain ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chat_openai() -> Any:
    return import_client("langchain_openai").ChatOpenAI


@pytest.fixture
def langchain(chat_openai: Any, session: Session, no_outside_connections: list[Any]) -> Any:
    """`langchain(model, tools=None, **options)`: ChatOpenAI(...).stream() in this test's session; returns the
    chunks and their sum, as LangChain merges them."""

    def stream(model: str, tools: list[dict[str, Any]] | None = None, **options: Any) -> tuple[list[Any], Any]:
        llm = chat_openai(model=model, base_url=session.base_url, api_key="sk-langchain", **options)
        chunks = list((llm.bind_tools(tools) if tools else llm).stream(QUESTION))
        return chunks, functools.reduce(operator.add, chunks)

    return stream


@pytest.mark.parametrize(("model", "text", "reason"), FINISHES)
def test_langchain_streams_text_and_finish_reason(
    langchain: Any, session: Session, model: str, text: str, reason: str
) -> None:
    chunks, merged = langchain(model)
    assert sum(bool(chunk.content) for chunk in chunks) > 3  # token by token, not at once
    assert merged.content == text
    assert merged.response_metadata["finish_reason"] == reason
    assert merged.usage_metadata is None
    (request,) = session.requests_to(model)
    assert "stream_options" not in request["body"]  # with a base URL set, LangChain asks for no usage


def test_langchain_stream_usage_gives_usage_metadata(langchain: Any, session: Session) -> None:
    _, merged = langchain("counted", stream_usage=True)
    assert merged.content == "Counted by the server."
    assert (merged.usage_metadata["input_tokens"], merged.usage_metadata["output_tokens"]) == (321, 54)
    assert merged.usage_metadata["total_tokens"] == 375
    (request,) = session.requests_to("counted")
    assert request["body"]["stream_options"] == {"include_usage": True}


def assemble(chunks: list[Any]) -> dict[int, dict[str, str]]:
    """Tool-call chunks joined per index as a consumer joins them: id and name appended too, so that a server
    repeating them would show as a doubled value."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for piece in chunk.tool_call_chunks:
            call = calls.setdefault(piece["index"], {"id": "", "name": "", "args": ""})
            for key in call:
                call[key] += piece[key] or ""
    return calls


def test_langchain_tool_call_chunks(langchain: Any, session: Session) -> None:
    chunks, merged = langchain("tool-call", tools=[WEATHER])
    (call,) = assemble(chunks).values()
    assert call["id"].startswith("call_") and len(call["id"]) == 29
    assert call["name"] == "get_weather"
    assert json.loads(call["args"]) == {"city": "Paris", "unit": "celsius"}
    assert sum(bool(chunk.tool_call_chunks) for chunk in chunks) > 3  # streamed in fragments
    assert merged.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}, "id": call["id"], "type": "tool_call"}
    ]
    assert merged.response_metadata["finish_reason"] == "tool_calls"
    assert session.requests_to("tool-call")[0]["body"]["tools"] == [WEATHER]


def test_langchain_parallel_tool_call_chunks(langchain: Any) -> None:
    chunks, merged = langchain("parallel-tool-calls", tools=[WEATHER])
    calls = assemble(chunks)
    assert sorted(calls) == [0, 1]
    assert calls[0]["id"].startswith("call_") and calls[1]["id"] == "call_tokyo"
    assert [(call["name"], json.loads(call["args"])) for call in calls.values()] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert [call["id"] for call in merged.tool_calls] == [calls[0]["id"], "call_tokyo"]


def test_langchain_logprobs(langchain: Any) -> None:
    _, merged = langchain("logprobs", logprobs=True)
    entries = merged.response_metadata["logprobs"]["content"]
    assert [entry["token"] for entry in entries] == ["The", " sky", " is", " blue", "."]
    assert [entry["logprob"] for entry in entries][2:4] == [-0.0001, -0.42]


def test_langchain_refusal_and_reasoning_stay_out_of_the_content(langchain: Any) -> None:
    """ChatOpenAI reads neither delta.refusal nor delta.reasoning_content when streaming: the stream still ends
    cleanly, and neither text leaks into the content."""
    _, refusal = langchain("refusal")
    assert (refusal.content, refusal.response_metadata["finish_reason"]) == ("", "stop")
    _, reasoning = langchain("reasoning")
    assert reasoning.content == "6 × 7 = 42."


def test_langchain_faults_raise_and_are_not_retried(langchain: Any, session: Session) -> None:
    with pytest.raises(openai.APIError) as caught:
        langchain("fault-error-event")
    assert not isinstance(caught.value, openai.APIStatusError) and caught.value.type == "server_error"
    with pytest.raises(openai.APIConnectionError):
        langchain("fault-disconnect")
    assert [len(session.requests_to(name)) for name in ("fault-error-event", "fault-disconnect")] == [1, 1]


def test_langchain_retries_429(langchain: Any, session: Session) -> None:
    _, merged = langchain("rate-limit-recovers")
    assert merged.content == "Thanks for waiting - here is your answer."
    assert [entry["status"] for entry in session.requests_to("rate-limit-recovers")] == [429, 429, 200]
    with pytest.raises(openai.RateLimitError):
        langchain("rate-limit")
    assert len(session.requests_to("rate-limit")) == 3


def test_langchain_responses_api_stream(langchain: Any) -> None:
    """ChatOpenAI(use_responses_api=True) streams from /v1/responses: text, usage, a call, and an incomplete end."""
    _, text = langchain("finish-stop", use_responses_api=True)
    assert (text.text, text.response_metadata["status"]) == (PARIS, "completed")
    assert text.usage_metadata["output_tokens"] == 7
    _, call = langchain("tool-call", tools=[WEATHER], use_responses_api=True)
    (tool_call,) = call.tool_calls
    assert (tool_call["name"], tool_call["args"]) == ("get_weather", {"city": "Paris", "unit": "celsius"})
    assert tool_call["id"].startswith("call_")
    _, cut = langchain("finish-length", use_responses_api=True)
    assert cut.text == LENGTH_TEXT
    assert cut.response_metadata["incomplete_details"] == {"reason": "max_output_tokens"}


def test_langchain_legacy_completions(session: Session, no_outside_connections: list[Any]) -> None:
    llm = import_client("langchain_openai").OpenAI(model="finish-stop", base_url=session.base_url, api_key="sk-lc")
    pieces = list(llm.stream("The capital of France"))
    assert len(pieces) > 3 and "".join(pieces) == PARIS
    (request,) = session.requests_to("finish-stop")
    assert request["path"].endswith("/v1/completions")


# A retrieval-augmented app's first step, offline: its documents and its question embedded, the nearest document
# retrieved. LangChain's default tokenizes with tiktoken and sends token arrays; tiktoken's cl100k_base comes
# from the copy LiteLLM ships (TIKTOKEN_CACHE_DIR), since nothing may be downloaded here.
KNOWLEDGE = [
    "Our office is open from nine to five, Monday to Friday.",
    "To reset your password, open Settings, choose Security and click Reset password.",
    "Invoices are emailed on the first day of each month.",
    "The cafeteria serves lunch between noon and two.",
]


def tiktoken_files() -> Path:
    spec = importlib.util.find_spec("litellm")  # found, not imported: importing LiteLLM takes seconds
    folder = Path(next(iter(spec.submodule_search_locations or ()), "")) if spec else Path()
    folder = folder / "litellm_core_utils" / "tokenizers"
    if not (folder / "9b5ad71b2ce5302211f9c61530b329a4922fc6a4").is_file():  # tiktoken's name for cl100k_base
        unavailable(f"no cl100k_base file in {folder}")
    return folder


@pytest.mark.parametrize("token_arrays", [False, True], ids=["texts", "token-arrays"])
def test_langchain_vector_store_retrieves_the_right_document(
    session: Session, no_outside_connections: list[Any], monkeypatch: pytest.MonkeyPatch, token_arrays: bool
) -> None:
    embeddings = import_client("langchain_openai").OpenAIEmbeddings
    store_class = import_client("langchain_core.vectorstores").InMemoryVectorStore
    import_client("numpy")  # the store's similarity search needs it
    if token_arrays:
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tiktoken_files()))
    embedder = embeddings(
        model="text-embedding-3-small",
        base_url=session.base_url,
        api_key="sk-lc",
        check_embedding_ctx_length=token_arrays,
    )
    store = store_class.from_texts(KNOWLEDGE, embedder)
    (found,) = store.similarity_search("How do I reset my password?", k=1)
    assert found.page_content == KNOWLEDGE[1]
    documents, query = (entry["body"] for entry in session.journal())
    assert documents["encoding_format"] == query["encoding_format"] == "base64"
    if token_arrays:
        assert all(isinstance(item, list) and all(isinstance(t, int) for t in item) for item in documents["input"])
        assert query["input"] == [[4438, 656, 358, 7738, 856, 3636, 30]]  # cl100k_base, as the real API is sent
    else:
        assert documents["input"] == KNOWLEDGE


# --- LiteLLM -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def litellm() -> Iterator[ModuleType]:
    """LiteLLM, imported with its bundled price list: otherwise the import fetches one from the internet."""
    # Streams that earlier tests abandoned on a fault are closed now: openai-python 3.54 runs their cleanup with
    # `except timeout_exceptions()`, which fails if the collector happens to run while LiteLLM is importing httpx.
    gc.collect()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        yield import_client("litellm")


@pytest.fixture
def litellm_session(session: Session, monkeypatch: pytest.MonkeyPatch, no_outside_connections: list[Any]) -> Session:
    """This test's session, found by LiteLLM where a user's program tells it: OPENAI_BASE_URL."""
    monkeypatch.setenv("OPENAI_BASE_URL", session.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-litellm")
    return session


@pytest.fixture
def completion(litellm: ModuleType, litellm_session: Session) -> Any:
    """`completion(model, **options)`: the chunks of litellm.completion(stream=True); "openai/" names the provider
    of a model LiteLLM does not know."""

    def stream(model: str, **options: Any) -> list[Any]:
        return list(litellm.completion(model=f"openai/{model}", messages=USER, stream=True, **options))

    return stream


def text_and_finish(chunks: list[Any]) -> tuple[str, str | None]:
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    return text, finishes[-1] if finishes else None


@pytest.mark.parametrize(("model", "text", "reason"), FINISHES)
def test_litellm_streams_text_and_finish_reason(
    completion: Any, session: Session, model: str, text: str, reason: str
) -> None:
    assert text_and_finish(completion(model)) == (text, reason)
    (request,) = session.requests_to(model)
    assert request["body"]["model"] == model  # the provider prefix is LiteLLM's own


def test_litellm_usage_comes_from_the_wire_when_asked(completion: Any, litellm: ModuleType, session: Session) -> None:
    chunks = completion("counted", stream_options={"include_usage": True})
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (321, 54, 375)
    assert litellm.stream_chunk_builder(chunks, messages=USER).usage.completion_tokens == 54
    assert session.requests_to("counted")[0]["body"]["stream_options"] == {"include_usage": True}


def test_litellm_counts_usage_itself_offline_without_the_usage_chunk(
    completion: Any, litellm: ModuleType, session: Session
) -> None:
    """Without a usage chunk, stream_chunk_builder counts tokens with the tiktoken files LiteLLM ships: no
    download (no_outside_connections would fail the test), and not the scripted count."""
    chunks = completion("counted")
    assert "stream_options" not in session.requests_to("counted")[0]["body"]
    built = litellm.stream_chunk_builder(chunks, messages=USER)
    assert built.choices[0].message.content == "Counted by the server."
    assert built.usage.completion_tokens > 0
    assert built.usage.completion_tokens != 54


def test_litellm_tool_calls(completion: Any, litellm: ModuleType) -> None:
    chunks = completion("parallel-tool-calls", tools=[WEATHER])
    assert text_and_finish(chunks) == ("", "tool_calls")
    headers = [call for chunk in chunks for call in chunk.choices[0].delta.tool_calls or [] if call.id]
    assert [(call.index, call.function.name) for call in headers] == [(0, "get_weather"), (1, "get_weather")]
    message = litellm.stream_chunk_builder(chunks, messages=USER).choices[0].message
    assert [(call.id, call.function.name, json.loads(call.function.arguments)) for call in message.tool_calls] == [
        (headers[0].id, "get_weather", {"city": "Paris"}),
        ("call_tokyo", "get_weather", {"city": "Tokyo"}),
    ]


def test_litellm_reasoning_content(completion: Any) -> None:
    chunks = completion("reasoning-raw")
    reasoning = "".join(getattr(chunk.choices[0].delta, "reasoning_content", None) or "" for chunk in chunks)
    assert reasoning == "The question asks for the product of six and seven. Six sevens are forty-two."
    assert text_and_finish(chunks) == ("6 × 7 = 42.", "stop")


def test_litellm_refusal_ends_cleanly_without_content(completion: Any) -> None:
    """LiteLLM drops delta.refusal when streaming: the refusal's text is lost, but the stream ends as it should."""
    assert text_and_finish(completion("refusal")) == ("", "stop")


def test_litellm_logprobs_and_choices(completion: Any) -> None:
    chunks = completion("logprobs", logprobs=True, top_logprobs=2)
    entries = [entry for chunk in chunks if chunk.choices[0].logprobs for entry in chunk.choices[0].logprobs.content]
    assert [entry.token for entry in entries] == ["The", " sky", " is", " blue", "."]
    assert all(len(entry.top_logprobs) == 2 for entry in entries)
    texts: dict[int, str] = {}
    for chunk in completion("three-choices", n=3):
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
    assert texts == {0: "Paris.", 1: PARIS, 2: "Paris, on the Seine."}


def test_litellm_faults_raise_and_are_not_retried(completion: Any, litellm: ModuleType, session: Session) -> None:
    """LiteLLM turns a fault after the 200 into MidStreamFallbackError, which claims a status of 500 that no
    response had; the server's message survives in it."""
    fault = litellm.exceptions.MidStreamFallbackError
    with pytest.raises(fault, match="The server had an error while processing your request") as caught:
        completion("fault-error-event")
    assert caught.value.status_code == 500
    with pytest.raises(fault, match="Connection error"):
        completion("fault-disconnect")
    assert [len(session.requests_to(name)) for name in ("fault-error-event", "fault-disconnect")] == [1, 1]


def test_litellm_retries_429(completion: Any, litellm: ModuleType, session: Session) -> None:
    assert text_and_finish(completion("rate-limit-recovers")) == ("Thanks for waiting - here is your answer.", "stop")
    assert [entry["status"] for entry in session.requests_to("rate-limit-recovers")] == [429, 429, 200]
    with pytest.raises(litellm.RateLimitError):
        completion("rate-limit")
    assert len(session.requests_to("rate-limit")) == 3


def test_litellm_legacy_completions(litellm: ModuleType, litellm_session: Session) -> None:
    chunks = list(litellm.text_completion(model="openai/finish-stop", prompt="The capital of France", stream=True))
    assert "".join(chunk.choices[0].text or "" for chunk in chunks) == PARIS
    assert chunks[-1].choices[0].finish_reason == "stop"
    (request,) = litellm_session.requests_to("finish-stop")
    assert request["path"].endswith("/v1/completions")


def test_litellm_responses_stream(litellm: ModuleType, litellm_session: Session) -> None:
    """LiteLLM fakes a Responses stream (one request without `stream`) for a model it does not know, so this test
    names a known one and picks the scenario with the X-Mock-Scenario header, as a user keeping real names would."""

    def events(scenario: str, **options: Any) -> list[Any]:
        headers = {"X-Mock-Scenario": scenario}
        return list(
            litellm.responses(model="openai/gpt-4o", input=QUESTION, stream=True, extra_headers=headers, **options)
        )

    text = events("finish-stop")
    assert [event.type for event in text][:2] == ["response.created", "response.in_progress"]
    assert "".join(event.delta for event in text if event.type == "response.output_text.delta") == PARIS
    assert (text[-1].type, text[-1].response.usage.output_tokens) == ("response.completed", 7)
    (call,) = events("tool-call", tools=[RESPONSES_WEATHER])[-1].response.output
    assert (call.type, call.name, json.loads(call.arguments)) == (
        "function_call",
        "get_weather",
        {"city": "Paris", "unit": "celsius"},
    )
    cut = events("finish-length")[-1]
    assert (cut.type, cut.response.incomplete_details.reason) == ("response.incomplete", "max_output_tokens")
    assert [entry["body"].get("stream") for entry in litellm_session.control("requests")["requests"]] == [True] * 3
