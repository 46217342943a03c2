"""A circuit breaker whose state lives in Redis, so one failing model opens the breaker for every process.

Same API and transitions as `agent.breaker.CircuitBreaker`; three keys per breaker name:
`<prefix>:<name>:failures` (consecutive failures, INCR), `<prefix>:<name>:opened_at` (wall-clock time the
breaker opened; absent when closed) and `<prefix>:<name>:trial` (SET NX with a TTL: the one half-open trial
call among all processes). If Redis cannot be reached the breaker fails open to its own in-process state
(logged once per outage, retried after `retry_after_s`): a Redis outage never stops a model call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.breaker import BreakerState, CircuitBreaker

log = logging.getLogger(__name__)


class RedisCircuitBreaker(CircuitBreaker):
    def __init__(
        self,
        name: str,
        client: Any,  # a redis.Redis (sync) with a short socket timeout
        *,
        prefix: str = "deskpilot:breaker",
        failure_threshold: int = 3,
        reset_after_s: float = 30.0,
        retry_after_s: float = 5.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(failure_threshold=failure_threshold, reset_after_s=reset_after_s)
        self.name = name
        self._redis = client
        self._keys = tuple(f"{prefix}:{name}:{part}" for part in ("failures", "opened_at", "trial"))
        self._wall = wall_clock
        self._retry_after_s = retry_after_s
        self._down_until = 0.0
        self._shared_lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """False while Redis is unreachable and this process decides alone."""
        return self._wall() >= self._down_until

    # --- the breaker API ----------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        return self._shared(lambda: self._read()[0], lambda: CircuitBreaker.state.fget(self))  # type: ignore[attr-defined]

    @property
    def consecutive_failures(self) -> int:
        return self._shared(
            lambda: int(self._redis.get(self._keys[0]) or 0),
            lambda: CircuitBreaker.consecutive_failures.fget(self),  # type: ignore[attr-defined]
        )

    def allow(self) -> bool:
        def shared() -> bool:
            state, _ = self._read()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.OPEN:
                return False
            # Half-open: one trial among all processes; a trial whose outcome never comes back expires.
            return bool(self._redis.set(self._keys[2], "1", nx=True, px=int(self.reset_after_s * 1000)))

        return self._shared(shared, super().allow)

    def record_success(self) -> None:
        def shared() -> None:
            if self._read()[0] is not BreakerState.OPEN:
                self._redis.delete(*self._keys)

        self._shared(shared, super().record_success)

    def record_failure(self) -> None:
        def shared() -> None:
            state, _ = self._read()
            if state is BreakerState.OPEN:
                return  # a late failure of a call that started before it opened
            # A failed half-open trial opens it again; in closed state the shared count decides.
            trial = state is BreakerState.HALF_OPEN
            if trial or int(self._redis.incr(self._keys[0])) >= self.failure_threshold:
                self._open_shared()

        self._shared(shared, super().record_failure)

    def seconds_until_trial(self) -> float:
        def shared() -> float:
            state, opened_at = self._read()
            if state is not BreakerState.OPEN or opened_at is None:
                return 0.0
            return max(0.0, opened_at + self.reset_after_s - self._wall())

        return self._shared(shared, super().seconds_until_trial)

    # --- Redis ----------------------------------------------------------------------------------------

    def _read(self) -> tuple[BreakerState, float | None]:
        raw = self._redis.get(self._keys[1])
        if raw is None:
            return BreakerState.CLOSED, None
        opened_at = float(raw)
        if self._wall() - opened_at < self.reset_after_s:
            return BreakerState.OPEN, opened_at
        return BreakerState.HALF_OPEN, opened_at

    def _open_shared(self) -> None:
        pipe = self._redis.pipeline()
        pipe.set(self._keys[1], repr(self._wall()))
        pipe.delete(self._keys[2])
        pipe.execute()

    def _shared(self, shared: Callable[[], Any], local: Callable[[], Any]) -> Any:
        import redis

        if self.shared:
            try:
                return shared()
            except (redis.RedisError, OSError, ValueError) as error:
                with self._shared_lock:
                    if self.shared:
                        log.warning(
                            "breaker %s: Redis unreachable (%s); this process decides alone for %.0f s",
                            self.name,
                            type(error).__name__,
                            self._retry_after_s,
                        )
                    self._down_until = self._wall() + self._retry_after_s
        return local()


def share_breakers(model: Any, triage: Any, *, redis_url: str, prefix: str) -> None:
    """Puts every network model's breaker (the fallback chain's and triage's) in Redis; the offline engine
    keeps its own. Keyed by model name (triage's apart): every process calling one model sees one state."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    for link in model.links:
        if isinstance(link.breaker, CircuitBreaker) and link.breaker.failure_threshold < 10**9:
            link.breaker = _shared_copy(link.name, link.breaker, client, prefix)
    if getattr(triage, "model", None) is not None:
        triage.breaker = _shared_copy(f"triage:{triage.model_name}", triage.breaker, client, prefix)


def _shared_copy(name: str, breaker: CircuitBreaker, client: Any, prefix: str) -> RedisCircuitBreaker:
    return RedisCircuitBreaker(
        name,
        client,
        prefix=prefix,
        failure_threshold=breaker.failure_threshold,
        reset_after_s=breaker.reset_after_s,
    )
