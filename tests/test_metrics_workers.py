"""`serve --workers N`: whichever worker a scrape reaches, /metrics counts the requests of all of them."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow  # subprocesses

TOKEN = "t0k"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REQUESTS = 40


def requests_total(text: str) -> tuple[float, float]:
    """(API requests counted, workers added up) in a /metrics text."""
    families = {family.name: family for family in text_string_to_metric_families(text)}
    counted = sum(sample.value for sample in families["mockserver_requests"].samples)
    return counted, families["mockserver_workers"].samples[0].value


def get(connection: http.client.HTTPConnection, path: str) -> Any:
    connection.request("GET", path, headers=AUTH)
    response = connection.getresponse()
    body = response.read().decode()
    assert response.status == 200, body
    return body


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_scrape_adds_up_every_worker(cli_server: Any, loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")  # it cannot reach an abstract socket by name: the workers meet in a folder
    server = cli_server("--workers", "2", "--speed", "0", "--admin-token", TOKEN, "--loop", loop)
    address = urllib.parse.urlsplit(server.base_url)
    body = json.dumps({"model": "haiku", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    for _ in range(REQUESTS):  # a new connection each: the kernel spreads them over the workers
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        assert connection.getresponse().read().endswith(b"data: [DONE]\n\n")
        connection.close()

    own: dict[int, float] = {}  # worker pid -> the requests it counted itself
    for _ in range(200):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        pid = json.loads(get(connection, "/_mock/health"))["pid"]  # one connection: one worker answers all three
        journal = json.loads(get(connection, "/_mock/requests"))["requests"]
        counted, workers = requests_total(get(connection, "/metrics?scope=worker"))
        assert (counted, workers) == (len(journal), 1)
        own[pid] = counted
        assert requests_total(get(connection, "/metrics")) == (REQUESTS, 2)  # the whole server, from either
        connection.close()
        if len(own) == 2:
            break
    assert len(own) == 2 and sum(own.values()) == REQUESTS
    assert all(own.values())  # both took a share
