"""What channels report back for the outcome figures: a customer's CSAT score, and drafts staff used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from api.audit import AuditLog
from api.errors import ConflictError, NotFoundError
from api.models import AuditEvent, Conversation, Message, utcnow


class CsatResponse(SQLModel, table=True):
    """The latest score a customer gave one conversation; a second answer replaces the first."""

    __tablename__ = "csat_responses"
    __table_args__ = (UniqueConstraint("conversation_id", name="uq_csat_conversation"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=64)
    score: int  # 1 (very unsatisfied) .. 5 (very satisfied)
    channel: str = Field(default="api", max_length=32)
    actor: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, index=True)


def record_csat(
    engine: Engine,
    audit: AuditLog,
    *,
    tenant: str,
    conversation_id: str,
    score: int,
    channel: str,
    actor: str | None,
) -> tuple[CsatResponse, bool]:
    """Stores the score (replacing an earlier one) with its `csat.recorded` event; (row, first answer)."""
    with audit.lock, Session(engine, expire_on_commit=False) as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.tenant != tenant:
            raise NotFoundError(f"conversation {conversation_id} not found")
        row = session.exec(
            select(CsatResponse).where(CsatResponse.conversation_id == conversation_id)
        ).first()
        first = row is None
        if row is None:
            row = CsatResponse(tenant=tenant, conversation_id=conversation_id, score=score)
        row.score, row.channel, row.actor, row.created_at = score, channel, actor, utcnow()
        session.add(row)
        audit.append(
            session,
            tenant=tenant,
            type="csat.recorded",
            actor=actor,
            conversation_id=conversation_id,
            payload={"score": score, "channel": channel, "replaced": not first},
        )
        session.commit()
    return row, first


def record_draft_used(
    engine: Engine,
    audit: AuditLog,
    *,
    tenant: str,
    conversation_id: str,
    message_id: int,
    edited: bool,
    channel: str,
    actor: str | None,
) -> bool:
    """Records that staff sent (or started from) a suggested draft, once per draft: `draft.used`.

    Returns False when the draft was already reported (a channel that retries counts once).
    """
    with audit.lock, Session(engine, expire_on_commit=False) as session:
        message = session.get(Message, message_id)
        if message is None or message.tenant != tenant or message.conversation_id != conversation_id:
            raise NotFoundError(f"no message {message_id} in conversation {conversation_id}")
        if message.role != "assistant" or not (message.meta or {}).get("draft"):
            raise ConflictError(f"message {message_id} is not a suggested draft")
        reported = session.exec(
            select(AuditEvent.payload).where(
                AuditEvent.tenant == tenant,
                AuditEvent.conversation_id == conversation_id,
                col(AuditEvent.type) == "draft.used",
            )
        ).all()
        if any(payload.get("message_id") == message_id for payload in reported):
            return False
        audit.append(
            session,
            tenant=tenant,
            type="draft.used",
            actor=actor,
            conversation_id=conversation_id,
            payload={
                "message_id": message_id,
                "turn_id": message.turn_id,
                "edited": edited,
                "channel": channel,
            },
        )
        session.commit()
    return True
