"""Staff approval of refunds and other sensitive actions (keys with the `approve` scope)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.auth import Principal
from api.deps import RuntimeDep, require_scope
from api.models import Approval
from api.routes.conversations import turn_out
from api.runtime import Runtime
from api.schemas import ApprovalDecided, ApprovalDecision, ApprovalOut

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])
Approver = Annotated[Principal, Depends(require_scope("approve"))]


@router.get("", response_model=list[ApprovalOut])
def list_approvals(
    runtime: RuntimeDep,
    principal: Approver,
    status: Literal["pending", "approved", "rejected", "executed", "failed"] | None = "pending",
    conversation_id: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[ApprovalOut]:
    rows = runtime.approvals.list(
        tenant=principal.tenant, status=status, limit=limit, conversation_id=conversation_id
    )
    return [approval_out(runtime, row) for row in rows]


@router.get("/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: str, runtime: RuntimeDep, principal: Approver) -> ApprovalOut:
    return approval_out(runtime, runtime.approvals.get(tenant=principal.tenant, approval_id=approval_id))


@router.post("/{approval_id}", response_model=ApprovalDecided)
async def decide(
    approval_id: str, body: ApprovalDecision, runtime: RuntimeDep, principal: Approver
) -> ApprovalDecided:
    """Approve runs the action once and tells the customer; reject tells them why. Repeats are harmless."""
    approval, _ = runtime.approvals.decide(
        tenant=principal.tenant,
        approval_id=approval_id,
        decision=body.decision,
        note=body.note,
        actor=principal.key_id,
    )
    runtime.conversations.metrics.approvals.labels(body.decision).inc()
    result = await runtime.conversations.resume_after_decision(
        tenant=principal.tenant, approval=approval, actor=principal.key_id
    )
    approval = runtime.approvals.get(tenant=principal.tenant, approval_id=approval_id)
    return ApprovalDecided(
        approval=approval_out(runtime, approval),
        reply=turn_out(result, runtime, principal, redacted=False) if result else None,
    )


def approval_out(runtime: Runtime, approval: Approval) -> ApprovalOut:
    """Staff see the real values behind the placeholders stored in the record."""
    out = ApprovalOut.model_validate(approval, from_attributes=True)
    return out.model_copy(
        update={
            "args": runtime.approvals.restored(approval, approval.args),
            "result": runtime.approvals.restored(approval, approval.result) if approval.result else None,
            "decision_note": runtime.approvals.restored(approval, approval.decision_note),
        }
    )
