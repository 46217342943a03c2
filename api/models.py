"""Service tables: API keys, conversations, messages and the hash-chained audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from tools.base import utcnow


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


Scope = Literal["agent", "integration", "admin", "approve"]
SCOPES: tuple[str, ...] = ("agent", "integration", "admin", "approve")


# --- tables ------------------------------------------------------------------------------------------


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(default_factory=lambda: new_id("key"), primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    name: str = Field(default="", max_length=200)
    key_hash: str = Field(unique=True, index=True)  # sha256 of the secret; the secret is never stored
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # None: until revoked
    last_used_at: datetime | None = None  # written at most once a minute (api.auth.authenticate)


class Conversation(SQLModel, table=True):
    """One support conversation; `external_id` ties it to a Slack thread, a ticket or a request key."""

    __tablename__ = "conversations"
    # NULLs are distinct in a UNIQUE constraint (SQLite and PostgreSQL): plain API conversations never clash.
    __table_args__ = (UniqueConstraint("tenant", "channel", "external_id", name="uq_conversation_external"),)

    id: str = Field(default_factory=lambda: new_id("conv"), primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    customer_id: str | None = Field(default=None, index=True, max_length=64)
    channel: str = Field(default="api", max_length=32)
    external_id: str | None = Field(default=None, max_length=200)
    status: str = Field(default="active", max_length=32)  # active | needs_human
    handoff_reason: str | None = None
    created_by: str | None = None  # api key id
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


MessageRole = Literal["customer", "assistant", "staff", "note"]
MESSAGE_ROLES: tuple[str, ...] = get_args(MessageRole)


class Message(SQLModel, table=True):
    """One visible message of a conversation. `content` is always the redacted form.

    Roles: the customer, the assistant (a reply or a staff draft), a human staff member's reply, and an
    internal note that the customer never sees.
    """

    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(index=True, foreign_key="conversations.id")
    tenant: str = Field(index=True, max_length=64)
    role: str = Field(max_length=16)  # one of MESSAGE_ROLES
    author: str | None = Field(default=None, max_length=200)  # staff id or api key id; None for the customer
    turn_id: str | None = Field(default=None, index=True, max_length=64)
    content: str
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


TurnStatus = Literal["running", "done", "failed"]


class Turn(SQLModel, table=True):
    """One run of the agent. Stored as `running` before the model is called, so a dropped client or a
    killed process leaves a record that is either completed or marked failed and retried."""

    __tablename__ = "turns"

    id: str = Field(default_factory=lambda: new_id("turn"), primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    conversation_id: str = Field(index=True, foreign_key="conversations.id")
    kind: str = Field(default="reply", max_length=16)  # reply | draft | resume
    status: str = Field(default="running", index=True, max_length=16)  # one of TurnStatus
    channel: str = Field(default="api", max_length=32)
    actor: str | None = Field(default=None, max_length=200)
    input_message_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reply_message_id: int | None = None
    error: str | None = Field(default=None, max_length=200)  # an error type, never message text
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Feedback(SQLModel, table=True):
    """A thumbs up or down from staff or a customer on one assistant message."""

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    conversation_id: str = Field(index=True, foreign_key="conversations.id")
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    rating: str = Field(max_length=8)  # up | down
    reason: str | None = Field(default=None, max_length=500)  # redacted
    actor: str | None = Field(default=None, max_length=200)
    channel: str = Field(default="api", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class TenantSettingsRow(SQLModel, table=True):
    """A tenant's own policy and voice; missing values fall back to the defaults in api.tenants."""

    __tablename__ = "tenant_settings"

    tenant: str = Field(primary_key=True, max_length=64)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str | None = Field(default=None, max_length=200)


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained per tenant: hash = sha256(prev_hash + canonical event)."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("tenant", "seq", name="uq_audit_tenant_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    seq: int  # 1, 2, 3 ... per tenant
    type: str = Field(index=True, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    conversation_id: str | None = Field(default=None, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    prev_hash: str
    hash: str = Field(index=True)


class AuditHead(SQLModel, table=True):
    """The newest event per tenant, so deleting the tail of the chain is detected too."""

    __tablename__ = "audit_heads"

    tenant: str = Field(primary_key=True, max_length=64)
    seq: int = 0
    hash: str = ""


class UsageRecord(SQLModel, table=True):
    """One model call: tokens, cache hits, cost and latency, for /v1/usage and billing checks."""

    __tablename__ = "usage_records"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    conversation_id: str | None = Field(default=None, index=True)
    model: str = Field(max_length=128)
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)

    @classmethod
    def for_calls(cls, tenant: str, conversation_id: str | None, usage: dict[str, Any]) -> list[UsageRecord]:
        """One row per model call of a usage summary (agent.pricing.sum_usage)."""
        return [
            cls(
                tenant=tenant,
                conversation_id=conversation_id,
                model=call["model"],
                input_tokens=call["input_tokens"],
                cached_tokens=call["cached_tokens"],
                output_tokens=call["output_tokens"],
                cost_usd=call["cost_usd"],
                latency_ms=call["latency_ms"],
            )
            for call in usage.get("calls", [])
        ]


class Approval(SQLModel, table=True):
    """A sensitive tool call waiting for (or decided by) a staff member; its id is the idempotency key."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("conversation_id", "tool_call_id", name="uq_approval_tool_call"),)

    id: str = Field(default_factory=lambda: new_id("apr"), primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    conversation_id: str = Field(index=True)
    customer_id: str | None = None
    tool_call_id: str = Field(max_length=128)
    tool: str = Field(max_length=64)
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # redacted
    checks: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(
        default="pending", index=True, max_length=16
    )  # pending approved rejected expired executed failed
    requested_by: str | None = None
    decided_by: str | None = None
    decision_note: str | None = None  # redacted
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # redacted
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = Field(default=None, index=True)
    decided_at: datetime | None = None
    executed_at: datetime | None = None
