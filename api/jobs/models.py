"""The jobs table: the durable source of truth for background work (a transactional outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from tools.base import utcnow

JobStatus = Literal["queued", "running", "done", "dead"]


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex[:20]}"


class Job(SQLModel, table=True):
    """One unit of background work. `payload` holds ids and redacted text only, never raw PII."""

    __tablename__ = "jobs"
    __table_args__ = (
        # Per tenant and kind: one tenant's delivery ids can never swallow another tenant's jobs.
        UniqueConstraint("tenant", "kind", "dedupe_key", name="uq_job_dedupe"),
        Index("ix_jobs_due", "status", "run_after"),
    )

    id: str = Field(default_factory=new_job_id, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dedupe_key: str | None = Field(default=None, max_length=200)
    status: str = Field(default="queued", max_length=16)  # queued | running | done | dead
    attempts: int = 0  # claims so far; also the fencing token of the current claim
    max_attempts: int = 5
    run_after: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=300)  # a class name or a JobError message
    request_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class JobOut(BaseModel):
    """What an admin sees of a job; the payload stays server-side."""

    id: str
    kind: str
    status: JobStatus
    dedupe_key: str | None
    attempts: int
    max_attempts: int
    run_after: datetime
    lease_until: datetime | None
    last_error: str | None
    request_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
