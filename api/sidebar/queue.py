"""The staff queue: a tenant's conversations, those waiting for a human first.

Order: conversations with a pending approval, then those handed to a human (`needs_human`), then the rest,
each group newest activity first. Previews are the stored (redacted) text, never restored values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, case, func
from sqlmodel import Session, col, select

from api.models import Approval, Conversation, Message

PREVIEW_CHARS = 140


class QueueItem(BaseModel):
    id: str
    customer_id: str | None
    status: str  # active | needs_human
    handoff_reason: str | None
    channel: str
    external_id: str | None
    pending_approvals: int
    last_message_id: int | None
    last_customer_message_id: int | None
    last_role: str | None
    preview: str | None  # redacted
    last_activity: datetime
    needs_human: bool


def list_queue(
    engine: Engine,
    *,
    tenant: str,
    needs_human: bool = False,
    channel: str | None = None,
    external_id: str | None = None,
    limit: int = 50,
) -> list[QueueItem]:
    last = (
        select(
            col(Message.conversation_id).label("conversation_id"),
            func.max(Message.id).label("last_id"),
            func.max(case((col(Message.role) == "customer", Message.id))).label("last_customer_id"),
        )
        .where(Message.tenant == tenant)
        .group_by(col(Message.conversation_id))
        .subquery()
    )
    pending = (
        select(col(Approval.conversation_id).label("conversation_id"), func.count().label("n"))
        .where(Approval.tenant == tenant, Approval.status == "pending")
        .group_by(col(Approval.conversation_id))
        .subquery()
    )
    waiting = func.coalesce(pending.c.n, 0)
    activity = func.coalesce(Message.created_at, Conversation.created_at)
    query: Any = (
        select(Conversation, Message, waiting, last.c.last_customer_id)
        .outerjoin(last, last.c.conversation_id == Conversation.id)
        .outerjoin(Message, col(Message.id) == last.c.last_id)
        .outerjoin(pending, pending.c.conversation_id == Conversation.id)
        .where(Conversation.tenant == tenant)
    )
    if needs_human:
        query = query.where((waiting > 0) | (col(Conversation.status) == "needs_human"))
    if channel is not None:
        query = query.where(Conversation.channel == channel)
    if external_id is not None:
        query = query.where(Conversation.external_id == external_id)
    query = query.order_by(
        case((waiting > 0, 0), else_=1),
        case((col(Conversation.status) == "needs_human", 0), else_=1),
        activity.desc(),
        col(Conversation.id),
    ).limit(limit)
    with Session(engine) as session:
        rows = session.exec(query).all()
    return [
        _item(conversation, message, count, last_customer)
        for conversation, message, count, last_customer in rows
    ]


def _item(
    conversation: Conversation, message: Message | None, pending: int, last_customer: int | None
) -> QueueItem:
    preview = message.content if message is not None else None
    if preview and len(preview) > PREVIEW_CHARS:
        preview = preview[: PREVIEW_CHARS - 1] + "…"
    return QueueItem(
        id=conversation.id,
        customer_id=conversation.customer_id,
        status=conversation.status,
        handoff_reason=conversation.handoff_reason,
        channel=conversation.channel,
        external_id=conversation.external_id,
        pending_approvals=pending,
        last_message_id=message.id if message is not None else None,
        last_customer_message_id=last_customer,
        last_role=message.role if message is not None else None,
        preview=preview,
        last_activity=message.created_at if message is not None else conversation.created_at,
        needs_human=pending > 0 or conversation.status == "needs_human",
    )
