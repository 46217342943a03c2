"""The job queue on the embedded default (SQLite, in-process runner): outbox, dedupe, claims, retries."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from api.audit import AuditLog
from api.jobs import Job, JobQueue, store
from api.jobs.models import utcnow
from tests.api import job_handlers
from tests.api.job_handlers import effects, runs, wait_for
from tests.conftest import make_client


@pytest.fixture
def jobs_settings(settings: Any) -> Any:
    return settings.model_copy(
        update={"job_handlers": ["tests.api.job_handlers"], "job_poll_s": 0.05, "job_lease_s": 5.0}
    )


@pytest.fixture
def queue(jobs_settings: Any, engine: Any) -> JobQueue:
    job_handlers.create_tables(engine)
    return JobQueue(engine=engine, settings=jobs_settings, audit=AuditLog(engine))


@pytest.fixture
def app_client(jobs_settings: Any, engine: Any) -> Iterator[Any]:
    """The real app, whose lifespan runs the embedded job runner."""
    job_handlers.create_tables(engine)
    with make_client(jobs_settings, engine) as client:
        yield client


def enqueue(queue: JobQueue, engine: Any, **job: Any) -> Job:
    job.setdefault("tenant", "default")
    job.setdefault("payload", {})
    with Session(engine, expire_on_commit=False) as session:
        row = queue.enqueue(session, **job)
        session.commit()
    return row


def status(queue: JobQueue, job: Job, tenant: str = "default") -> Job:
    return queue.get(tenant=tenant, job_id=job.id)


# --- the outbox --------------------------------------------------------------------------------------


def test_a_job_exists_only_if_the_transaction_that_enqueued_it_commits(queue: JobQueue, engine: Any) -> None:
    audit = AuditLog(engine)
    with Session(engine) as session:  # the delivery and its job, rolled back together
        audit.append(session, tenant="default", type="delivery.received", payload={"delivery": "d-1"})
        queue.enqueue(session, tenant="default", kind="test.record", payload={"delivery": "d-1"})
        session.rollback()
    with Session(engine, expire_on_commit=False) as session:
        audit.append(session, tenant="default", type="delivery.received", payload={"delivery": "d-2"})
        kept = queue.enqueue(session, tenant="default", kind="test.record", payload={"delivery": "d-2"})
        session.commit()
    rows = queue.list(tenant="default")
    assert [(row.id, row.payload) for row in rows] == [(kept.id, {"delivery": "d-2"})]
    assert [event.payload["delivery"] for event in audit.list(tenant="default")] == ["d-2"]


def test_a_dedupe_key_seen_before_returns_the_first_job(queue: JobQueue, engine: Any) -> None:
    first = enqueue(queue, engine, kind="test.record", dedupe_key="zendesk:42", payload={"n": 1})
    again = enqueue(queue, engine, kind="test.record", dedupe_key="zendesk:42", payload={"n": 2})
    other_kind = enqueue(queue, engine, kind="test.flaky", dedupe_key="zendesk:42", payload={"fail_times": 0})
    other_tenant = enqueue(queue, engine, tenant="acme", kind="test.record", dedupe_key="zendesk:42")
    assert again.id == first.id and again.payload == {"n": 1}
    assert len({first.id, other_kind.id, other_tenant.id}) == 3
    assert len(queue.list(tenant="default")) == 2 and len(queue.list(tenant="acme")) == 1


def test_the_same_dedupe_key_twice_in_one_transaction_adds_one_job(queue: JobQueue, engine: Any) -> None:
    with Session(engine) as session:
        one = queue.enqueue(session, tenant="default", kind="test.record", payload={}, dedupe_key="k")
        two = queue.enqueue(session, tenant="default", kind="test.record", payload={}, dedupe_key="k")
        session.commit()
        assert one.id == two.id
    assert len(queue.list(tenant="default")) == 1


def test_a_payload_too_large_for_ids_and_short_text_is_refused(queue: JobQueue, engine: Any) -> None:
    with pytest.raises(ValueError, match="too large"):
        enqueue(queue, engine, kind="test.record", payload={"text": "x" * 70_000})


# --- claims ------------------------------------------------------------------------------------------


def test_one_job_is_claimed_by_one_of_many_concurrent_claimers(queue: JobQueue, engine: Any) -> None:
    job = enqueue(queue, engine, kind="test.record")
    barrier = threading.Barrier(8)
    won: list[list[Job]] = []

    def claimer() -> None:
        barrier.wait()
        won.append(store.claim(engine, lease_s=30, job_id=job.id))

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [claim for claim in won if claim]
    assert len(winners) == 1 and winners[0][0].attempts == 1
    assert status(queue, job).status == "running"


def test_a_delayed_job_is_not_claimed_before_it_is_due(queue: JobQueue, engine: Any) -> None:
    job = enqueue(queue, engine, kind="test.record", delay_s=3600)
    assert store.claim(engine, lease_s=30, job_id=job.id) == []
    assert store.claim(engine, lease_s=30, limit=10) == []


def test_an_expired_lease_makes_the_job_claimable_and_fences_out_the_old_claim(
    queue: JobQueue, engine: Any
) -> None:
    job = enqueue(queue, engine, kind="test.record")
    [first] = store.claim(engine, lease_s=30, job_id=job.id)
    assert store.claim(engine, lease_s=30, job_id=job.id) == []  # held
    expire_lease(engine, job.id)
    [second] = store.claim(engine, lease_s=30, job_id=job.id)
    assert (first.attempts, second.attempts) == (1, 2)
    assert not store.complete(engine, first)  # the worker that lost its lease records nothing
    assert not store.renew(engine, first, lease_s=30)
    assert store.complete(engine, second)
    assert status(queue, job).status == "done"


def test_a_job_whose_worker_died_on_its_last_attempt_goes_dead(queue: JobQueue, engine: Any) -> None:
    job = enqueue(queue, engine, kind="test.record", max_attempts=1)
    store.claim(engine, lease_s=30, job_id=job.id)
    expire_lease(engine, job.id)
    assert store.claim(engine, lease_s=30, job_id=job.id) == []
    assert store.bury_lost(engine) == 1
    dead = status(queue, job)
    assert (dead.status, dead.last_error, dead.attempts) == ("dead", "lease expired", 1)


def expire_lease(engine: Any, job_id: str) -> None:
    with Session(engine) as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        session.commit()


def make_due(engine: Any, job_id: str) -> None:
    """Stands in for the backoff delay passing."""
    with Session(engine) as session:
        session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
        session.commit()


# --- backoff -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 8, 20])
def test_backoff_is_full_jitter_under_an_exponential_ceiling_and_the_cap(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
    delays = [store.backoff_s(attempt, base_s=2.0, cap_s=60.0, rng=rng) for _ in range(2000)]
    assert all(0.0 <= delay <= ceiling for delay in delays)
    assert min(delays) < 0.05 * ceiling and max(delays) > 0.95 * ceiling  # spread over the whole range


# --- the embedded runner in `serve` -----------------------------------------------------------------


def test_jobs_enqueued_in_the_app_run_once_each(app_client: Any, engine: Any) -> None:
    jobs = app_client.app.state.runtime.jobs
    made = [enqueue(jobs, engine, kind="test.record", payload={"note": f"n{i}"}) for i in range(12)]
    wait_for(lambda: all(status(jobs, job).status == "done" for job in made))
    for job in made:
        assert (runs(engine, job.id), effects(engine, job.id), status(jobs, job).attempts) == (1, 1, 1)
        assert status(jobs, job).finished_at is not None


def test_a_failing_job_is_retried_with_backoff_then_dead(jobs_settings: Any, engine: Any) -> None:
    settings = jobs_settings.model_copy(update={"job_backoff_base_s": 600.0, "job_backoff_cap_s": 900.0})
    job_handlers.create_tables(engine)
    with make_client(settings, engine) as client:
        jobs = client.app.state.runtime.jobs
        job = enqueue(jobs, engine, kind="test.flaky", payload={"fail_times": 99}, max_attempts=3)
        for attempt, ceiling in ((1, 600.0), (2, 900.0)):
            before = utcnow()
            waiting = wait_for(
                lambda: (row := status(jobs, job)).status == "queued" and row.attempts >= 1 and row
            )
            assert waiting.attempts == attempt and runs(engine, job.id) == attempt
            assert before - timedelta(seconds=5) <= waiting.run_after <= before + timedelta(seconds=ceiling)
            assert waiting.last_error == "RuntimeError"  # the class, never the text (it held PII)
            make_due(engine, job.id)
            wait_for(lambda n=attempt: runs(engine, job.id) > n)
        dead = wait_for(lambda: (row := status(jobs, job)).status == "dead" and row)
    assert (dead.attempts, dead.last_error, runs(engine, job.id), effects(engine, job.id)) == (
        3,
        "RuntimeError",
        3,
        0,
    )
    assert dead.finished_at is not None and dead.lease_until is None


def test_a_job_that_recovers_before_its_last_attempt_is_done(app_client: Any, engine: Any) -> None:
    jobs = app_client.app.state.runtime.jobs
    with Session(
        engine, expire_on_commit=False
    ) as session:  # backoff of the test settings (2 s base) stands in for real delays
        job = jobs.enqueue(session, tenant="default", kind="test.flaky", payload={"fail_times": 1})
        session.commit()
    wait_for(lambda: runs(engine, job.id) == 1 and status(jobs, job).status == "queued")
    make_due(engine, job.id)
    done = wait_for(lambda: (row := status(jobs, job)).status == "done" and row)
    assert (done.attempts, effects(engine, job.id)) == (2, 1)


def test_a_handler_can_ask_for_a_later_retry_or_give_up_at_once(app_client: Any, engine: Any) -> None:
    jobs = app_client.app.state.runtime.jobs
    before = utcnow()
    later = enqueue(jobs, engine, kind="test.rate_limited", payload={"retry_after_s": 120})
    rejected = enqueue(jobs, engine, kind="test.rejected")
    unknown = enqueue(jobs, engine, kind="test.no_such_kind")
    waiting = wait_for(lambda: (row := status(jobs, later)).attempts == 1 and row.status == "queued" and row)
    assert before + timedelta(seconds=120) <= waiting.run_after <= utcnow() + timedelta(seconds=120)
    assert waiting.last_error == "upstream answered 429"
    gone = wait_for(lambda: (row := status(jobs, rejected)).status == "dead" and row)
    assert (gone.attempts, gone.last_error) == (1, "upstream answered 400")
    lost = wait_for(lambda: (row := status(jobs, unknown)).status == "dead" and row)
    assert lost.last_error == "no handler for job kind 'test.no_such_kind'"


def test_a_job_left_running_by_a_killed_process_runs_when_the_app_starts_again(
    jobs_settings: Any, engine: Any
) -> None:
    queue = JobQueue(engine=engine, settings=jobs_settings, audit=AuditLog(engine))
    job_handlers.create_tables(engine)
    job = enqueue(queue, engine, kind="test.record", payload={"effect_first": True})
    store.claim(engine, lease_s=30, job_id=job.id)  # the process that claimed it is gone
    expire_lease(engine, job.id)
    with make_client(jobs_settings, engine) as client:
        done = wait_for(lambda: (row := status(client.app.state.runtime.jobs, job)).status == "done" and row)
    assert (done.attempts, effects(engine, job.id)) == (2, 1)


def test_jobs_are_listed_newest_first_by_status(queue: JobQueue, engine: Any) -> None:
    first = enqueue(queue, engine, kind="test.record")
    second = enqueue(queue, engine, kind="test.record")
    store.claim(engine, lease_s=30, job_id=first.id)
    assert [job.id for job in queue.list(tenant="default")] == [second.id, first.id]
    assert [job.id for job in queue.list(tenant="default", status="running")] == [first.id]
    assert queue.list(tenant="acme") == []
    with Session(engine) as session:
        assert len(session.exec(select(Job)).all()) == 2


def test_a_commit_wakes_the_runner_without_waiting_for_a_poll(jobs_settings: Any, engine: Any) -> None:
    import time

    settings = jobs_settings.model_copy(update={"job_poll_s": 3600.0})  # polls once, at start-up
    job_handlers.create_tables(engine)
    with make_client(settings, engine) as client:
        jobs = client.app.state.runtime.jobs
        warm = enqueue(jobs, engine, kind="test.record")
        wait_for(lambda: status(jobs, warm).status == "done")
        time.sleep(0.3)  # the start-up poll and the one after `warm` are over; only a wake-up is left
        job = enqueue(jobs, engine, kind="test.record")
        wait_for(lambda: status(jobs, job).status == "done", within_s=30)
    assert effects(engine, job.id) == 1


def test_a_job_still_running_at_shutdown_is_handed_back_without_using_an_attempt(
    jobs_settings: Any, engine: Any
) -> None:
    settings = jobs_settings.model_copy(update={"job_shutdown_grace_s": 0.1})
    job_handlers.create_tables(engine)
    with make_client(settings, engine) as client:
        jobs = client.app.state.runtime.jobs
        job = enqueue(jobs, engine, kind="test.record", payload={"sleep_s": 600})
        wait_for(lambda: runs(engine, job.id) == 1)
    back = JobQueue(engine=engine, settings=settings, audit=AuditLog(engine)).get(
        tenant="default", job_id=job.id
    )
    assert (back.status, back.attempts, back.lease_until, effects(engine, job.id)) == ("queued", 0, None, 0)
