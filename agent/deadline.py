"""The turn's deadline: one time budget that every model step of a turn (or a triage) draws from.

The turn runner opens it; the fallback chain reads what is left and, when the budget is nearly spent,
skips the network models so the offline engine still answers (degraded) before the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# A contextvar, not an argument: LangGraph runs each node in a task that copies the caller's context,
# so the budget reaches the model step without threading it through the graph's state.
_DEADLINE: ContextVar[float | None] = ContextVar("deskpilot_deadline", default=None)


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Everything awaited inside shares `seconds` from now (a tighter outer deadline stays in force)."""
    if seconds is None:
        yield
        return
    at = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left of the current deadline (may be negative); None outside any deadline."""
    at = _DEADLINE.get()
    return None if at is None else at - time.monotonic()


def budget(limit_s: float | None, *, reserve_s: float = 0.0) -> float | None:
    """How long one step may take: its own limit, cut to what is left minus `reserve_s` for what follows."""
    left = remaining()
    if left is None:
        return limit_s
    left -= reserve_s
    return left if limit_s is None else min(limit_s, left)
