"""How a `mockserver serve` process runs its event loop, and the allocator setting that keeps its memory off the
hot path. Only the server's own processes are tuned: an app embedded in a test (`mockserver.testing`, the pytest
plugin) runs in its host's process and loop, untouched.

- The event loop: uvloop when it is installed (`pip install 'mockserver[fast]'`) and `--loop` allows it, asyncio's
  otherwise. uvloop reads and writes sockets in C; what that buys is measured in docs/benchmarks.md.
- glibc's allocator: asyncio reads a socket into a 256 KiB buffer and shrinks it to what came. At the top of the
  heap, the freed rest is given back to the system and taken again by the next read — a few page faults, tens of
  microseconds, per request. Keeping some slack at the top of the heap (`M_TOP_PAD`) ends that. Setting it also
  freezes the size above which glibc maps a block of its own, wherever start-up left it (128 KiB, or more): so
  that size is set too, above the read buffer, or every read would cost an mmap, an mremap and an munmap.
- The cyclic garbage collector: what is loaded before serving (modules, the scenarios, the app, some 45,000
  objects) is frozen out of its reach, so that a full collection walks only what requests made.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import importlib.metadata
import importlib.util
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOOPS = ("auto", "asyncio", "uvloop")
# Bytes of slack glibc keeps at the top of the heap (its default is 128 KiB: less than one read buffer).
TOP_PAD = 4 * 1024 * 1024
# Blocks from this size up get a mapping of their own (above asyncio's 256 KiB read buffer and its overhead).
MMAP_THRESHOLD = 1024 * 1024
_M_TOP_PAD, _M_MMAP_THRESHOLD = -2, -3  # mallopt's parameter numbers, from glibc's malloc.h


def uses_uvloop(choice: str) -> bool:
    """Whether `--loop CHOICE` runs uvloop: `auto` when it is installed, `uvloop` always (it must be installed)."""
    if choice == "uvloop":
        return True
    return choice == "auto" and importlib.util.find_spec("uvloop") is not None


def missing(choice: str) -> str | None:
    """Why `--loop CHOICE` cannot run here (uvloop asked for and not installed), or None."""
    if choice == "uvloop" and importlib.util.find_spec("uvloop") is None:
        return "--loop uvloop needs uvloop: pip install 'mockserver[fast]'"
    return None


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """Run `main` to the end on the event loop `--loop` chooses, as `asyncio.run` does."""
    if uses_uvloop(choice):
        problem = missing(choice)
        if problem is not None:
            main.close()
            raise SystemExit(f"mockserver: {problem}")
        import uvloop  # an optional dependency: `mockserver[fast]`

        return uvloop.run(main)
    return asyncio.run(main)


def loop_label(choice: str) -> str:
    """The loop `--loop CHOICE` runs, as the start-up banner names it: `uvloop 0.21.0` or `asyncio` (the banner is
    printed by a running loop, so uvloop is installed when it is named)."""
    return f"uvloop {importlib.metadata.version('uvloop')}" if uses_uvloop(choice) else "asyncio"


def tune_allocator() -> bool:
    """Keep slack at the top of glibc's heap; True when it was set (False elsewhere: musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, the C library's among them
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: musl has mallopt as a stub that does nothing  # noqa: B018
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TOP_PAD, TOP_PAD))


def freeze_loaded() -> None:
    """Put everything alive now out of the cyclic collector's reach (`gc.freeze`). A full collection walking the
    loaded objects took 12 ms and more, a pause every open stream felt (W2's gaps, a burst's first tokens). A
    loaded scenario set holds no reference cycles, so one that a reload replaces is still freed."""
    gc.collect()
    gc.freeze()
