"""Limits: requests a minute per key and per tenant, concurrent turns per tenant, daily token and cost quotas.

Counters live in memory on one machine and in Redis (`DESKPILOT_REDIS_URL`) when several processes
serve, so every process sees the same counts. A limit reached is a 429 with `Retry-After`
(`api.errors.RateLimited`). The service-wide values are settings and act as a ceiling: a tenant's own
values in its tenant settings (set by its admin) can only lower them, since a tenant admin is not the
operator. There is no operator-level per-tenant setting; to give one tenant more, raise the service-wide
value and lower the others. Daily quotas have no service-wide value: they are the tenant's own budget.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Annotated, Any

from fastapi import Depends, Request
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.auth import Principal
from api.deps import PrincipalDep, RuntimeDep
from api.errors import RateLimited
from api.models import UsageRecord
from api.settings import Settings
from api.tenants import TenantSettings

log = logging.getLogger(__name__)
_OVERRIDES_TTL_S = 5.0  # a tenant's changed limits apply within this long, without a read per request


@dataclass(frozen=True)
class Spent:
    """A tenant's usage since 00:00 UTC today, and what its quotas allow (None: no quota)."""

    tokens: int
    cost_usd: float
    token_quota: int | None
    cost_quota_usd: float | None
    resets_at: datetime

    @property
    def exhausted(self) -> str | None:
        if self.token_quota is not None and self.tokens >= self.token_quota:
            return f"the daily token quota ({self.token_quota:,} tokens) is spent"
        if self.cost_quota_usd is not None and self.cost_usd >= self.cost_quota_usd:
            return f"the daily cost quota (${self.cost_quota_usd:.2f}) is spent"
        return None

    def public(self) -> dict[str, Any]:
        return {
            "day": (self.resets_at - timedelta(days=1)).date().isoformat(),
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "token_quota": self.token_quota,
            "cost_quota_usd": self.cost_quota_usd,
            "resets_at": self.resets_at.isoformat(),
        }


def start_of_day(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return datetime.combine(now.astimezone(UTC).date(), clock_time(0), tzinfo=UTC)


def spent_today(engine: Engine, tenant: str, tenant_settings: TenantSettings) -> Spent:
    day = start_of_day()
    with Session(engine) as session:
        tokens, cost = session.exec(
            select(
                func.coalesce(func.sum(UsageRecord.input_tokens + UsageRecord.output_tokens), 0),
                func.coalesce(func.sum(UsageRecord.cost_usd), 0.0),
            ).where(UsageRecord.tenant == tenant, UsageRecord.created_at >= day)
        ).one()
    return Spent(
        tokens=int(tokens),
        cost_usd=float(cost),
        token_quota=tenant_settings.daily_token_quota,
        cost_quota_usd=tenant_settings.daily_cost_quota_usd,
        resets_at=day + timedelta(days=1),
    )


class TurnSlots:
    """Concurrent turns per tenant. On Redis a sorted set of slot ids scored by their expiry, so a slot a
    killed process held runs out by itself instead of blocking the tenant for good."""

    def __init__(self, redis_url: str | None, *, prefix: str, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.prefix = prefix
        self._redis: Any = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._local: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, tenant: str, limit: int) -> str | None:
        """A slot id, or None when the tenant already runs `limit` turns."""
        slot, now = uuid.uuid4().hex, time.time()
        if self._redis is not None:
            try:
                return self._acquire_shared(tenant, limit, slot, now)
            except Exception as error:  # noqa: BLE001 - Redis away: serve unlimited rather than not at all
                log.warning("turn slots unavailable (%s); not limiting", type(error).__name__)
                return slot
        with self._lock:
            held = {s: t for s, t in self._local.get(tenant, {}).items() if t > now}
            if len(held) >= limit:
                self._local[tenant] = held
                return None
            held[slot] = now + self.ttl_s
            self._local[tenant] = held
        return slot

    def _acquire_shared(self, tenant: str, limit: int, slot: str, now: float) -> str | None:
        key = f"{self.prefix}:turns:{tenant}"
        pipe = self._redis.pipeline()
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {slot: now + self.ttl_s})
        pipe.zcard(key)
        pipe.expire(key, int(self.ttl_s) + 1)
        _, _, count, _ = pipe.execute()
        if count > limit:
            self._redis.zrem(key, slot)
            return None
        return slot

    def release(self, tenant: str, slot: str) -> None:
        if self._redis is None:
            with self._lock:
                self._local.get(tenant, {}).pop(slot, None)
            return
        try:
            self._redis.zrem(f"{self.prefix}:turns:{tenant}", slot)
        except Exception as error:  # noqa: BLE001 - the slot runs out by itself (its score is its expiry)
            log.warning("turn slot not released (%s); it expires by itself", type(error).__name__)


