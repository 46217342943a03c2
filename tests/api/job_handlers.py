"""Job handlers for the tests, loaded by name (DESKPILOT_JOB_HANDLERS / Settings.job_handlers).

`test.record` is written the way a real handler must be: it may run again after a crash, so its effect
is keyed by the job id and inserted at most once. Every start is counted in `job_test_runs`, so a test
can tell "ran twice, took effect once" from "ran once".
"""

from __future__ import annotations

import asyncio
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine, text

from api.jobs import DeadJob, Job, JobContext, RetryJob, job_handler

TABLES = (
    "CREATE TABLE IF NOT EXISTS job_test_runs (job_id VARCHAR(64) NOT NULL, attempt INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS job_test_effects (job_id VARCHAR(64) PRIMARY KEY, note VARCHAR(200))",
)


def create_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for statement in TABLES:
            connection.execute(text(statement))


def runs(engine: Engine, job_id: str) -> int:
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM job_test_runs WHERE job_id = :j")
        return int(connection.execute(query, {"j": job_id}).scalar_one())


def effects(engine: Engine, job_id: str) -> int:
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM job_test_effects WHERE job_id = :j")
        return int(connection.execute(query, {"j": job_id}).scalar_one())


def _count_run(engine: Engine, job: Job) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO job_test_runs (job_id, attempt) VALUES (:j, :a)"),
            {"j": job.id, "a": job.attempts},
        )


def _take_effect(engine: Engine, job: Job) -> None:
    with engine.begin() as connection:  # idempotent: the job id is the key
        connection.execute(
            text("INSERT INTO job_test_effects (job_id, note) VALUES (:j, :n) ON CONFLICT DO NOTHING"),
            {"j": job.id, "n": job.payload.get("note", "")},
        )


@job_handler("test.record")
async def record(job: Job, ctx: JobContext) -> None:
    """Counts the run, then (in the payload's order) sleeps `sleep_s` and takes its effect."""
    engine = ctx.runtime.engine
    await to_thread.run_sync(_count_run, engine, job)
    steps: list[Any] = [asyncio.sleep(float(job.payload.get("sleep_s", 0))), None]
    if job.payload.get("effect_first"):
        steps.reverse()
    for step in steps:
        if step is None:
            await to_thread.run_sync(_take_effect, engine, job)
        else:
            await step


@job_handler("test.flaky")
async def flaky(job: Job, ctx: JobContext) -> None:
    """Fails its first `fail_times` attempts with an exception whose text holds PII, then takes effect."""
    await to_thread.run_sync(_count_run, ctx.runtime.engine, job)
    if job.attempts <= int(job.payload["fail_times"]):
        raise RuntimeError("could not reach jane.doe@example.com at +1 415 555 0100")
    await to_thread.run_sync(_take_effect, ctx.runtime.engine, job)


@job_handler("test.rate_limited")
async def rate_limited(job: Job, ctx: JobContext) -> None:
    raise RetryJob("upstream answered 429", after_s=float(job.payload["retry_after_s"]))


@job_handler("test.rejected")
async def rejected(job: Job, ctx: JobContext) -> None:
    raise DeadJob("upstream answered 400")


def wait_for(check: Any, *, within_s: float = 60.0, every_s: float = 0.02) -> Any:
    """Polls `check()` until it returns something truthy; fails the test (not hangs) if it never does."""
    import time

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {within_s} s")
