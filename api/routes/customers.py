"""Customers and their orders, for the support-agent sidebar and ticketing integrations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.deps import AgentKey, RuntimeDep
from api.errors import NotFoundError

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get("")
async def list_customers(
    runtime: RuntimeDep,
    principal: AgentKey,
    q: str | None = Query(None, min_length=1, max_length=200, description="Name, e-mail or customer id."),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10**9),
) -> dict[str, Any]:
    page = await run_in_threadpool(
        runtime.backend.list_customers, principal.tenant, query=q, limit=limit, offset=offset
    )
    return page.model_dump(mode="json")


@router.get("/{customer_id}")
async def get_customer(
    customer_id: str, runtime: RuntimeDep, principal: AgentKey, order_limit: int = Query(50, ge=1, le=500)
) -> dict[str, Any]:
    profile = await run_in_threadpool(
        runtime.backend.customer_profile, principal.tenant, customer_id, order_limit=order_limit
    )
    if profile is None:
        raise NotFoundError(f"customer {customer_id} not found")
    return profile.model_dump(mode="json")
