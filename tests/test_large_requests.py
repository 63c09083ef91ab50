"""Large prompts cost memory only while they are answered: counting their tokens keeps nothing, and two at once
stay far under the Kubernetes manifest's 512 MiB limit."""

from __future__ import annotations

import concurrent.futures
import json
import random
import string
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def prompt(seed: int, size: int = 8 * 1024 * 1024) -> bytes:
    """A chat request whose prompt is `size` bytes of words never seen before."""
    rng = random.Random(seed)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(20_000)]
    text = " ".join(rng.choices(words, k=size // 5))[:size]
    # a model the catalogue does not know: no context window refuses the prompt
    return json.dumps({"model": "mock-model", "messages": [{"role": "user", "content": text}]}).encode()


def test_large_distinct_prompts_leave_nothing_behind(cli_server: Any) -> None:
    server = cli_server()
    pid = server.process.pid
    bodies = [prompt(seed) for seed in range(4)]

    def send(body: bytes) -> None:
        request = urllib.request.Request(
            server.base_url + "/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read())["usage"]["prompt_tokens"] > 1_000_000

    started = resident_mb(pid)
    for body in bodies[:2]:
        send(body)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        sending = [pool.submit(send, body) for body in bodies[2:]]
        peak = 0.0
        while not all(future.done() for future in sending):
            peak = max(peak, resident_mb(pid))
            time.sleep(0.005)
    for future in sending:
        future.result()  # a request that failed fails the test (an assertion in a thread would only warn)
    assert peak < 300  # the manifest's limit is 512 MiB
    assert resident_mb(pid) < started + 40  # nothing of the prompts is kept (it was 300 MB each)
