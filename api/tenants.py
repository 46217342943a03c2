"""Per-tenant settings: a shop's refund policy and voice, stored per tenant and read at every turn.

The tools' policy and the prompt's policy summary are both derived from these values, so a number is
written once. The summary goes after the cached static prefix: tenants differ, the prefix does not.
"""

from __future__ import annotations

import time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Engine
from sqlmodel import Session

from agent.prompts import ReplyTone, shop_policy_summary
from api.audit import AuditLog
from api.models import TenantSettingsRow, utcnow
from tools.policy import DEFAULT_POLICY, TenantPolicy

StaffName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class TenantSettings(BaseModel):
    """What an admin may change; the defaults are the demo shop's written policy."""

    model_config = ConfigDict(extra="forbid")

    refund_window_days: int = Field(default=DEFAULT_POLICY.refund_window_days, ge=0, le=365)
    max_refund_amount: float = Field(
        default=DEFAULT_POLICY.refund_limit_cents / 100,
        ge=0,
        le=1_000_000,
        description="The largest single refund staff can approve without a supervisor, in the shop currency.",
    )
    max_refunds_per_day: int = Field(default=DEFAULT_POLICY.max_refunds_per_day, ge=0, le=100_000)
    approval_expiry_hours: float = Field(default=72, gt=0, le=24 * 90)
    brand_name: str = Field(default="Northbeam Supply", min_length=1, max_length=80)
    reply_tone: ReplyTone = "friendly"
    # Never redacted (agent.pii), but only where a detected name is one of these whole: customers thank staff
    # by name, and a customer who shares a staff member's first name is still redacted.
    staff_names: list[StaffName] = Field(default_factory=list, max_length=200)
    # Limits (api/limits.py); unset: the service-wide settings. The service-wide request and concurrency
    # settings are a ceiling: a tenant's value can lower them, never raise them (PUT refuses it with 422).
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    concurrent_turns: int | None = Field(default=None, ge=1, le=10_000)
    daily_token_quota: int | None = Field(default=None, ge=1, description="Input + output tokens a UTC day.")
    daily_cost_quota_usd: float | None = Field(default=None, gt=0, description="Model cost per UTC day.")

    def summary(self) -> str:
        return shop_policy_summary(
            brand_name=self.brand_name,
            reply_tone=self.reply_tone,
            policy=self.policy(),
            approval_expiry_hours=self.approval_expiry_hours,
        )

    def policy(self) -> TenantPolicy:
        return TenantPolicy(
            refund_window_days=self.refund_window_days,
            refund_limit_cents=round(self.max_refund_amount * 100),
            max_refunds_per_day=self.max_refunds_per_day,
        )


class TenantSettingsPatch(BaseModel):
    """PUT takes any subset of the fields; each is validated as in TenantSettings. A field sent as null
    goes back to its default (for a limit: the service-wide setting)."""

    model_config = ConfigDict(extra="forbid")

    refund_window_days: int | None = None
    max_refund_amount: float | None = None
    max_refunds_per_day: int | None = None
    approval_expiry_hours: float | None = None
    brand_name: str | None = None
    reply_tone: ReplyTone | None = None
    staff_names: list[str] | None = None
    rate_limit_per_minute: int | None = None
    concurrent_turns: int | None = None
    daily_token_quota: int | None = None
    daily_cost_quota_usd: float | None = None


class TenantSettingsService:
    """Read at every turn, so kept for `ttl_s` per process: a change made through another process applies
    within that time, one made through this process at once."""

    def __init__(self, *, engine: Engine, audit: AuditLog, ttl_s: float = 5.0) -> None:
        self.engine = engine
        self.audit = audit
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, TenantSettings]] = {}

    def get(self, tenant: str) -> TenantSettings:
        cached = self._cache.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        with Session(self.engine) as session:
            row = session.get(TenantSettingsRow, tenant)
            stored = dict(row.values) if row else {}
        settings = TenantSettings.model_validate(stored)
        self._cache[tenant] = (time.monotonic(), settings)
        return settings

    def update(self, tenant: str, patch: TenantSettingsPatch, *, actor: str | None) -> TenantSettings:
        """Validates the merged result (pydantic's ValidationError names the field), stores and audits it."""
        changes = patch.model_dump(exclude_unset=True)
        # A field sent as an explicit null goes back to its default (model_fields_set tells null from absent).
        cleared = {name for name in patch.model_fields_set if changes.get(name) is None}
        kept = self.get(tenant).model_dump(exclude=cleared)
        merged = TenantSettings.model_validate(
            {**kept, **{k: v for k, v in changes.items() if k not in cleared}}
        )
        with self.audit.lock, Session(self.engine) as session:
            row = session.get(TenantSettingsRow, tenant) or TenantSettingsRow(tenant=tenant)
            row.values = merged.model_dump()
            row.updated_at, row.updated_by = utcnow(), actor
            session.add(row)
            self.audit.append(
                session,
                tenant=tenant,
                type="tenant.settings_changed",
                actor=actor,
                payload={"changed": changes},
            )
            session.commit()
        self._cache.pop(tenant, None)
        return merged
