"""CSAT: a customer's 1-5 score for a conversation, as a channel reports it (one per conversation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select

from api.audit import AuditLog
from api.errors import NotFoundError
from api.models import Conversation, utcnow


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
        row = session.exec(select(CsatResponse).where(CsatResponse.conversation_id == conversation_id)).first()
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
