"""Inbound deliveries (helpdesk webhooks, Slack events): each one recorded once, with the job it started.

The UNIQUE (integration_id, delivery_key) constraint is what makes a replayed webhook or a Slack retry
a no-op: the delivery row, and the job that does its work, are inserted in one transaction, so either
both exist or neither does, and a second insert of the same key fails instead of doing the work twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from api.models import new_id, utcnow


class Delivery(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("integration_id", "delivery_key", name="uq_delivery_key"),)

    id: str = Field(default_factory=lambda: new_id("dlv"), primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    integration_id: str = Field(index=True, max_length=64)
    provider: str = Field(max_length=32)
    delivery_key: str = Field(max_length=200)  # the provider's delivery id, or a hash of timestamp + body
    external_id: str | None = Field(default=None, max_length=200)  # the ticket or thread it concerns
    conversation_id: str | None = Field(default=None, index=True, max_length=64)
    job_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default="accepted", max_length=16)  # accepted | done | dropped | failed
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # no PII
    received_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None


def find_delivery(session: Session, *, integration_id: str, delivery_key: str) -> Delivery | None:
    return session.exec(
        select(Delivery).where(
            Delivery.integration_id == integration_id, Delivery.delivery_key == delivery_key
        )
    ).first()


def add_delivery(session: Session, delivery: Delivery) -> bool:
    """Adds the delivery in the caller's transaction; False when that key was already delivered (the
    caller then rolls back and answers "duplicate"). Uses a savepoint so the caller's session survives."""
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError:
        return False
    return True
