"""Memory and collector settings for a long-running `serve`, and handing freed memory back to the system.

Measured on `deskpilot serve` after 30 turns (bench/turn_vs_stock's RSS figure): glibc's defaults keep
memory the process has freed. A heap per thread (up to 8 x cores arenas: the API's worker threads,
onnxruntime's, Chroma's) and a mmap threshold that rises to 32 MB once a large block is freed (the ONNX
session load, embedding batches) leave free pages inside the heaps that only `malloc_trim` returns.

- `tune_malloc` (called first thing by `deskpilot serve`): at most 2 arenas, blocks of 128 KiB and more
  in their own mappings (returned on free), heap tops beyond 128 KiB trimmed on free. An operator's own
  MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ in the environment win (glibc read
  them at process start; we leave that setting alone).
- `release_free_memory`: `malloc_trim(0)`, which also returns free pages in the middle of the heaps.
- `serve_tuning` / `settle`: the garbage collector runs rarely during start-up, then start-up's objects
  are frozen out of its passes and the default thresholds come back.

Other C libraries (musl, macOS): both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

# mallopt parameters from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENA_MAX = 2
MMAP_THRESHOLD = 128 * 1024
TRIM_THRESHOLD = 128 * 1024
TRIM_INTERVAL_S = 30.0

_SETTINGS = (
    ("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENA_MAX),
    ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD),
    ("MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, TRIM_THRESHOLD),
)


@cache
def _glibc() -> Any | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018  (present in glibc only)
        return libc
    except (OSError, AttributeError):
        return None


def tune_malloc() -> dict[str, int]:
    """Applies the settings above that the environment does not set; returns those applied."""
    libc = _glibc()
    if libc is None:
        return {}
    applied: dict[str, int] = {}
    for env, parameter, value in _SETTINGS:
        if env not in os.environ and libc.mallopt(parameter, value) == 1:
            applied[env] = value
    log.debug("malloc: %s", applied)
    return applied


def release_free_memory() -> None:
    """Returns the heaps' free pages to the system (tens of MB after start-up and after bursts of turns)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def rss_mb() -> float:
    """This process's resident set (VmRSS), as the benchmark reads it; NaN where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


_tuned = False
_thresholds: tuple[int, int, int] | None = None
# Start-up allocates millions of objects that all live on (modules, pydantic schemas, spaCy's tables);
# at the default 700 the collector ran ~1,000 times during `serve`'s start, 13-15% of its CPU.
START_UP_GC_THRESHOLD = 50_000


def serve_tuning() -> dict[str, int]:
    """`deskpilot serve`, before its imports: `tune_malloc`, rare collections until `settle`, and marks
    this process as the long-running server."""
    import gc

    global _tuned, _thresholds
    _tuned = True
    _thresholds = gc.get_threshold()
    gc.set_threshold(START_UP_GC_THRESHOLD, *_thresholds[1:])
    return tune_malloc()


def settle() -> None:
    """End of start-up in `serve`: collect, then `gc.freeze` what start-up built (hundreds of thousands of
    module, pydantic and spaCy objects that live as long as the process), so the collector's full passes
    during turns no longer walk them; then hand the memory start-up freed back to the system.

    Only in the server process (after `serve_tuning`): the test suite builds many apps in one process, and
    freezing each one's objects would keep their garbage for good."""
    if not _tuned:
        return
    import gc

    gc.collect()
    gc.freeze()
    if _thresholds is not None:
        gc.set_threshold(*_thresholds)  # the defaults again for what turns allocate
    release_free_memory()


async def trim_periodically(interval_s: float = TRIM_INTERVAL_S) -> None:
    """In `serve`: `malloc_trim` every `interval_s` in a worker thread (a few ms on ~500 MB of heap);
    bursts of turns and ingests free tens of MB that glibc would otherwise keep."""
    import asyncio

    from starlette.concurrency import run_in_threadpool

    if not _tuned:
        return
    while True:
        await asyncio.sleep(interval_s)
        await run_in_threadpool(release_free_memory)
