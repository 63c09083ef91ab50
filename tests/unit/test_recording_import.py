"""`mockserver import`: a saved SSE body (as `curl -N` and `curl -i -N` print it), a HAR file with its requests and
timing, openai-python's snapshot files and openai-node's snapshots become scenarios that load and answer as the
capture did."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from helpers import sse_chunks

from mockserver import create_app, load_paths
from mockserver.cli import main

CHUNK = (
    '{"id":"chatcmpl-A","object":"chat.completion.chunk","created":1727346000,"model":"gpt-4o-2024-08-06",'
    '"system_fingerprint":"fp_b40fb1c6fb","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]}'
)


def sse_body(*deltas: str, finish: str = "stop") -> str:
    events = [CHUNK % ('{"role":"assistant","content":"","refusal":null}', "null")]
    events += [CHUNK % (json.dumps({"content": delta}), "null") for delta in deltas]
    events.append(CHUNK % ("{}", json.dumps(finish)))
    return "".join(f"data: {event}\n\n" for event in events) + "data: [DONE]\n\n"


def imported(tmp_path: Path, *captures: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The captures imported into a new file, which must load."""
    out = tmp_path / "imported.yaml"
    assert main(["import", *map(str, captures), "--out", str(out)]) == 0
    capsys.readouterr()
    assert load_paths([out]).problems == []
    return out


async def replay(out: Path, aiohttp_client: Any, name: str, stream: bool = True) -> Any:
    client = await aiohttp_client(create_app(load_paths([out]).scenarios))
    body = {"model": name, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return await client.post("/v1/chat/completions", json=body)


async def test_a_saved_sse_body(tmp_path: Path, capsys: pytest.CaptureFixture[str], aiohttp_client: Any) -> None:
    capture = tmp_path / "weather.sse"
    capture.write_text(sse_body("The weather", " is fine."))
    out = imported(tmp_path, capture, capsys=capsys)
    (scenario,) = load_paths([out]).scenarios
    assert scenario.name == "weather" and scenario.match is None
    assert "without its request" in (scenario.description or "")
    chunks = sse_chunks(await (await replay(out, aiohttp_client, "weather")).read())
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["The weather", " is fine."]
    assert {c["model"] for c in chunks} == {"gpt-4o-2024-08-06"} and chunks[0]["system_fingerprint"] == "fp_b40fb1c6fb"


async def test_curl_with_headers_and_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], aiohttp_client: Any
) -> None:
    capture = tmp_path / "limited.txt"
    error = {
        "error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    capture.write_bytes(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/2 429 \r\ncontent-type: application/json\r\nretry-after-ms: 1500\r\n"
        b"x-ratelimit-remaining-requests: 0\r\nset-cookie: __cf_bm=abc\r\n\r\n" + json.dumps(error).encode()
    )
    out = imported(tmp_path, capture, capsys=capsys)
    assert "set-cookie" not in out.read_text() and "__cf_bm" not in out.read_text()
    response = await replay(out, aiohttp_client, "limited", stream=False)
    assert response.status == 429 and response.headers["retry-after-ms"] == "1500"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert (await response.json()) == error


def har_entry(text: str, body: str, mime: str = "text/event-stream; charset=utf-8", status: int = 200) -> Any:
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], "stream": True}
    return {
        "startedDateTime": "2026-12-01T15:13:41.123Z",
        "time": 1447.6,
        "request": {
            "method": "POST",
            "url": "https://api.openai.com/v1/chat/completions?trace=1",
            "headers": [
                {"name": "authorization", "value": "Bearer sk-proj-" + "k" * 60},
                {"name": ":path", "value": "x"},
            ],
            "postData": {"mimeType": "application/json", "text": json.dumps(request)},
        },
        "response": {
            "status": status,
            "headers": [{"name": "content-type", "value": mime}, {"name": "content-encoding", "value": "gzip"}],
            "content": {"size": len(body), "mimeType": mime, "text": body},
        },
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0.5, "wait": 300.0, "receive": 200.0},
    }


