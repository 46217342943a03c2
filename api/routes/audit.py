"""Audit log: list a tenant's events (admin) and verify the chain."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import AdminKey, RuntimeDep
from api.schemas import AuditEventOut

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditEventOut])
def list_events(
    runtime: RuntimeDep,
    principal: AdminKey,
    conversation_id: str | None = None,
    type: str | None = Query(None, max_length=64),
    limit: int = Query(100, ge=1, le=1000),
    before_seq: int | None = Query(None, ge=1, le=2**31 - 1),  # seq is a 32-bit column on PostgreSQL
) -> list[AuditEventOut]:
    events = runtime.audit.list(
        tenant=principal.tenant,
        conversation_id=conversation_id,
        type=type,
        limit=limit,
        before_seq=before_seq,
    )
    return [AuditEventOut.model_validate(e, from_attributes=True) for e in events]


@router.get("/verify")
def verify(runtime: RuntimeDep, principal: AdminKey) -> dict[str, object]:
    result = runtime.audit.verify(principal.tenant)
    return {"ok": result.ok, "checked": result.checked, "seq": result.seq, "reason": result.reason}
