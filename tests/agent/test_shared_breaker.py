"""The Redis-backed breaker on the local Redis: one process's failures open it for another; else local."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from agent.breaker import BreakerState
from agent.shared_breaker import RedisCircuitBreaker

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client() -> Iterator[Any]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {type(error).__name__}")
    prefix = f"deskpilot-test:breaker:{uuid.uuid4().hex[:10]}"
    client.prefix = prefix
    yield client
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def pair(client: Any, clock: Clock) -> tuple[RedisCircuitBreaker, RedisCircuitBreaker]:
    def make() -> RedisCircuitBreaker:
        return RedisCircuitBreaker(
            "gpt-4o", client, prefix=client.prefix, failure_threshold=3, reset_after_s=30, wall_clock=clock
        )

    return make(), make()


def test_failures_on_one_process_open_the_breaker_on_another(client: Any) -> None:
    clock = Clock()
    a, b = pair(client, clock)
    a.record_failure()
    b.record_failure()
    assert a.state is BreakerState.CLOSED and b.consecutive_failures == 2
    b.record_failure()
    assert a.state is BreakerState.OPEN and not a.allow() and not b.allow()
    assert a.seconds_until_trial() == pytest.approx(30)
    clock.now += 31
    assert a.state is BreakerState.HALF_OPEN
    assert [a.allow(), b.allow(), a.allow()] == [True, False, False]  # one trial among all processes
    a.record_success()
    assert b.state is BreakerState.CLOSED and b.consecutive_failures == 0 and b.allow()


def test_a_failed_trial_opens_it_again_for_everyone(client: Any) -> None:
    clock = Clock()
    a, b = pair(client, clock)
    for _ in range(3):
        a.record_failure()
    clock.now += 31
    assert b.allow()
    b.record_failure()
    assert a.state is BreakerState.OPEN and not a.allow()


def test_a_success_resets_the_shared_failure_count(client: Any) -> None:
    a, b = pair(client, Clock())
    a.record_failure()
    a.record_failure()
    b.record_success()
    a.record_failure()
    assert b.state is BreakerState.CLOSED and a.consecutive_failures == 1


def test_redis_down_fails_open_to_the_local_state(caplog: pytest.LogCaptureFixture) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2, socket_connect_timeout=0.2)
    breaker = RedisCircuitBreaker("gpt-4o", dead, failure_threshold=2, reset_after_s=30)
    assert breaker.allow()
    assert not breaker.shared
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()  # still a breaker, of this process
    assert sum("decides alone" in r.getMessage() for r in caplog.records) == 1