async def test_a_har_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], aiohttp_client: Any) -> None:
    entries = [
        har_entry("Is it sunny?", sse_body("Yes", ",", " very", ".")),
        {"request": {"method": "GET", "url": "https://api.openai.com/v1/models"}, "response": {"status": 200}},
        har_entry("Is it sunny?", sse_body("Still", " yes.")),
    ]
    capture = tmp_path / "session.har"
    capture.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "x"}, "entries": entries}}))
    out = imported(tmp_path, capture, capsys=capsys)
    text = out.read_text()
    assert "sk-proj-" not in text and "authorization" not in text.lower()
    (scenario,) = load_paths([out]).scenarios
    assert scenario.name == "is-it-sunny" and len(scenario.steps) == 2  # the same request twice: a sequence
    assert scenario.match is not None and scenario.match.describe()["regex"] == "^Is it sunny\\?$"
    first = scenario.steps[0]
    assert first.latency_ms == 300.5  # type: ignore[union-attr]
    delays = [chunk.delay_ms or 0 for chunk in first.chunks]  # type: ignore[union-attr]
    # the body's 200 ms spread over its seven events (role, four deltas, finish, [DONE]): the deltas are events 1-4
    assert all(abs(delay - 200 / 6) <= 0.1 for delay in delays) and abs(sum(delays) - 4 * 200 / 6) <= 0.1
    assert "spread evenly" in (scenario.description or "")


async def test_sdk_snapshots(tmp_path: Path, capsys: pytest.CaptureFixture[str], aiohttp_client: Any) -> None:
    python = tmp_path / ".inline-snapshot" / "external"
    python.mkdir(parents=True)
    (python / ("e2aad469b71d" + "0" * 52 + ".bin")).write_text(sse_body("Sunny", " and", " warm."))
    (python / ".gitignore").write_text("*-new.*\n")
    body = sse_body("Hello", " from", " node.").replace("\\", "\\\\")
    node = tmp_path / "ChatCompletionStream.test.ts.snap"
    node.write_text(f'// Jest Snapshot v1, https://goo.gl/fbAQLP\n\nexports[`.stream() works 1`] = `\n"{body}"\n`;\n')
    out = imported(tmp_path, python, node, capsys=capsys)
    names = [scenario.name for scenario in load_paths([out]).scenarios]
    assert names == ["sunny-and-warm", "stream-works-1"]
    chunks = sse_chunks(await (await replay(out, aiohttp_client, "stream-works-1")).read())
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello from node."


def test_import_prints_a_file_without_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "a.sse"
    capture.write_text(sse_body("x"))
    assert main(["import", str(capture)]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("# Scenarios recorded by mockserver") and "- name: a\n" in printed.out
    assert "recorded 'a'" in printed.err
    nothing = tmp_path / "nothing.txt"
    nothing.write_text("not a capture")
    assert main(["import", str(nothing)]) == 1
    assert "neither an event stream nor a JSON answer" in capsys.readouterr().err


def test_an_embedding_beyond_float32_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No answer of the API can hold it (its vectors are float32): a hand-edited capture said so with a traceback.
    entry = har_entry("x", "", mime="application/json")
    entry["request"]["url"] = "https://api.openai.com/v1/embeddings"
    entry["request"]["postData"]["text"] = json.dumps({"model": "text-embedding-3-small", "input": "x"})
    answer = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 1e39]}]}
    entry["response"]["content"]["text"] = json.dumps(answer)
    capture = tmp_path / "vectors.har"
    capture.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "x"}, "entries": [entry]}}))
    assert main(["import", str(capture)]) == 1
    assert "beyond the largest float32" in capsys.readouterr().err


def test_a_timing_that_is_not_a_finite_number_counts_as_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "timings.har"
    capture.write_text(_har(timings__receive=float("inf"), timings__wait=float("nan")))
    assert main(["import", str(capture)]) == 0  # it was a traceback
    assert "recorded 'hi'" in capsys.readouterr().err


def test_a_file_named_as_a_snapshot_that_is_none_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "odd.snap"
    capture.write_text("not a snapshot")
    assert main(["import", str(capture)]) == 2
    assert "not a Jest or Vitest snapshot" in capsys.readouterr().err


