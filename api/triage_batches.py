"""Backlog triage batches behind POST /v1/triage/batches: one row per batch, and the job that runs it.

The tickets are stored redacted (the route redacts them before anything is written); the job submits them
to the Batch API, polls in place for a while, then hands itself back to the queue (RetryJob) until the batch
is done; offline it classifies them locally at once. Results and the batch-priced usage are recorded once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel

from api.batch_triage import BacklogResult, classify_backlog_offline, collect, submit, wait
from api.jobs import DeadJob, Job, JobContext, RetryJob, job_handler
from api.models import UsageRecord, new_id, utcnow
from api.settings import Settings

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from api.runtime import Runtime

log = logging.getLogger(__name__)
JOB_KIND = "triage.batch"
POLL_IN_PLACE_S = 240.0  # one job attempt polls this long, then the queue brings it back
MAX_POLL_ATTEMPTS = 1000  # a 24 h completion window at a few minutes a round


class TriageBatch(SQLModel, table=True):
    __tablename__ = "triage_batches"

    id: str = Field(default_factory=lambda: new_id("tbat"), primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    status: str = Field(default="queued", max_length=16)  # queued | submitted | done | failed
    mode: str = Field(max_length=16)  # batch | offline
    provider_batch_id: str | None = Field(default=None, max_length=100)
    tickets: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )  # redacted
    results: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    usage: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


def online(settings: Settings) -> bool:
    return not settings.offline


def openai_client(settings: Settings) -> AsyncOpenAI:
    from openai import AsyncOpenAI

    assert settings.openai_api_key is not None
    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.llm_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


def create(
    runtime: Runtime, *, tenant: str, tickets: list[dict[str, str]], actor: str | None, enqueue: bool = True
) -> TriageBatch:
    """The batch row and (for the API) its job, in one transaction; the CLI runs the batch itself."""
    mode = "batch" if online(runtime.settings) else "offline"
    batch = TriageBatch(tenant=tenant, mode=mode, tickets=tickets, created_by=actor)
    with runtime.audit.lock, Session(runtime.engine, expire_on_commit=False) as session:
        session.add(batch)
        session.flush()
        if enqueue:
            runtime.jobs.enqueue(
                session,
                tenant=tenant,
                kind=JOB_KIND,
                payload={"batch_id": batch.id},
                dedupe_key=batch.id,
                max_attempts=MAX_POLL_ATTEMPTS,
            )
        runtime.audit.append(
            session,
            tenant=tenant,
            type="triage.batch_created",
            actor=actor,
            payload={"batch_id": batch.id, "tickets": len(tickets), "mode": mode},
        )
        session.commit()
    return batch


def get(runtime: Runtime, *, tenant: str, batch_id: str) -> TriageBatch | None:
    with Session(runtime.engine, expire_on_commit=False) as session:
        batch = session.get(TriageBatch, batch_id)
    return batch if batch is not None and batch.tenant == tenant else None


@job_handler(JOB_KIND)
async def run_batch(job: Job, ctx: JobContext) -> None:
    runtime = ctx.runtime
    batch = await to_thread.run_sync(lambda: get_any(runtime, job.payload["batch_id"]))
    if batch is None or batch.status in ("done", "failed"):
        return
    pairs = [(t["id"], t["text"]) for t in batch.tickets]
    if batch.mode == "offline" or not online(runtime.settings):
        await to_thread.run_sync(lambda: apply(runtime, batch, classify_backlog_offline(pairs)))
        return
    client = openai_client(runtime.settings)
    try:
        if batch.provider_batch_id is None:
            batch.provider_batch_id = await submit(client, pairs, runtime.settings.model)
            await to_thread.run_sync(
                lambda: _update(
                    runtime, batch.id, status="submitted", provider_batch_id=batch.provider_batch_id
                )
            )
        poll_s = runtime.settings.triage_batch_poll_s
        done = await wait(
            client, batch.provider_batch_id, poll_s=poll_s, timeout_s=min(POLL_IN_PLACE_S, poll_s * 20)
        )
        if done is None:
            raise RetryJob("batch still in progress", after_s=poll_s)
        if done.status != "completed" and not done.output_file_id:
            await to_thread.run_sync(
                lambda: _update(runtime, batch.id, status="failed", finished_at=utcnow())
            )
            raise DeadJob(f"batch {done.status}")
        result = await collect(client, done, pairs, runtime.settings.model)
    finally:
        await client.close()
    await to_thread.run_sync(lambda: apply(runtime, batch, result))


def apply(runtime: Runtime, batch: TriageBatch, result: BacklogResult) -> None:
    """Results, usage (at the batch price) and the audit event, once: a re-run finds the batch done."""
    with runtime.audit.lock, Session(runtime.engine) as session:
        row = session.get(TriageBatch, batch.id, with_for_update=True)
        if row is None or row.status == "done":
            return
        row.status, row.finished_at = "done", utcnow()
        row.results, row.usage = [r.public() for r in result.results], result.usage
        session.add(row)
        if result.usage.get("requests"):
            session.add(
                UsageRecord(
                    tenant=row.tenant,
                    conversation_id=None,
                    model=result.usage["model"],
                    input_tokens=result.usage["input_tokens"],
                    cached_tokens=result.usage["cached_tokens"],
                    output_tokens=result.usage["output_tokens"],
                    cost_usd=result.usage["cost_usd"],
                    latency_ms=None,
                )
            )
        queues: dict[str, int] = {}
        for item in result.results:
            queues[item.triage.queue] = queues.get(item.triage.queue, 0) + 1
        runtime.audit.append(
            session,
            tenant=row.tenant,
            type="triage.batch_applied",
            actor=row.created_by,
            payload={
                "batch_id": row.id,
                "mode": result.mode,
                "tickets": len(result.results),
                "queues": queues,
                "fallbacks": sum(1 for r in result.results if r.error),
                "cost_usd": result.usage.get("cost_usd"),
            },
        )
        session.commit()


def get_any(runtime: Runtime, batch_id: str) -> TriageBatch | None:
    with Session(runtime.engine, expire_on_commit=False) as session:
        return session.get(TriageBatch, batch_id)


def _update(runtime: Runtime, batch_id: str, **values: Any) -> None:
    with Session(runtime.engine) as session:
        row = session.get(TriageBatch, batch_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()
