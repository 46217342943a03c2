"""The caller's tenant settings: refund policy, approval expiry, brand and tone (admin)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError

from api.deps import AdminKey, RuntimeDep
from api.errors import InvalidInput
from api.limits import LimitsDep
from api.tenants import TenantSettings, TenantSettingsPatch

router = APIRouter(prefix="/v1/tenant", tags=["tenant"])


@router.get("/settings", response_model=TenantSettings)
def get_settings(runtime: RuntimeDep, principal: AdminKey) -> TenantSettings:
    return runtime.tenants.get(principal.tenant)


@router.put("/settings", response_model=TenantSettings)
def put_settings(
    body: TenantSettingsPatch, runtime: RuntimeDep, principal: AdminKey, limits: LimitsDep
) -> TenantSettings:
    """Any subset of the fields; the tools and the prompt use the new values from the next turn on. A
    field sent as null goes back to its default. `rate_limit_per_minute` and `concurrent_turns` can only
    lower the service-wide limits (422 above them)."""
    if problems := limits.above_ceiling(body.model_dump(exclude_unset=True)):
        raise InvalidInput("; ".join(f"{p['field']}: {p['problem']}" for p in problems), problems=problems)
    try:
        return runtime.tenants.update(principal.tenant, body, actor=principal.key_id)
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in error.errors()
        ]
        raise InvalidInput(
            "; ".join(f"{p['field']}: {p['problem']}" for p in problems), problems=problems
        ) from None
