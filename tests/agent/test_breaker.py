"""Circuit breaker transitions, driven by scripts of events against a fake clock."""

from __future__ import annotations

import threading

import pytest

from agent.breaker import BreakerState, CircuitBreaker

CLOSED, OPEN, HALF = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Each step: ("fail"|"ok"|"tick", arg) or ("allow", expected bool) or ("state", expected state).
# fmt: off
SCENARIOS = {
    "stays closed below the threshold": [
        ("fail", None), ("fail", None), ("state", CLOSED), ("allow", True),
    ],
    "opens after three consecutive failures": [
        ("fail", None), ("fail", None), ("fail", None), ("state", OPEN), ("allow", False),
    ],
    "a success resets the consecutive count": [
        ("fail", None), ("fail", None), ("ok", None), ("fail", None), ("fail", None), ("state", CLOSED),
        ("fail", None), ("state", OPEN),
    ],
    "stays open until reset_after_s": [
        ("fail", None), ("fail", None), ("fail", None), ("tick", 29.9), ("allow", False), ("state", OPEN),
    ],
    "half-opens after reset_after_s and allows one trial": [
        ("fail", None), ("fail", None), ("fail", None), ("tick", 30.0), ("state", HALF),
        ("allow", True), ("allow", False), ("allow", False), ("state", HALF),
    ],
    "trial success closes": [
        ("fail", None), ("fail", None), ("fail", None), ("tick", 30), ("allow", True), ("ok", None),
        ("state", CLOSED), ("allow", True), ("allow", True),
    ],
    "trial failure reopens for another full period": [
        ("fail", None), ("fail", None), ("fail", None), ("tick", 30), ("allow", True), ("tick", 5),
        ("fail", None), ("state", OPEN), ("tick", 29), ("allow", False), ("tick", 1), ("allow", True),
    ],
    "after recovery it takes the full threshold to open again": [
        ("fail", None), ("fail", None), ("fail", None), ("tick", 30), ("allow", True), ("ok", None),
        ("fail", None), ("fail", None), ("state", CLOSED), ("fail", None), ("state", OPEN),
    ],
    "a lost trial is replaced after reset_after_s": [
        ("fail", None), ("fail", None), ("fail", None), ("tick", 30), ("allow", True), ("tick", 29),
        ("allow", False), ("tick", 1), ("allow", True), ("allow", False),
    ],
    "late outcomes while open change nothing": [
        ("fail", None), ("fail", None), ("fail", None), ("ok", None), ("state", OPEN), ("tick", 20),
        ("fail", None), ("tick", 10), ("state", HALF),
    ],
}
# fmt: on


@pytest.mark.parametrize("steps", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_scenario(steps: list[tuple[str, object]]) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30.0, clock=clock)
    for index, (action, arg) in enumerate(steps):
        if action == "fail":
            breaker.record_failure()
        elif action == "ok":
            breaker.record_success()
        elif action == "tick":
            clock.now += float(arg)  # type: ignore[arg-type]
        elif action == "allow":
            assert breaker.allow() is arg, f"step {index}: allow()"
        else:
            assert breaker.state is arg, f"step {index}: state"


@pytest.mark.parametrize("threshold", [1, 2, 5])
def test_threshold_is_configurable(threshold: int) -> None:
    breaker = CircuitBreaker(failure_threshold=threshold, clock=FakeClock())
    for _ in range(threshold - 1):
        breaker.record_failure()
    assert breaker.state is CLOSED and breaker.consecutive_failures == threshold - 1
    breaker.record_failure()
    assert breaker.state is OPEN


def test_seconds_until_trial() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10, clock=clock)
    assert breaker.seconds_until_trial() == 0
    breaker.record_failure()
    clock.now += 4
    assert breaker.seconds_until_trial() == pytest.approx(6)
    clock.now += 6
    assert breaker.seconds_until_trial() == 0 and breaker.state is HALF


@pytest.mark.parametrize(("threshold", "reset"), [(0, 30.0), (3, 0.0), (3, -1.0)])
def test_invalid_configuration(threshold: int, reset: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=threshold, reset_after_s=reset)


def test_exactly_one_trial_under_concurrency() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    start = threading.Barrier(16)
    granted: list[bool] = []

    def contend() -> None:
        start.wait()
        granted.append(breaker.allow())

    threads = [threading.Thread(target=contend) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 1


def test_concurrent_failures_are_all_counted() -> None:
    breaker = CircuitBreaker(failure_threshold=10_000, clock=FakeClock())

    def fail_many() -> None:
        for _ in range(1000):
            breaker.record_failure()

    threads = [threading.Thread(target=fail_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.consecutive_failures == 8000


def test_real_clock_default() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=0.01)
    breaker.record_failure()
    assert breaker.allow() is False
    threading.Event().wait(0.02)
    assert breaker.allow() is True
