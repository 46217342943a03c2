"""prompt_cache_key buckets: one key under ~15 requests/minute, more as a tenant's traffic grows."""

from __future__ import annotations

import re

from agent.cache_keys import PromptCacheKeys


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def traffic(keys: PromptCacheKeys, clock: FakeClock, tenant: str, requests: int, seconds: float) -> set[str]:
    """Sends `requests` evenly over `seconds` from distinct conversations; returns the keys handed out."""
    seen = set()
    for i in range(requests):
        seen.add(keys.key_for(tenant, f"conv-{i}"))
        clock.now += seconds / requests
    return seen


def test_one_key_per_tenant_under_the_per_key_rate() -> None:
    clock = FakeClock()
    keys = PromptCacheKeys(per_key_rpm=15, clock=clock)
    assert len(traffic(keys, clock, "acme", 15, 59.0)) == 1
    assert keys.buckets("acme") == 1


def test_more_buckets_as_traffic_grows() -> None:
    clock = FakeClock()
    keys = PromptCacheKeys(per_key_rpm=15, clock=clock)
    traffic(keys, clock, "acme", 16, 30.0)
    assert keys.buckets("acme") == 2
    traffic(keys, clock, "acme", 30, 20.0)  # 46 requests within the last minute
    assert keys.buckets("acme") == 4
    many = traffic(keys, clock, "acme", 200, 30.0)
    assert keys.buckets("acme") == 16
    assert len(many) > 4  # the extra buckets are actually used
    # Once the burst is older than the window, the tenant is back on one key.
    clock.now += 61.0
    assert keys.buckets("acme") == 1


def test_each_key_stays_near_the_per_key_rate() -> None:
    clock = FakeClock()
    keys = PromptCacheKeys(per_key_rpm=15, clock=clock)
    per_key: dict[str, int] = {}
    for i in range(120):  # 120 requests in one minute over 40 conversations
        key = keys.key_for("acme", f"conv-{i % 40}")
        per_key[key] = per_key.get(key, 0) + 1
        clock.now += 0.5
    # Keys are assigned by conversation hash, so the split is uneven; but 120 requests do not share one key.
    assert len(per_key) >= 4 and max(per_key.values()) < 120 / 2


def test_assignment_is_stable_and_doubling_keeps_half_the_conversations() -> None:
    clock = FakeClock()  # frozen: every request below falls in the same minute
    keys = PromptCacheKeys(per_key_rpm=15, clock=clock)
    conversations = [f"conv-{i}" for i in range(16)]

    def send(count: int) -> None:
        for _ in range(count):
            keys.key_for("acme", "other-traffic")

    def probe() -> dict[str, int]:
        """Each conversation's bucket; the probe itself adds 16 requests."""
        return {c: int(keys.key_for("acme", c).rsplit("-", 1)[1]) for c in conversations}

    send(80)
    eight, again = probe(), probe()  # 81..112 requests a minute: 8 buckets throughout
    assert again == eight  # same traffic level, same key for every conversation
    assert max(eight.values()) < 8
    send(200 - 112)
    sixteen = probe()  # 201..216 requests a minute: 16 buckets
    assert max(sixteen.values()) >= 8
    # Doubling the buckets keeps a conversation on its bucket or moves it to bucket + 8, so about half
    # of the conversations keep their cached prefix.
    assert all(sixteen[c] % 8 == eight[c] for c in conversations)
    assert 0 < sum(sixteen[c] == eight[c] for c in conversations) < len(conversations)


def test_keys_differ_per_tenant_and_do_not_name_it() -> None:
    clock = FakeClock()
    keys = PromptCacheKeys(clock=clock)
    acme, default = keys.key_for("acme", "c1"), keys.key_for("default", "c1")
    assert acme != default
    assert keys.key_for("acme", "c2") == acme  # low traffic: all of a tenant's conversations share it
    for tenant, key in (("acme", acme), ("default", default)):
        assert tenant not in key.lower()
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key)  # safe to send as-is


def test_tenants_are_counted_separately() -> None:
    clock = FakeClock()
    keys = PromptCacheKeys(per_key_rpm=15, clock=clock)
    traffic(keys, clock, "busy", 100, 30.0)
    assert keys.buckets("busy") > 1
    assert keys.buckets("quiet") == 1
    assert len(traffic(keys, clock, "quiet", 5, 10.0)) == 1
