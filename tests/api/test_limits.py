"""Limits: requests a minute per key and per tenant, concurrent turns, daily quotas; memory and Redis."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from api.models import UsageRecord, utcnow
from tests.conftest import bearer, make_client, online
from tests.support import Hang, Reply

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except Exception:  # noqa: BLE001 - no server: the Redis tests are skipped
        return False


needs_redis = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


def assert_limited(response: Any, scope: str) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and error["details"]["scope"] == scope


def test_each_key_has_its_own_minute(settings: Any, engine: Any) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 3, "tenant_rate_limit_per_minute": 0})
    first, second = bearer(engine, scopes=("admin",)), bearer(engine, scopes=("admin",))
    with make_client(limited, engine) as client:
        statuses = [client.get("/v1/usage", headers=first).status_code for _ in range(3)]
        over = client.get("/v1/usage", headers=first)
        other = client.get("/v1/usage", headers=second)
    assert statuses == [200, 200, 200]
    assert_limited(over, "key")
    assert int(over.headers["Retry-After"]) <= 60
    assert other.status_code == 200


def test_a_tenant_shares_one_minute_across_its_keys(settings: Any, engine: Any) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 100, "tenant_rate_limit_per_minute": 4})
    keys = [bearer(engine, scopes=("admin",)) for _ in range(2)]
    elsewhere = bearer(engine, tenant="acme", scopes=("admin",))
    with make_client(limited, engine) as client:
        statuses = [client.get("/v1/usage", headers=keys[n % 2]).status_code for n in range(4)]
        over = client.get("/v1/usage", headers=keys[1])
        other_tenant = client.get("/v1/usage", headers=elsewhere)
    assert statuses == [200] * 4
    assert_limited(over, "tenant")
    assert other_tenant.status_code == 200


def test_a_tenants_own_setting_overrides_the_service_wide_limit(settings: Any, engine: Any) -> None:
    from api.tenants import TenantSettingsPatch

    limited = settings.model_copy(update={"tenant_rate_limit_per_minute": 1000})
    admin = bearer(engine, scopes=("admin",))
    with make_client(limited, engine) as client:
        client.app.state.runtime.tenants.update(
            "default", TenantSettingsPatch(rate_limit_per_minute=2), actor="test"
        )
        statuses = [client.get("/v1/usage", headers=admin).status_code for _ in range(3)]
        shown = client.get("/v1/tenant/settings", headers=bearer(engine, tenant="acme", scopes=("admin",)))
    assert statuses == [200, 200, 429]
    assert shown.json()["rate_limit_per_minute"] is None  # acme keeps the service-wide value


def test_unauthenticated_requests_are_not_counted_against_anyone(settings: Any, engine: Any) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 1})
    with make_client(limited, engine) as client:
        anonymous = [client.get("/v1/usage").status_code for _ in range(3)]
        health = [client.get("/healthz").status_code for _ in range(3)]
    assert anonymous == [401] * 3 and health == [200] * 3


def add_usage(engine: Any, tenant: str, *, tokens: int, cost: float, days_ago: int = 0) -> None:
    with Session(engine) as session:
        session.add(
            UsageRecord(
                tenant=tenant,
                model="gpt-4o",
                input_tokens=tokens - tokens // 4,
                output_tokens=tokens // 4,
                cost_usd=cost,
                created_at=utcnow() - timedelta(days=days_ago),
            )
        )
        session.commit()


def start(client: Any, headers: dict[str, str]) -> str:
    response = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers)
    return str(response.json()["id"])


@pytest.mark.parametrize(
    ("quota", "used", "reason"),
    [
        ({"daily_token_quota": 1000}, {"tokens": 1200, "cost": 0.01}, "daily token quota"),
        ({"daily_cost_quota_usd": 0.5}, {"tokens": 10, "cost": 0.75}, "daily cost quota"),
    ],
    ids=["tokens", "cost"],
)
def test_a_spent_daily_quota_answers_429_and_shows_in_usage(
    settings: Any, seeded_engine: Any, quota: dict[str, Any], used: dict[str, Any], reason: str
) -> None:
    from api.tenants import TenantSettingsPatch

    headers = bearer(seeded_engine, scopes=("agent", "admin"))
    add_usage(seeded_engine, "default", tokens=10**6, cost=100.0, days_ago=1)  # yesterday does not count
    with make_client(settings, seeded_engine) as client:
        client.app.state.runtime.tenants.update("default", TenantSettingsPatch(**quota), actor="test")
        conversation = start(client, headers)
        allowed = client.post(f"/v1/conversations/{conversation}/messages",
                              json={"content": "How long do refunds take?"}, headers=headers)
        add_usage(seeded_engine, "default", **used)
        refused = client.post(f"/v1/conversations/{conversation}/messages",
                              json={"content": "And exchanges?"}, headers=headers)
        triage = client.post("/v1/triage", json={"text": "hello"}, headers=headers)
        usage = client.get("/v1/usage", headers=headers).json()
        elsewhere = bearer(seeded_engine, tenant="acme")
        other = client.post(f"/v1/conversations/{start(client, elsewhere)}/messages",
                            json={"content": "How long do refunds take?"}, headers=elsewhere)
    assert allowed.status_code == 200, allowed.text
    assert_limited(refused, "daily_quota")
    assert reason in refused.json()["error"]["message"]
    assert_limited(triage, "daily_quota")
    today = usage["today"]
    assert today["tokens"] >= used["tokens"] and today["cost_usd"] >= used["cost"]
    assert today["tokens"] < 10**6  # yesterday's usage is not today's
    assert (today["token_quota"], today["cost_quota_usd"]) == (
        quota.get("daily_token_quota"), quota.get("daily_cost_quota_usd")
    )
    assert other.status_code == 200  # another tenant's quota is its own


def test_concurrent_turns_per_tenant(settings: Any, openai_stub: Any, seeded_engine: Any) -> None:
    openai_stub.default = Hang(3, then=Reply("Refunds take 5 days."))
    slow = online(settings, openai_stub, llm_timeout_s=10.0, tenant_concurrent_turns=1)
    headers = bearer(seeded_engine)
    with make_client(slow, seeded_engine) as client:
        first, second = start(client, headers), start(client, headers)
        results: dict[str, Any] = {}

        def send() -> None:
            results["first"] = client.post(f"/v1/conversations/{first}/messages",
                                           json={"content": "How long do refunds take?"}, headers=headers)

        running = threading.Thread(target=send)
        running.start()
        while not openai_stub.chat_requests and running.is_alive():  # the first turn is with the model
            threading.Event().wait(0.02)
        refused = client.post(f"/v1/conversations/{second}/messages", json={"content": "hi"}, headers=headers)
        running.join()
        after = client.post(f"/v1/conversations/{second}/messages", json={"content": "hi"}, headers=headers)
    assert results["first"].status_code == 200
    assert_limited(refused, "concurrent_turns")
    assert after.status_code == 200  # the slot was given back when the first turn answered


def slots(prefix: str, redis_url: str | None) -> Any:
    from api.limits import TurnSlots

    return TurnSlots(redis_url, prefix=prefix, ttl_s=60)


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=needs_redis)])
def test_turn_slots_are_bounded_and_given_back(backend: str) -> None:
    url = REDIS_URL if backend == "redis" else None
    prefix = f"test-{uuid.uuid4().hex}"
    one, other = slots(prefix, url), slots(prefix, url) if url else None
    held = [one.acquire("t1", 2), (other or one).acquire("t1", 2)]
    assert all(held)
    assert one.acquire("t1", 2) is None and (other or one).acquire("t1", 2) is None
    assert one.acquire("t2", 2) is not None  # per tenant
    one.release("t1", held[0])
    assert (other or one).acquire("t1", 2) is not None


@needs_redis
def test_redis_counters_are_shared_by_every_process(settings: Any) -> None:
    from api.errors import RateLimited
    from api.limits import Limits
    from api.tenants import TenantSettings

    shared = settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "rate_limit_key_prefix": f"test-{uuid.uuid4().hex}",
            "rate_limit_per_minute": 3,
        }
    )
    first, second = Limits(shared), Limits(shared)  # two app processes on one Redis
    values = TenantSettings()
    first.check_request(tenant="t", key_id="k", values=values)
    second.check_request(tenant="t", key_id="k", values=values)
    first.check_request(tenant="t", key_id="k", values=values)
    with pytest.raises(RateLimited) as caught:
        second.check_request(tenant="t", key_id="k", values=values)
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 60
    second.check_request(tenant="t", key_id="another", values=values)
    # Memory counters, by contrast, are per process.
    alone = Limits(settings.model_copy(update={"rate_limit_per_minute": 3}))
    alone.check_request(tenant="t", key_id="k", values=values)


def test_counters_that_cannot_be_reached_do_not_stop_the_service(settings: Any) -> None:
    """Redis restarting must not turn every request into a 500: the limits step aside meanwhile."""
    from api.limits import Limits
    from api.tenants import TenantSettings

    unreachable = {"redis_url": "redis://127.0.0.1:1/0", "rate_limit_per_minute": 1}
    away = Limits(settings.model_copy(update=unreachable))
    for _ in range(3):
        away.check_request(tenant="t", key_id="k", values=TenantSettings())
    slot = away.slots.acquire("t", 1)
    assert slot is not None
    away.slots.release("t", slot)


def test_a_tenant_admin_cannot_raise_its_limits_above_the_service_wide_ones(
    settings: Any, engine: Any
) -> None:
    limited = settings.model_copy(update={"tenant_rate_limit_per_minute": 3, "tenant_concurrent_turns": 4})
    admin = bearer(engine, scopes=("admin",))
    with make_client(limited, engine) as client:
        raised = client.put("/v1/tenant/settings", json={"rate_limit_per_minute": 1000}, headers=admin)
        more_turns = client.put("/v1/tenant/settings", json={"concurrent_turns": 5}, headers=admin)
        lowered = client.put("/v1/tenant/settings", json={"concurrent_turns": 2}, headers=admin)
        # A value stored some other way (the CLI, an older version) still cannot lift the ceiling.
        from api.tenants import TenantSettingsPatch

        client.app.state.runtime.tenants.update(
            "default", TenantSettingsPatch(rate_limit_per_minute=1000), actor="test"
        )
        client.app.state.limits._overrides.clear()
        statuses = [client.get("/v1/usage", headers=admin).status_code for _ in range(2)]
        limits = client.app.state.limits
        turns = limits.concurrent_turns(client.app.state.runtime.tenants.get("default"))
    assert raised.status_code == 422 and "rate_limit_per_minute" in raised.text, raised.text
    assert more_turns.status_code == 422 and "concurrent_turns" in more_turns.text
    assert lowered.status_code == 200 and lowered.json()["concurrent_turns"] == 2
    assert turns == 2
    # 5 requests in the minute so far (3 PUT + 2 GET) against a ceiling of 3: the stored 1000 did not apply.
    assert 429 in statuses, statuses


def test_put_with_null_clears_an_override_back_to_the_default(settings: Any, engine: Any) -> None:
    admin = bearer(engine, scopes=("admin",))
    with make_client(settings, engine) as client:
        client.put("/v1/tenant/settings",
                   json={"rate_limit_per_minute": 50, "daily_token_quota": 1000, "refund_window_days": 10},
                   headers=admin)
        cleared = client.put("/v1/tenant/settings",
                             json={"rate_limit_per_minute": None, "refund_window_days": None}, headers=admin)
        shown = client.get("/v1/tenant/settings", headers=admin).json()
        audit = client.get("/v1/audit", params={"type": "tenant.settings_changed"}, headers=admin).json()
    from api.tenants import TenantSettings

    assert cleared.status_code == 200, cleared.text
    assert shown["rate_limit_per_minute"] is None  # the service-wide value again
    assert shown["refund_window_days"] == TenantSettings().refund_window_days
    assert shown["daily_token_quota"] == 1000  # a field not sent is kept
    assert audit[0]["payload"]["changed"] == {"rate_limit_per_minute": None, "refund_window_days": None}


def test_completions_batches_and_approvals_take_the_daily_quota_and_turn_slots(
    settings: Any, seeded_engine: Any
) -> None:
    from api.tenants import TenantSettingsPatch

    headers = bearer(seeded_engine, scopes=("agent", "integration", "admin", "approve"))
    question = [{"role": "user", "content": "How long do refunds take?"}]
    completion = {"model": "deskpilot", "messages": question}
    batch = {"tickets": [{"id": "T-1", "subject": "Refund", "text": "Where is my refund?"}]}
    with make_client(settings, seeded_engine) as client:
        tenants = client.app.state.runtime.tenants
        tenants.update("default", TenantSettingsPatch(daily_token_quota=1000), actor="t")
        before = client.post("/v1/chat/completions", json=completion, headers=headers)
        add_usage(seeded_engine, "default", tokens=5000, cost=0.1)
        spent = {
            "completion": client.post("/v1/chat/completions", json=completion, headers=headers),
            "batch": client.post("/v1/triage/batches", json=batch, headers=headers),
            "approval": client.post("/v1/approvals/apr_none", json={"decision": "approve"}, headers=headers),
        }
        # Slots: with every one of the tenant's turn slots taken, the same routes wait their turn.
        tenants.update("default", TenantSettingsPatch(daily_token_quota=None), actor="t")
        limits = client.app.state.limits
        limits._overrides.clear()
        limits.settings = limits.settings.model_copy(update={"tenant_concurrent_turns": 1})
        held = limits.slots.acquire("default", 1)
        busy = {
            "completion": client.post("/v1/chat/completions", json=completion, headers=headers),
            "batch": client.post("/v1/triage/batches", json=batch, headers=headers),
            "approval": client.post("/v1/approvals/apr_none", json={"decision": "approve"}, headers=headers),
        }
        limits.slots.release("default", held)
        after = client.post("/v1/approvals/apr_none", json={"decision": "approve"}, headers=headers)
    assert before.status_code == 200, before.text
    for name, response in spent.items():
        assert response.status_code == 429, (name, response.text)
        assert int(response.headers["Retry-After"]) >= 1, name
    assert "quota" in spent["completion"].json()["error"]["message"]  # OpenAI's error shape
    assert spent["batch"].json()["error"]["details"]["scope"] == "daily_quota"
    for name, response in busy.items():
        assert response.status_code == 429 and "Retry-After" in response.headers, (name, response.text)
    assert after.status_code == 404  # a slot free again: the decision goes through to the lookup