def test_an_embeddings_answer_past_what_a_file_loads_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 2,000,000 values: written (after seconds of work) and refused by the check load, logged as a bug.
    entry = har_entry("x", "", mime="application/json")
    entry["request"]["url"] = "https://api.openai.com/v1/embeddings"
    entry["request"]["postData"]["text"] = json.dumps({"model": "text-embedding-3-small", "input": ["x", "y"]})
    vector = base64.b64encode(struct.pack("<1000000f", *[0.5] * 1_000_000)).decode()
    data = [{"object": "embedding", "index": index, "embedding": vector} for index in range(2)]
    entry["response"]["content"]["text"] = json.dumps({"object": "list", "data": data})
    capture = tmp_path / "vectors.har"
    capture.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "x"}, "entries": [entry]}}))
    assert main(["import", str(capture)]) == 1
    said = capsys.readouterr().err
    assert "the answer holds more than 1,999,000 embedding values" in said and "2,000,000" in said


def _har(**changes: Any) -> str:
    entry = har_entry("hi", sse_body("x"))
    for path, value in changes.items():
        *above, key = path.split("__")
        place = entry
        for step in above:
            place = place[step]
        place[key] = value
    return json.dumps({"log": {"version": "1.2", "creator": {"name": "x"}, "entries": [entry]}})


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("entry.har", _har(request="POST"), "entry 1: not imported: a field holds a value of another type than HAR's"),
        ("status.har", _har(response__status=[200]), "entry 1: not imported: a field holds a value of another type"),
        ("choices.sse", 'data: {"choices": 5}\n\ndata: [DONE]\n\n', "not imported: an event holds a field of a type"),
        ("choices.json", '{"object": "chat.completion", "choices": 5}', "not imported: the answer holds a field of a type"),
        ("nan.json", '{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [NaN]}]}',
         "not imported: it holds nan, which has no form in a scenario file"),
    ],
)  # fmt: skip
def test_captures_with_fields_of_other_types_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, said: str
) -> None:
    # Each was a traceback (and the whole file given up on, for the NaN).
    capture = tmp_path / name
    capture.write_text(text)
    assert main(["import", str(capture)]) == 1
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_recordings_stop_before_the_file_holds_more_than_one_load_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each item loaded on its own, but the bounds of a load are the whole file's: 100 long streams made a file
    that no longer loaded, and that recording could no longer append to."""
    from mockserver.record import recorder

    monkeypatch.setattr(recorder, "MAX_PARTS", 20)  # room for two answers of eight chunks
    out = tmp_path / "recorded.yaml"
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.sse").write_text(sse_body(*[f"{name}{n} " for n in range(8)]))
    assert main(["import", str(tmp_path / "a.sse"), str(tmp_path / "b.sse"), "--out", str(out)]) == 0
    assert main(["import", str(tmp_path / "c.sse"), "--out", str(out)]) == 1  # counted from the file as it is
    said = capsys.readouterr().err
    assert f"not recorded: {out} would hold more than one file loads (2,000,000 values, 20 chunks" in said
    assert [scenario.name for scenario in load_paths([out]).scenarios] == ["a", "b"]


def test_an_answer_past_what_a_scenario_holds_is_reported_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # It was logged as a bug ("not recorded (it does not load)"), and the import said only "not recorded".
    answer = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2**60, "completion_tokens": 1, "total_tokens": 2},
    }
    capture = tmp_path / "usage.json"
    capture.write_text(json.dumps(answer))
    assert main(["import", str(capture)]) == 1
    assert "not recorded: a scenario cannot hold it: 'prompt_tokens' in 'usage'" in capsys.readouterr().err
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def test_a_capture_nested_past_the_parser_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "deep.json"
    capture.write_text("[" * 5000 + "]" * 5000)
    assert main(["import", str(capture)]) == 1
    assert "neither an event stream nor a JSON answer" in capsys.readouterr().err


def test_a_moderation_score_past_floats_is_read_as_the_most_a_score_can_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "moderation.json"
    result = {"flagged": True, "categories": {"violence": True}, "category_scores": {"violence": 10**400}}
    capture.write_text(json.dumps({"id": "modr-1", "model": "omni-moderation-latest", "results": [result]}))
    assert main(["import", str(capture)]) == 0
    assert "scores: {violence: 1}" in capsys.readouterr().out
