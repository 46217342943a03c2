"""Staff approval of refunds and other sensitive actions (keys with the `approve` scope)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from api.deps import ApproverKey, RuntimeDep
from api.limits import TurnSlot
from api.models import Approval
from api.routes.conversations import turn_out
from api.runtime import Runtime
from api.schemas import ApprovalDecided, ApprovalDecision, ApprovalOut

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])


@router.get("", response_model=list[ApprovalOut])
def list_approvals(
    runtime: RuntimeDep,
    principal: ApproverKey,
    status: Literal["pending", "approved", "rejected", "expired", "executed", "failed"] | None = "pending",
    conversation_id: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[ApprovalOut]:
    rows = runtime.approvals.list(
        tenant=principal.tenant, status=status, limit=limit, conversation_id=conversation_id
    )
    return [approval_out(runtime, row) for row in rows]


@router.get("/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: str, runtime: RuntimeDep, principal: ApproverKey) -> ApprovalOut:
    return approval_out(runtime, runtime.approvals.get(tenant=principal.tenant, approval_id=approval_id))


@router.post("/{approval_id}", response_model=ApprovalDecided, dependencies=[TurnSlot])
async def decide(
    approval_id: str, body: ApprovalDecision, runtime: RuntimeDep, principal: ApproverKey
) -> ApprovalDecided:
    """Approve runs the action once and tells the customer; reject tells them why. Repeats are harmless.
    The decision resumes the paused turn, so it takes a turn slot and the daily quota like any turn."""
    approval, reply, first = await runtime.approvals.decide_and_resume(
        tenant=principal.tenant,
        approval_id=approval_id,
        decision=body.decision,
        note=body.note,
        actor=principal.key_id,
    )
    if first:
        runtime.conversations.metrics.approvals.labels(body.decision).inc()
    return ApprovalDecided(
        approval=approval_out(runtime, approval),
        reply=turn_out(reply, runtime, principal, redacted=False) if reply else None,
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
