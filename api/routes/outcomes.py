"""Outcome figures for a support lead (admin), and what channels report back: CSAT and drafts used."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import AdminKey, AgentKey, RuntimeDep
from api.outcomes import GroupBy, compute, window
from api.signals import record_csat, record_draft_used

router = APIRouter(tags=["outcomes"])


@router.get("/v1/outcomes")
async def outcomes(
    runtime: RuntimeDep,
    principal: AdminKey,
    start: str | None = Query(None, alias="from", description="ISO date or date-time; no zone means UTC."),
    end: str | None = Query(None, alias="to", description="Exclusive; a bare date includes that day."),
    group_by: GroupBy | None = None,
) -> dict[str, Any]:
    """Conversations, turns, deflection, handoffs, approvals, drafts, feedback, CSAT and cost (default:
    the last 30 days)."""
    since, until = window(start, end)
    return await run_in_threadpool(
        compute, runtime.engine, tenant=principal.tenant, start=since, end=until, group_by=group_by
    )


class CsatCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(min_length=1, max_length=64)
    score: int = Field(ge=1, le=5, description="1 very unsatisfied .. 5 very satisfied.")
    channel: str = Field(default="api", pattern=r"^[a-z_]{1,32}$")


class CsatOut(BaseModel):
    conversation_id: str
    score: int
    replaced: bool


@router.post("/v1/csat", status_code=201, response_model=CsatOut)
async def csat(body: CsatCreate, runtime: RuntimeDep, principal: AgentKey) -> CsatOut:
    """A customer's satisfaction score for a conversation; a later score replaces an earlier one."""
    row, first = await run_in_threadpool(
        lambda: record_csat(
            runtime.engine,
            runtime.audit,
            tenant=principal.tenant,
            conversation_id=body.conversation_id,
            score=body.score,
            channel=body.channel,
            actor=principal.key_id,
        )
    )
    return CsatOut(conversation_id=row.conversation_id, score=row.score, replaced=not first)


class DraftUsed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edited: bool = Field(default=False, description="Staff changed the draft before sending it.")
    channel: str = Field(default="api", pattern=r"^[a-z_]{1,32}$")


class DraftUsedOut(BaseModel):
    conversation_id: str
    message_id: int
    recorded: bool  # False: this draft was reported before (counted once)


@router.post("/v1/conversations/{conversation_id}/drafts/{message_id}/used", response_model=DraftUsedOut)
async def draft_used(
    conversation_id: str,
    message_id: Annotated[int, Path(ge=1, le=2**31 - 1)],  # ids are 32-bit on PostgreSQL: larger is a 422
    runtime: RuntimeDep,
    principal: AgentKey,
    body: DraftUsed | None = None,
) -> DraftUsedOut:
    """A channel (the sidebar, a helpdesk note) reports that staff used a suggested draft."""
    report = body or DraftUsed()
    recorded = await run_in_threadpool(
        lambda: record_draft_used(
            runtime.engine,
            runtime.audit,
            tenant=principal.tenant,
            conversation_id=conversation_id,
            message_id=message_id,
            edited=report.edited,
            channel=report.channel,
            actor=principal.key_id,
        )
    )
    return DraftUsedOut(conversation_id=conversation_id, message_id=message_id, recorded=recorded)
