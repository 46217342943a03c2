"""What the support-agent sidebar asks for beyond the core API: who the key is, the queue, an audited
PII reveal, writing aids (rewrite, summary), one cited passage and a customer's refunds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.deps import AgentKey, RuntimeDep, get_knowledge_base, require_scope
from api.errors import NotFoundError
from api.models import SCOPES
from api.routes.conversations import get_conversation
from api.schemas import ConversationOut
from api.sidebar import writing
from api.sidebar.passages import PassageOut, get_passage
from api.sidebar.queue import QueueItem, list_queue

router = APIRouter(tags=["sidebar"])

AnyKey = Annotated[Principal, Depends(require_scope(*SCOPES))]
RevealKey = Annotated[Principal, Depends(require_scope("approve", "admin"))]
KnowledgeDep = Annotated[Any, Depends(get_knowledge_base)]


class Me(BaseModel):
    tenant: str
    key_id: str
    scopes: list[str]
    can_reveal: bool  # approve or admin: may see one conversation's real values, audited


class RewriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    style: writing.Style


class WrittenOut(BaseModel):
    text: str
    model: str
    degraded: bool


@router.get("/v1/me", response_model=Me)
def who_am_i(principal: AnyKey) -> Me:
    scopes = [s for s in SCOPES if s in principal.scopes]
    return Me(
        tenant=principal.tenant,
        key_id=principal.key_id,
        scopes=scopes,
        can_reveal=principal.has("approve", "admin"),
    )


@router.get("/v1/conversations", response_model=list[QueueItem], tags=["conversations"])
def list_conversations(
    runtime: RuntimeDep,
    principal: AgentKey,
    needs_human: bool = Query(False, description="Only those with a pending approval or handed to a human."),
    channel: str | None = Query(None, pattern=r"^[a-z_]{1,32}$"),
    external_id: str | None = Query(None, min_length=1, max_length=200),
    limit: int = Query(50, ge=1, le=200),
) -> list[QueueItem]:
    """Pending approvals first, then handoffs, then the newest; previews keep their placeholders."""
    return list_queue(
        runtime.engine,
        tenant=principal.tenant,
        needs_human=needs_human,
        channel=channel,
        external_id=external_id,
        limit=limit,
    )


@router.post(
    "/v1/conversations/{conversation_id}/reveal", response_model=ConversationOut, tags=["conversations"]
)
def reveal(conversation_id: str, runtime: RuntimeDep, principal: RevealKey) -> ConversationOut:
    """The history with real values instead of placeholders, for `approve` or `admin` keys; audited."""
    out = get_conversation(conversation_id, runtime, principal, redacted=False)
    runtime.audit.record(
        tenant=principal.tenant,
        type="pii.revealed",
        actor=principal.key_id,
        conversation_id=conversation_id,
        payload={"messages": len(out.messages), "channel": "sidebar"},
    )
    return out


@router.post("/v1/conversations/{conversation_id}/rewrite", response_model=WrittenOut, tags=["conversations"])
async def rewrite_draft(
    conversation_id: str, body: RewriteIn, runtime: RuntimeDep, principal: AgentKey
) -> WrittenOut:
    """Shorter, friendlier or more formal; the text goes to the model redacted and comes back restored."""
    runtime.conversations.get(tenant=principal.tenant, conversation_id=conversation_id)
    redacted, _ = await runtime.conversations.redact(principal.tenant, conversation_id, body.text)
    written = await writing.rewrite(runtime.model, redacted, body.style, offline=runtime.settings.offline)
    await run_in_threadpool(
        runtime.conversations.record_usage, principal.tenant, conversation_id, written.usage
    )
    text = written.text
    if runtime.redactor is not None:
        text = runtime.redactor.restore(text, tenant=principal.tenant, conversation_id=conversation_id)
    return WrittenOut(text=text, model=written.model, degraded=written.degraded)


@router.post("/v1/conversations/{conversation_id}/summary", response_model=WrittenOut, tags=["conversations"])
async def summarise(conversation_id: str, runtime: RuntimeDep, principal: AgentKey) -> WrittenOut:
    """A handover note; it keeps the placeholders (it is internal)."""
    runtime.conversations.get(tenant=principal.tenant, conversation_id=conversation_id)
    messages = runtime.conversations.messages(
        tenant=principal.tenant, conversation_id=conversation_id, restore=False
    )
    pending = runtime.approvals.list(
        tenant=principal.tenant, status="pending", limit=20, conversation_id=conversation_id
    )
    labels = [f"{a.tool} {a.args.get('order_number', '')}".strip() for a in pending]
    written = await writing.summarise(runtime.model, messages, labels, offline=runtime.settings.offline)
    await run_in_threadpool(
        runtime.conversations.record_usage, principal.tenant, conversation_id, written.usage
    )
    return WrittenOut(text=written.text, model=written.model, degraded=written.degraded)


@router.get("/v1/knowledge/passages/{chunk_id}", response_model=PassageOut, tags=["knowledge"])
async def passage(chunk_id: str, principal: AnyKey, kb: KnowledgeDep) -> PassageOut:
    """The passage a citation points to, marked `internal` when its source is an internal document."""
    found = await run_in_threadpool(get_passage, kb, principal.tenant, chunk_id)
    if found is None:
        raise NotFoundError(f"passage {chunk_id} not found")
    return found


@router.get("/v1/customers/{customer_id}/refunds", tags=["customers"])
async def customer_refunds(
    customer_id: str, runtime: RuntimeDep, principal: AgentKey, order_limit: int = Query(20, ge=1, le=100)
) -> list[dict[str, Any]]:
    """Refunds across the customer's newest orders, newest first."""

    def read() -> list[dict[str, Any]]:
        profile = runtime.backend.customer_profile(principal.tenant, customer_id, order_limit=order_limit)
        if profile is None:
            raise NotFoundError(f"customer {customer_id} not found")
        refunds: list[dict[str, Any]] = []
        for summary in profile.orders:
            order = runtime.backend.get_order(principal.tenant, summary.order_number)
            refunds.extend(r.model_dump(mode="json") for r in (order.refunds if order else []))
        return sorted(refunds, key=lambda r: r["created_at"], reverse=True)

    return await run_in_threadpool(read)
