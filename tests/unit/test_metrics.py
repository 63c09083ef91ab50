"""`/metrics`: read with the official Prometheus client's text-format parser, its counters agree with the journal
after a known run."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from typing import Any

import aiohttp
import pytest
from conftest import ROOT
from helpers import chat, completion, response_request
from prometheus_client.parser import text_string_to_metric_families

from mockserver.server import metrics
from mockserver.server.promtext import Family, add_up, parse_samples, render
from mockserver.server.verdicts import RULES

SCENARIOS = """
scenarios:
  - name: default
    chunks: ["Hello", " there"]
  - name: stalls
    chunks: ["a", {stall_ms: 30}, "b"]
  - name: breaks
    chunks: ["a", "b", {error: true}]
  - name: cut
    chunks: ["a", {disconnect: true}]
  - name: recovers
    sequence:
      - error: {status: 429, retry_after: 0.5}
      - text: "ok"
  - name: slow
    chunks: ["a", "b"]
    ttft_ms: 300
"""


def scrape(text: str) -> dict[str, list[Any]]:
    """name -> samples, as Prometheus reads them."""
    families = {family.name: family.samples for family in text_string_to_metric_families(text)}
    return families


async def get_metrics(client: Any, **headers: str) -> dict[str, list[Any]]:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return scrape(await response.text())


def value(samples: list[Any], name: str, **labels: str) -> float:
    (found,) = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return float(found)


async def known_run(client: Any) -> int:
    """A mix of answers; returns the stream bytes the client received."""
    received = 0
    for body, path in [
        (chat("default"), "/v1/chat/completions"),
        (chat("default", stream=False), "/v1/chat/completions"),
        (chat("stalls"), "/v1/chat/completions"),
        (chat("breaks"), "/v1/chat/completions"),
        (chat("recovers"), "/v1/chat/completions"),
        (chat("recovers"), "/v1/chat/completions"),
        (completion("default"), "/v1/completions"),
        (response_request("default"), "/v1/responses"),
    ]:
        response = await client.post(path, json=body)
        data = await response.read()
        if response.status == 200 and body["stream"]:
            received += len(data)
    await client.post("/v1/chat/completions", json=chat("default"), headers={"X-Mock-Scenario": "nope"})
    await client.get("/v1/models")
    await client.get("/session/s1/v1/models/default")
    return received


async def test_the_counters_agree_with_the_journal(client_for: Any) -> None:
    client = await client_for(SCENARIOS, chaos=None)
    received = await known_run(client)
    journal = (await (await client.get("/_mock/requests")).json())["requests"]
    families = await get_metrics(client)

    requests = families["mockserver_requests"]  # the parser names a counter without its _total
    counted = Counter(
        {
            (s.labels["endpoint"], s.labels["status"], s.labels["scenario"], s.labels["ended"]): int(s.value)
            for s in requests
        }
    )
    expected = Counter(
        (
            entry["path"].replace("/session/s1", "").replace("/v1/models/default", "/v1/models/{model}"),
            str(entry["status"]),
            entry["scenario"] or "",
            entry["ended"],
        )
        for entry in journal
    )
    assert counted == expected
    assert counted["/v1/chat/completions", "404", "", "completed"] == 1  # the miss

    duration = families["mockserver_request_duration_seconds"]
    assert sum(
        value(duration, "mockserver_request_duration_seconds_count", endpoint=e) for e in {k[0] for k in expected}
    ) == len(journal)
    buckets = [
        s.value for s in duration if s.name.endswith("_bucket") and s.labels["endpoint"] == "/v1/chat/completions"
    ]
    assert buckets == sorted(buckets) and buckets[-1] == 7  # cumulative, +Inf holds them all

    streams = [e for e in journal if e["ticks"] is not None]
    ttft = families["mockserver_time_to_first_token_seconds"]
    assert sum(s.value for s in ttft if s.name.endswith("_count")) == sum(e["ttft_ms"] is not None for e in streams)
    chunks = families["mockserver_stream_chunks"]
    assert sum(s.value for s in chunks) == sum(e["chunks"] for e in streams)
    assert sum(s.value for s in families["mockserver_stream_bytes"]) == received

    faults = {s.labels["kind"]: s.value for s in families["mockserver_faults"]}
    played = Counter(kind for e in journal if e["fault"] for kind in e["fault"].split(", "))
    assert faults == {kind: played.get(kind, 0) for kind in ("error", "disconnect", "end", "stall", "keepalive")}

    verdicts = (await (await client.get("/_mock/verdicts")).json())["findings"]
    findings = {s.labels["rule"]: s.value for s in families["mockserver_verdict_findings"]}
    assert findings["retry_too_soon"] == sum(f["rule"] == "retry_too_soon" for f in verdicts) == 1
    assert value(families["mockserver_journal_entries"], "mockserver_journal_entries") == len(journal)
    assert value(families["mockserver_open_streams"], "mockserver_open_streams") == 0
    assert value(families["mockserver_requests_in_flight"], "mockserver_requests_in_flight") == 0
    assert value(families["mockserver_workers"], "mockserver_workers") == 1


async def test_a_reset_empties_the_journal_not_the_counters(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await known_run(client)
    await client.post("/_mock/reset")
    families = await get_metrics(client)
    assert value(families["mockserver_journal_entries"], "mockserver_journal_entries") == 0
    assert sum(s.value for s in families["mockserver_requests"]) == 11


async def test_open_streams_and_requests_in_flight(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    waiting = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat("slow")))
    await asyncio.sleep(0.1)
    families = await get_metrics(client)
    assert value(families["mockserver_open_streams"], "mockserver_open_streams") == 1  # its headers left at once
    assert value(families["mockserver_requests_in_flight"], "mockserver_requests_in_flight") == 1
    await (await waiting).read()
    families = await get_metrics(client)
    assert value(families["mockserver_open_streams"], "mockserver_open_streams") == 0


async def test_chaos_draws_and_client_disconnects_are_counted(client_for: Any) -> None:
    client = await client_for(SCENARIOS)
    await client.post("/_mock/chaos", data='{"rate_limit": 1.0}')
    await client.post("/v1/chat/completions", json=chat("default"))
    await client.post("/_mock/chaos", data="{}")
    with contextlib.suppress(aiohttp.ClientPayloadError):
        await (await client.post("/v1/chat/completions", json=chat("cut"))).read()
    families = await get_metrics(client)
    chaos = {s.labels["kind"]: s.value for s in families["mockserver_chaos_draws"]}
    assert chaos["rate_limit"] == 1 and sum(chaos.values()) == 1
    assert value(families["mockserver_requests"], "mockserver_requests_total", status="429", scenario="default") == 1
    assert value(families["mockserver_requests"], "mockserver_requests_total", scenario="cut", ended="fault") == 1


async def test_metrics_need_the_admin_token(client_for: Any) -> None:
    client = await client_for(SCENARIOS, admin_token="s3cret")
    response = await client.get("/metrics")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "invalid_admin_token"
    await get_metrics(client, Authorization="Bearer s3cret")


async def test_scenario_labels_stay_bounded(client_for: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "MAX_SERIES", 2)
    client = await client_for(SCENARIOS)
    for model in ("default", "stalls", "breaks", "breaks"):
        await (await client.post("/v1/chat/completions", json=chat(model))).read()
    families = await get_metrics(client)
    scenarios = {s.labels["scenario"]: s.value for s in families["mockserver_requests"]}
    assert scenarios == {"default": 1, "stalls": 1, "(other)": 2}


def test_the_texts_of_workers_add_up() -> None:
    def text(count: int, extra: str = "") -> str:
        family = Family("m_total", "counter", "Things.")
        family.add(count, endpoint="/v1/x", scenario='quote " and \\ back')
        if extra:
            family.add(1, endpoint=extra, scenario="")
        return render([family])

    mine = Family("m_total", "counter", "Things.")
    mine.add(2, endpoint="/v1/x", scenario='quote " and \\ back')
    total = render(add_up([mine], [parse_samples(text(3)), parse_samples(text(4, "/v1/y"))]))
    (family,) = text_string_to_metric_families(total)
    assert {(s.labels["endpoint"], s.labels["scenario"]): s.value for s in family.samples} == {
        ("/v1/x", 'quote " and \\ back'): 9,
        ("/v1/y", ""): 1,
    }


def test_every_verdict_rule_is_a_label_from_the_start() -> None:
    """`mockserver_verdict_findings` shows every rule at 0 before any finding, so dashboards see the series: the rules
    it knows are those docs/faults.md lists."""
    text = (ROOT / "docs" / "faults.md").read_text()
    section = text[text.index("## Client verdicts") :]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert documented == set(RULES)
