"""The job queue on the local PostgreSQL: SKIP LOCKED claims, dedupe of concurrent deliveries, the outbox."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session

from api.audit import AuditLog
from api.jobs import Job, JobQueue, store
from tests.api import job_handlers
from tests.api.job_handlers import effects, wait_for
from tests.api.test_postgres import pg_engine, pg_url  # noqa: F401  (fixtures)
from tests.conftest import make_client

pytestmark = pytest.mark.postgres


@pytest.fixture
def queue(settings: Any, pg_engine: Any) -> JobQueue:  # noqa: F811
    return JobQueue(engine=pg_engine, settings=settings, audit=AuditLog(pg_engine))


def together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Runs `work(i)` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def enqueue(queue: JobQueue, engine: Any, **job: Any) -> Job:
    with Session(engine, expire_on_commit=False) as session:
        row = queue.enqueue(session, tenant="default", kind="test.record", payload={}, **job)
        session.commit()
    return row


def test_concurrent_claimers_share_the_due_jobs_without_overlap(queue: JobQueue, pg_engine: Any) -> None:  # noqa: F811
    made = {enqueue(queue, pg_engine).id for _ in range(40)}

    def drain(_: int) -> list[str]:
        mine: list[str] = []
        while claimed := store.claim(pg_engine, lease_s=30, limit=3):
            mine.extend(job.id for job in claimed)
        return mine

    claims = [job_id for mine in together(6, drain) for job_id in mine]
    assert sorted(claims) == sorted(made)  # every job once, none twice
    assert {job.status for job in queue.list(tenant="default", limit=100)} == {"running"}


def test_a_claim_takes_no_more_jobs_than_its_limit(queue: JobQueue, pg_engine: Any) -> None:  # noqa: F811
    # As `WHERE id IN (SELECT .. LIMIT n FOR UPDATE SKIP LOCKED)` PostgreSQL claimed two jobs for a limit
    # of one and the runner started only the first: the other stayed `running` until its lease ran out.
    for _ in range(7):
        enqueue(queue, pg_engine)
    sizes = [len(store.claim(pg_engine, lease_s=30, limit=limit)) for limit in (1, 1, 3, 1, 5)]
    assert sizes == [1, 1, 3, 1, 1]


def test_one_job_is_claimed_once_by_racing_claimers(queue: JobQueue, pg_engine: Any) -> None:  # noqa: F811
    job = enqueue(queue, pg_engine)
    won = together(8, lambda _: store.claim(pg_engine, lease_s=30, job_id=job.id))
    assert sum(1 for claim in won if claim) == 1


def test_concurrent_deliveries_with_one_dedupe_key_make_one_job(queue: JobQueue, pg_engine: Any) -> None:  # noqa: F811
    ids = together(8, lambda _: enqueue(queue, pg_engine, dedupe_key="slack:Ev123").id)
    assert len(set(ids)) == 1
    assert len(queue.list(tenant="default")) == 1


def test_a_rolled_back_delivery_leaves_no_job(queue: JobQueue, pg_engine: Any) -> None:  # noqa: F811
    with Session(pg_engine) as session:
        queue.enqueue(session, tenant="default", kind="test.record", payload={}, dedupe_key="d-1")
        session.rollback()
    assert queue.list(tenant="default") == []
    assert enqueue(queue, pg_engine, dedupe_key="d-1").status == "queued"  # the key is free again


def test_the_embedded_runner_on_postgres_runs_retries_and_buries(
    settings: Any,
    pg_engine: Any,  # noqa: F811
    pg_url: str,  # noqa: F811
) -> None:
    job_handlers.create_tables(pg_engine)
    settings = settings.model_copy(
        update={"database_url": pg_url, "job_handlers": ["tests.api.job_handlers"], "job_poll_s": 0.05}
    )
    with make_client(settings, pg_engine) as client:
        jobs = client.app.state.runtime.jobs
        with Session(pg_engine, expire_on_commit=False) as session:
            ok = jobs.enqueue(session, tenant="default", kind="test.record", payload={})
            dead = jobs.enqueue(
                session, tenant="default", kind="test.flaky", payload={"fail_times": 9}, max_attempts=1
            )
            session.commit()
        wait_for(lambda: jobs.get(tenant="default", job_id=ok.id).status == "done")
        buried = wait_for(
            lambda: (row := jobs.get(tenant="default", job_id=dead.id)).status == "dead" and row
        )
    assert effects(pg_engine, ok.id) == 1
    assert (buried.attempts, buried.last_error) == (1, "RuntimeError")
