"""Thumbs up or down on a reply or a draft, from any channel; stored with the turn and audited."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AgentKey, RuntimeDep
from api.schemas import FeedbackCreate, FeedbackOut

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])


@router.post("", status_code=201, response_model=FeedbackOut)
async def record_feedback(body: FeedbackCreate, runtime: RuntimeDep, principal: AgentKey) -> FeedbackOut:
    feedback = await runtime.conversations.record_feedback(
        tenant=principal.tenant,
        conversation_id=body.conversation_id,
        message_id=body.message_id,
        rating=body.rating,
        reason=body.reason,
        actor=principal.key_id,
        channel=body.channel,
    )
    return FeedbackOut.model_validate(feedback, from_attributes=True)