class Limits:
    """Built once per app (`app.state.limits`): `admit` runs on every authenticated request (from
    api.deps.get_principal), `turn_slot` around each request that runs the model."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        prefix = settings.rate_limit_key_prefix
        if settings.redis_url:
            storage = storage_from_string(
                settings.redis_url, key_prefix=prefix, socket_timeout=2, socket_connect_timeout=2
            )
        else:
            storage = storage_from_string("memory://")
        self._limiter = MovingWindowRateLimiter(storage)
        # A turn holds its slot at most this long (then the slot runs out even if its process died).
        self.slots = TurnSlots(settings.redis_url, prefix=prefix, ttl_s=settings.turn_deadline_s + 60)
        self._overrides: dict[str, tuple[float, TenantSettings]] = {}

    def tenant_settings(self, runtime: Any, tenant: str) -> TenantSettings:
        cached = self._overrides.get(tenant)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        values = runtime.tenants.get(tenant)
        self._overrides[tenant] = (time.monotonic() + _OVERRIDES_TTL_S, values)
        return values

    def admit(self, runtime: Any, principal: Principal) -> None:
        """Counts the request against its key's and its tenant's minute."""
        values = self.tenant_settings(runtime, principal.tenant)
        self.check_request(tenant=principal.tenant, key_id=principal.key_id, values=values)

    def check_request(self, *, tenant: str, key_id: str, values: TenantSettings) -> None:
        per_tenant = ceiling(values.rate_limit_per_minute, self.settings.tenant_rate_limit_per_minute)
        self._hit(
            "requests",
            ((self.settings.rate_limit_per_minute, "key", key_id), (per_tenant, "tenant", tenant)),
        )

    def check_delivery(self, integration_id: str, sender: str | None = None) -> None:
        """A helpdesk's or Slack's signed delivery: counted per integration, and per sender (a Slack user)
        when known, so one integration (or one user flooding a bot) cannot take the service's time."""
        self._hit(
            "deliveries",
            (
                (self.settings.integration_rate_limit_per_minute, "integration", integration_id),
                (
                    self.settings.sender_rate_limit_per_minute if sender else 0,
                    "sender",
                    f"{integration_id}:{sender}",
                ),
            ),
        )

    def _hit(self, noun: str, windows: tuple[tuple[int | None, str, str], ...]) -> None:
        """Counts one hit in each (limit a minute, scope, identity) window; 0 or None: no limit."""
        for limit, scope, ident in windows:
            if not limit:
                continue
            item = RateLimitItemPerMinute(limit)
            try:
                allowed = self._limiter.hit(item, scope, ident)
            except Exception as error:  # noqa: BLE001 - Redis away: serve unlimited rather than not at all
                log.warning("rate-limit counters unavailable (%s); not limiting", type(error).__name__)
                return
            if not allowed:
                reset = self._limiter.get_window_stats(item, scope, ident).reset_time
                raise RateLimited(
                    f"rate limit reached: {limit} {noun} a minute per {scope}",
                    retry_after_s=reset - time.time(),
                    limit=limit,
                    scope=scope,
                )

    @staticmethod
    def check_quota(engine: Engine, tenant: str, values: TenantSettings) -> Spent:
        spent = spent_today(engine, tenant, values)
        reason = spent.exhausted
        if reason is not None:
            raise RateLimited(
                f"{reason} for today (UTC); it renews at {spent.resets_at.isoformat()}",
                retry_after_s=(spent.resets_at - datetime.now(UTC)).total_seconds(),
                scope="daily_quota",
            )
        return spent

    @contextmanager
    def turn(self, runtime: Any, tenant: str) -> Iterator[None]:
        """The daily quota, then one of the tenant's concurrent-turn slots for the duration (429 if none)."""
        values = self.tenant_settings(runtime, tenant)
        self.check_quota(runtime.engine, tenant, values)
        allowed = self.concurrent_turns(values)
        slot = self.slots.acquire(tenant, allowed) if allowed else None
        if allowed and slot is None:
            raise RateLimited(
                f"this tenant already runs {allowed} turns at once; retry when one finishes",
                retry_after_s=1,
                limit=allowed,
                scope="concurrent_turns",
            )
        try:
            yield
        finally:
            if slot is not None:
                self.slots.release(tenant, slot)

    def concurrent_turns(self, values: TenantSettings) -> int:
        return ceiling(values.concurrent_turns, self.settings.tenant_concurrent_turns)

    def above_ceiling(self, values: dict[str, Any]) -> list[dict[str, str]]:
        """The problems of a tenant's new values that would raise a service-wide limit (for PUT's 422)."""
        problems = []
        for field, setting in (
            ("rate_limit_per_minute", "tenant_rate_limit_per_minute"),
            ("concurrent_turns", "tenant_concurrent_turns"),
        ):
            value, top = values.get(field), getattr(self.settings, setting)
            if value is not None and top and value > top:
                problems.append(
                    {
                        "field": field,
                        "problem": f"at most the service-wide DESKPILOT_{setting.upper()} ({top}); "
                        "a tenant's value can only lower it",
                    }
                )
        return problems


def ceiling(own: int | None, service_wide: int) -> int:
    """A tenant's own limit under the service-wide one (0: that one is off, so the tenant's own applies)."""
    if own is None:
        return service_wide
    return min(own, service_wide) if service_wide else own


def get_limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


LimitsDep = Annotated[Limits, Depends(get_limits)]


def turn_slot(principal: PrincipalDep, runtime: RuntimeDep, limits: LimitsDep) -> Iterator[None]:
    """Around a request that runs the model (a message, a draft, a retry, a triage or a batch of them, an
    OpenAI-compatible completion, an approval that resumes its turn): the tenant's daily quota and its
    concurrent-turn limit. The slot is held until the response (a stream too) has been sent."""
    with limits.turn(runtime, principal.tenant):
        yield


TurnSlot = Depends(turn_slot)
