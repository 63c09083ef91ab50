"""The page's feed under load: 1,000 streams at once, watched and not (bench/feed_load.py, one round of each). The
feed keeps up without dropping anything the journal keeps, and watching costs the server little."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow  # 1,000 streams and three processes


def test_a_thousand_streams_watched() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "feed_load.py"), "--streams", "1000", "--rounds", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    alone, watched = json.loads(run.stdout)
    assert not alone["feed"] and watched["feed"]
    # Everything the journal kept reached the reader, every tick of every stream, without a resync.
    assert watched["feed_matches_journal"] and watched["feed_resyncs"] == 0
    # Loose bounds (the load generator shares the machine): watching adds a few per cent of the server's CPU...
    assert watched["server_cpu_s"] <= 1.3 * alone["server_cpu_s"] + 0.1, (alone, watched)
    # ...and the API keeps answering: plain requests sent during the load are answered, and in good time.
    assert watched["probes"] > 0 and watched["probe_ms_p50"] < 250, watched
