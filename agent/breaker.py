"""A thread-safe circuit breaker: stop calling a failing model, then probe it with one trial call.

closed --N consecutive failures--> open --reset_after_s--> half-open --trial succeeds--> closed
                                    ^                           |
                                    +-------trial fails---------+
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Call `allow()` before each call and `record_success()`/`record_failure()` after it.

    Half-open lets exactly one trial through; if its outcome is never recorded (the caller crashed), another
    trial is allowed after `reset_after_s`, so the breaker cannot stay stuck.
    """

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after_s <= 0:
            raise ValueError("reset_after_s must be positive")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started_at: float | None = None

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._advance(self._clock())

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, True only for the one trial call."""
        with self._lock:
            now = self._clock()
            state = self._advance(now)
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.OPEN:
                return False
            trial_lost = (
                self._trial_started_at is not None and now - self._trial_started_at >= self.reset_after_s
            )
            if self._trial_started_at is None or trial_lost:
                self._trial_started_at = now
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            # A late success from a call that started before the breaker opened proves little; only the
            # trial call (half-open) or a call in closed state counts.
            if self._advance(self._clock()) is not BreakerState.OPEN:
                self._close()

    def record_failure(self) -> None:
        with self._lock:
            now = self._clock()
            state = self._advance(now)
            if state is BreakerState.HALF_OPEN:
                self._open(now)
            elif state is BreakerState.CLOSED:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._open(now)

    def seconds_until_trial(self) -> float:
        """How long until the next trial call is allowed (0 when not open)."""
        with self._lock:
            now = self._clock()
            if self._advance(now) is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self._opened_at + self.reset_after_s - now)

    # --- transitions (called with the lock held) -------------------------------------------------

    def _advance(self, now: float) -> BreakerState:
        if self._state is BreakerState.OPEN and now - self._opened_at >= self.reset_after_s:
            self._state = BreakerState.HALF_OPEN
            self._trial_started_at = None
        return self._state

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._trial_started_at = None

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._trial_started_at = None
