"""Token usage and cost per tenant, conversation or day, and today's quota figures (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import String, cast, func
from sqlmodel import Session, select

from api.deps import AdminKey, RuntimeDep
from api.limits import spent_today
from api.models import UsageRecord

router = APIRouter(prefix="/v1/usage", tags=["usage"])


@router.get("")
def usage(
    runtime: RuntimeDep,
    principal: AdminKey,
    group_by: Literal["tenant", "conversation", "day"] = "tenant",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """`since`/`until` without a timezone (a plain date too) are read as UTC."""
    since, until = _utc(since), _utc(until)
    key: Any = {
        "tenant": UsageRecord.tenant,
        "conversation": UsageRecord.conversation_id,
        "day": func.substr(cast(UsageRecord.created_at, String), 1, 10),
    }[group_by]
    query = (
        select(  # type: ignore[call-overload]
            key.label("key"),
            func.count().label("model_calls"),
            func.sum(UsageRecord.input_tokens).label("input_tokens"),
            func.sum(UsageRecord.cached_tokens).label("cached_tokens"),
            func.sum(UsageRecord.output_tokens).label("output_tokens"),
            func.sum(UsageRecord.cost_usd).label("cost_usd"),
        )
        .where(UsageRecord.tenant == principal.tenant)
        .group_by(key)
        .order_by(key)
        .limit(limit)
    )
    if since:
        query = query.where(UsageRecord.created_at >= since)
    if until:
        query = query.where(UsageRecord.created_at < until)
    with Session(runtime.engine) as session:
        rows = session.exec(query).all()
    groups = [
        {
            group_by: row.key,
            "model_calls": row.model_calls,
            "input_tokens": row.input_tokens or 0,
            "cached_tokens": row.cached_tokens or 0,
            "output_tokens": row.output_tokens or 0,
            "cost_usd": round(row.cost_usd or 0.0, 6),
            "cached_share": round((row.cached_tokens or 0) / row.input_tokens, 4)
            if row.input_tokens
            else 0.0,
        }
        for row in rows
    ]
    today = spent_today(runtime.engine, principal.tenant, runtime.tenants.get(principal.tenant))
    return {"group_by": group_by, "groups": groups, "today": today.public()}


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
