"""Data functions of the job queue: add in the caller's session, claim by compare-and-set, record outcomes.

Every state change is one UPDATE guarded by the state it expects, so two processes can never both win.
A claim bumps `attempts`; that number is the claim's fencing token: a worker that lost its lease (it was
paused past it and another worker claimed the job) can no longer record an outcome.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.jobs.models import Job, JobStatus, new_job_id, utcnow


def add_job(
    session: Session,
    *,
    tenant: str,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str | None,
    delay_s: float,
    max_attempts: int,
    request_id: str | None,
) -> tuple[Job, bool]:
    """Inserts the job in the session's transaction; (job, False) when the dedupe key was seen before."""
    if dedupe_key is not None and (seen := _deduped(session, tenant, kind, dedupe_key)) is not None:
        return seen, False
    now = utcnow()
    row = Job(
        id=new_job_id(),
        tenant=tenant,
        kind=kind,
        payload=payload,
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
        run_after=now + timedelta(seconds=max(delay_s, 0.0)),
        request_id=request_id,
        created_at=now,
        updated_at=now,
    )
    # INSERT .. ON CONFLICT DO NOTHING instead of a savepoint: a concurrent delivery of the same key
    # waits for the other transaction and then finds its row, and the caller's transaction stays usable.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {column.name: getattr(row, column.name) for column in Job.__table__.columns}  # type: ignore[attr-defined]
    insert = dialect.insert(Job).values(**values).on_conflict_do_nothing().returning(col(Job.id))
    if session.execute(insert).scalar() is None and dedupe_key is not None:
        if (seen := _deduped(session, tenant, kind, dedupe_key)) is None:
            raise RuntimeError("a job with this dedupe key exists but is not visible to this transaction")
        return seen, False
    job = session.get(Job, row.id)
    if job is None:  # pragma: no cover - the row was inserted by this very session
        raise RuntimeError("the job just inserted is missing")
    return job, True


def _deduped(session: Session, tenant: str, kind: str, dedupe_key: str) -> Job | None:
    return session.exec(
        select(Job).where(Job.tenant == tenant, Job.kind == kind, Job.dedupe_key == dedupe_key)
    ).first()


def _due(now: Any) -> ColumnElement[bool]:
    """Queued and due, or running on a lease that ran out (its worker died); attempts left either way."""
    return and_(
        or_(
            and_(col(Job.status) == "queued", col(Job.run_after) <= now),
            and_(col(Job.status) == "running", col(Job.lease_until) < now),
        ),
        col(Job.attempts) < col(Job.max_attempts),
    )


def anything_due(engine: Engine) -> bool:
    """A read that lets an idle poll skip the claim's write (on SQLite every UPDATE takes the write lock)."""
    now = utcnow()
    lost = and_(col(Job.status) == "running", col(Job.lease_until) < now)
    with Session(engine) as session:
        return session.exec(select(Job.id).where(or_(_due(now), lost)).limit(1)).first() is not None


def claim(engine: Engine, *, lease_s: float, job_id: str | None = None, limit: int = 1) -> list[Job]:
    """queued -> running with a lease and attempts + 1, in one statement; returns what this caller won.

    PostgreSQL skips rows another worker is claiming (FOR UPDATE SKIP LOCKED) in a materialized CTE: as
    an `IN (subquery)` the planner may rescan the LIMITed subquery and claim more than `limit` rows.
    SQLite runs one writer at a time, so the statement's own WHERE settles it."""
    now = utcnow()
    candidates = select(Job.id).where(_due(now))
    if job_id is not None:
        candidates = candidates.where(Job.id == job_id)
    picked = (
        candidates.order_by(col(Job.run_after))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    statement = (
        update(Job)
        .where(col(Job.id) == picked.c.id, _due(now))
        .values(
            status="running",
            attempts=col(Job.attempts) + 1,
            lease_until=now + timedelta(seconds=lease_s),
            updated_at=now,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    with Session(engine, expire_on_commit=False) as session:
        won = list(session.scalars(statement))
        session.commit()
    return won


def _settle(engine: Engine, job: Job, **values: Any) -> bool:
    """Changes the job only while this claim still holds it (running, same attempt)."""
    statement = (
        update(Job)
        .where(col(Job.id) == job.id, col(Job.status) == "running", col(Job.attempts) == job.attempts)
        .values(updated_at=utcnow(), **values)
    )
    with Session(engine) as session:
        changed = session.execute(statement).rowcount  # type: ignore[attr-defined]
        session.commit()
    return bool(changed)


def renew(engine: Engine, job: Job, *, lease_s: float) -> bool:
    return _settle(engine, job, lease_until=utcnow() + timedelta(seconds=lease_s))


def complete(engine: Engine, job: Job) -> bool:
    return _settle(engine, job, status="done", lease_until=None, finished_at=utcnow())


def fail(engine: Engine, job: Job, *, error: str, retry_in_s: float | None) -> JobStatus | None:
    """Back to queued after `retry_in_s`, or dead when that is None or no attempt is left."""
    error = error[:300]
    if retry_in_s is None or job.attempts >= job.max_attempts:
        settled = _settle(
            engine, job, status="dead", lease_until=None, last_error=error, finished_at=utcnow()
        )
        return "dead" if settled else None
    run_after = utcnow() + timedelta(seconds=retry_in_s)
    settled = _settle(engine, job, status="queued", lease_until=None, last_error=error, run_after=run_after)
    return "queued" if settled else None


def release(engine: Engine, job: Job) -> bool:
    """A claim given back unfinished (the worker is shutting down): the attempt does not count."""
    return _settle(engine, job, status="queued", lease_until=None, attempts=job.attempts - 1)


def bury_lost(engine: Engine) -> int:
    """Running jobs whose lease ran out on their last attempt: their worker died each time, so dead."""
    now = utcnow()
    statement = (
        update(Job)
        .where(
            col(Job.status) == "running",
            col(Job.lease_until) < now,
            col(Job.attempts) >= col(Job.max_attempts),
        )
        .values(status="dead", lease_until=None, last_error="lease expired", updated_at=now, finished_at=now)
    )
    with Session(engine) as session:
        buried = session.execute(statement).rowcount  # type: ignore[attr-defined]
        session.commit()
    return int(buried)


def backoff_s(attempt: int, *, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
    ceiling = min(cap_s, base_s * 2 ** max(attempt - 1, 0))
    return (rng or random).uniform(0.0, ceiling)


def list_jobs(engine: Engine, *, tenant: str, status: JobStatus | None, limit: int) -> list[Job]:
    query = select(Job).where(Job.tenant == tenant)
    if status is not None:
        query = query.where(Job.status == status)
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(Job.created_at).desc()).limit(limit)))


def get_job(engine: Engine, *, tenant: str, job_id: str) -> Job | None:
    with Session(engine) as session:
        job = session.get(Job, job_id)
    return job if job is not None and job.tenant == tenant else None


def requeue_dead(session: Session, *, tenant: str, job_id: str) -> bool:
    """dead -> queued with attempts reset, in the caller's session (so the audit event commits with it)."""
    now = utcnow()
    statement = (
        update(Job)
        .where(col(Job.id) == job_id, col(Job.tenant) == tenant, col(Job.status) == "dead")
        .values(status="queued", attempts=0, run_after=now, finished_at=None, updated_at=now)
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]
