"""The ticket REST API for any system (scope `integration`): a suggested reply with triage for a whole
ticket, and notes or suggested actions that another engine attaches to a ticket's conversation."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from agent.triage import Triage
from api.deps import IntegrationKey, RuntimeDep
from api.errors import NotFoundError, PayloadTooLarge
from api.models import Conversation
from api.runtime import Runtime
from api.schemas import CitationOut, ToolCallOut

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
CHANNEL = "tickets"
MAX_TICKET_CHARS = 20_000


class Requester(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author: Literal["customer", "staff"]
    text: str = Field(min_length=1, max_length=MAX_TICKET_CHARS)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:#-]{1,100}$",
        description="Your ticket id: the same id continues the same conversation.",
    )
    subject: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=MAX_TICKET_CHARS)
    requester: Requester = Field(default_factory=Requester)
    history: list[HistoryEntry] = Field(default_factory=list, max_length=200)


class SuggestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket: TicketIn
    customer_id: str | None = Field(default=None, min_length=1, max_length=64)


class PendingApprovalOut(BaseModel):
    id: str
    tool: str
    status: str


class SuggestOut(BaseModel):
    conversation_id: str
    draft: str
    citations: list[CitationOut]
    triage: Triage
    tool_calls: list[ToolCallOut]
    pending_approvals: list[PendingApprovalOut]
    model: str
    degraded: bool
    usage: dict[str, Any]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TICKET_CHARS)
    kind: Literal["note", "suggested_action"] = "note"
    author: str | None = Field(
        default=None, max_length=64, description="The engine or person, for the record."
    )


class NoteOut(BaseModel):
    conversation_id: str
    message_id: int
    kind: str


@router.post("/suggest", response_model=SuggestOut)
async def suggest(body: SuggestIn, runtime: RuntimeDep, principal: IntegrationKey) -> SuggestOut:
    """A draft reply (nothing is sent; money-moving tools wait for approval), its citations and a triage.
    The whole ticket (subject, body, the customer's messages in `history`) is one customer message, so
    retrieval searches all of it; staff entries in `history` go in as staff replies."""
    ticket, tenant, actor = body.ticket, principal.tenant, principal.key_id
    customer_text = "\n\n".join(
        [*([f"Subject: {ticket.subject}"] if ticket.subject else []), ticket.body]
        + [entry.text for entry in ticket.history if entry.author == "customer"]
    )
    if len(customer_text) > MAX_TICKET_CHARS:
        raise PayloadTooLarge(
            f"the ticket is {len(customer_text)} characters; the limit is {MAX_TICKET_CHARS}"
        )
    customer_id = body.customer_id or await _customer_by_email(runtime, tenant, ticket.requester.email)
    conversation = await run_in_threadpool(_conversation, runtime, tenant, ticket.id, customer_id, actor)
    for entry in ticket.history:
        if entry.author == "staff":
            await runtime.conversations.add_staff_message(
                tenant=tenant,
                conversation_id=conversation.id,
                text=entry.text,
                kind="staff",
                author=actor,
                channel=CHANNEL,
            )
    result = await runtime.conversations.send(
        tenant=tenant,
        conversation_id=conversation.id,
        text=customer_text,
        customer_id=customer_id,
        actor=actor,
        channel=CHANNEL,
        as_draft=True,
    )
    triaged = await runtime.triage.classify(customer_text, tenant=tenant, actor=actor)
    approvals = (
        [runtime.approvals.get(tenant=tenant, approval_id=result.pending_approval)]
        if result.pending_approval
        else []
    )
    return SuggestOut(
        conversation_id=conversation.id,
        draft=result.reply,
        citations=[CitationOut(**c) for c in result.citations],
        triage=triaged.triage,
        tool_calls=[ToolCallOut(**_restored(runtime, tenant, conversation.id, c)) for c in result.tool_calls],
        pending_approvals=[PendingApprovalOut(id=a.id, tool=a.tool, status=a.status) for a in approvals],
        model=result.model,
        degraded=result.degraded or triaged.degraded,
        usage=result.usage,
    )


@router.post("/{ticket_id}/notes", status_code=201, response_model=NoteOut)
async def add_note(ticket_id: str, body: NoteIn, runtime: RuntimeDep, principal: IntegrationKey) -> NoteOut:
    """`ticket_id`: your ticket id (as sent to /suggest) or a Deskpilot conversation id. The note is part of
    the copilot's context from the next turn, marked as staff's, never taken for the customer's words."""
    tenant = principal.tenant
    conversation = runtime.conversations.find(tenant=tenant, channel=CHANNEL, external_id=ticket_id)
    if conversation is None:
        try:
            conversation = runtime.conversations.get(tenant=tenant, conversation_id=ticket_id)
        except NotFoundError:
            raise NotFoundError(f"ticket {ticket_id} not found") from None
    text = body.text if body.kind == "note" else f"Suggested action: {body.text}"
    message = await runtime.conversations.add_staff_message(
        tenant=tenant,
        conversation_id=conversation.id,
        text=text,
        kind="note",
        author=body.author or principal.key_id,
        channel=CHANNEL,
    )
    assert message.id is not None
    return NoteOut(conversation_id=conversation.id, message_id=message.id, kind=body.kind)


async def _customer_by_email(runtime: Runtime, tenant: str, email: str | None) -> str | None:
    if not email:
        return None
    customer = await run_in_threadpool(runtime.backend.find_customer_by_email, tenant, email)
    return customer.customer_id if customer else None


def _conversation(
    runtime: Runtime, tenant: str, ticket_id: str | None, customer_id: str | None, actor: str
) -> Conversation:
    if ticket_id is None:
        return runtime.conversations.create(
            tenant=tenant, customer_id=customer_id, channel=CHANNEL, actor=actor
        )
    conversation, _ = runtime.conversations.open(
        tenant=tenant, channel=CHANNEL, external_id=ticket_id, customer_id=customer_id, actor=actor
    )
    return conversation


def _restored(runtime: Runtime, tenant: str, conversation_id: str, call: dict[str, Any]) -> dict[str, Any]:
    if runtime.redactor is None:
        return call
    scope = {"tenant": tenant, "conversation_id": conversation_id}
    return {
        **call,
        "args": runtime.redactor.restore_value(call["args"], **scope),
        "result": runtime.redactor.restore_value(call["result"], **scope),
    }
