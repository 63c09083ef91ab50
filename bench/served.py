"""The `mockserver serve` a bench script measures: started from the script's own interpreter on a free loopback
port, and stopped however the block ends."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def mockserver(scenarios: Path, options: Sequence[str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`with mockserver(FILE, OPTIONS) as (process, root)`: `root` is the address without `/v1`, read from the
    first line the server prints once it listens."""
    command = [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--scenarios", str(scenarios), *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if not first.startswith("OPENAI_BASE_URL="):
            raise RuntimeError(f"mockserver serve did not start (exit code {process.poll()}): {first!r}")
        yield process, first.strip().split("=", 1)[1].removesuffix("/v1")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of the values, one of them (not interpolated); NaN for none."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")
