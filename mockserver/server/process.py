"""How a `mockserver serve` process runs its event loop, and the allocator setting that keeps its memory off the
hot path. Only the server's own processes are tuned: an app embedded in a test (`mockserver.testing`, the pytest
plugin) runs in its host's process and loop, untouched.

- The event loop: uvloop when it is installed (`pip install 'mockserver[fast]'`) and `--loop` allows it, asyncio's
  otherwise. uvloop reads and writes sockets in C, about a fifth less CPU per request (docs/benchmarks.md).
- glibc's allocator: asyncio reads a socket into a 256 KiB buffer and shrinks it to what came. At the top of the
  heap, the freed rest is given back to the system and taken again by the next read — a few page faults, tens of
  microseconds, per request. Keeping some slack at the top of the heap (`M_TOP_PAD`) ends that.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import importlib.metadata
import importlib.util
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOOPS = ("auto", "asyncio", "uvloop")
# Bytes of slack glibc keeps at the top of the heap (its default is 128 KiB: less than one read buffer).
TOP_PAD = 4 * 1024 * 1024
_M_TOP_PAD = -2  # mallopt's parameter number, from glibc's malloc.h


def uses_uvloop(choice: str) -> bool:
    """Whether `--loop CHOICE` runs uvloop: `auto` when it is installed, `uvloop` always (it must be installed)."""
    if choice == "uvloop":
        return True
    return choice == "auto" and importlib.util.find_spec("uvloop") is not None


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """Run `main` to the end on the event loop `--loop` chooses, as `asyncio.run` does."""
    if uses_uvloop(choice):
        if importlib.util.find_spec("uvloop") is None:
            raise SystemExit("mockserver: --loop uvloop needs uvloop: pip install 'mockserver[fast]'")
        import uvloop  # an optional dependency: `mockserver[fast]`

        return uvloop.run(main)
    return asyncio.run(main)


def loop_label(choice: str) -> str:
    """The loop `--loop CHOICE` runs, as the start-up banner names it: `uvloop 0.21.0`, or `asyncio` with how to
    get the faster one."""
    if not uses_uvloop(choice):
        return "asyncio (pip install 'mockserver[fast]' for uvloop)" if choice == "auto" else "asyncio"
    try:
        return f"uvloop {importlib.metadata.version('uvloop')}"
    except importlib.metadata.PackageNotFoundError:
        return "uvloop (not installed)"


def tune_allocator() -> bool:
    """Keep slack at the top of glibc's heap; True when it was set (False elsewhere: musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: musl has mallopt as a stub that does nothing  # noqa: B018
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_TOP_PAD, TOP_PAD))
