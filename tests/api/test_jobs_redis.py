"""The at-scale transport on the local Redis (127.0.0.1:6379): `serve` kicks, a worker's taskiq consumer runs.

Each test uses its own stream and deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlmodel import Session

from api.audit import AuditLog
from api.jobs import Job, JobQueue
from api.jobs.broker import CONSUMER_GROUP
from tests.api import job_handlers
from tests.api.job_handlers import effects, runs

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def stream() -> Iterator[str]:
    name = f"deskpilot-test:{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {type(error).__name__}")
    try:
        yield name
    finally:
        client.delete(name, f"autoclaim:{CONSUMER_GROUP}:{name}")
        client.close()


@pytest.fixture
def redis_settings(settings: Any, stream: str) -> Any:
    return settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "job_stream": stream,
            "job_handlers": ["tests.api.job_handlers"],
            "job_lease_s": 5.0,
        }
    )


async def until(check: Any, within_s: float = 30.0) -> Any:
    async with asyncio.timeout(within_s):
        while not (value := check()):
            await asyncio.sleep(0.02)
    return value


def enqueue(queue: JobQueue, engine: Any, **payload: Any) -> Job:
    with Session(engine, expire_on_commit=False) as session:
        job = queue.enqueue(session, tenant="default", kind="test.record", payload=payload)
        session.commit()
    return job


async def test_serve_kicks_the_job_to_a_worker_through_the_stream(
    redis_settings: Any, engine: Any, stream: str
) -> None:
    from api.main import create_app

    job_handlers.create_tables(engine)
    app = create_app(redis_settings, engine=engine, redactor=None, knowledge=None)
    # The worker polls the table once at start-up and then not for an hour: only the stream can bring it work.
    worker = JobQueue(
        engine=engine,
        settings=redis_settings.model_copy(update={"job_poll_s": 3600.0}),
        audit=AuditLog(engine),
    )
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        stop = asyncio.Event()
        working = asyncio.create_task(worker.work(runtime, stop))
        await asyncio.sleep(
            1.0
        )  # past the worker's start-up poll (the group keeps kicks sent before it reads)
        jobs = [enqueue(runtime.jobs, engine, note=f"n{i}") for i in range(5)]
        await until(
            lambda: all(runtime.jobs.get(tenant="default", job_id=j.id).status == "done" for j in jobs)
        )
        stop.set()
        await asyncio.wait_for(working, 30)
    for job in jobs:
        assert (runs(engine, job.id), effects(engine, job.id)) == (1, 1)
    client = redis.Redis.from_url(REDIS_URL)
    assert client.xlen(stream) == 5  # one kick per job, ids only
    [group] = client.xinfo_groups(stream)
    assert group["pending"] == 0  # every message was acknowledged after its job ran
    assert all(b"test.record" not in entry[1][b"data"] for entry in client.xrange(stream))  # no payloads
    client.close()


async def test_a_job_whose_kick_never_came_is_found_by_the_workers_poll(
    redis_settings: Any, engine: Any, stream: str
) -> None:
    from api.runtime import open_runtime

    job_handlers.create_tables(engine)
    settings = redis_settings.model_copy(update={"job_poll_s": 0.1})
    async with open_runtime(settings, engine=engine, redactor=None, knowledge=None) as runtime:
        # A process that enqueues without serving (the CLI, or one that crashed right after its commit).
        job = enqueue(JobQueue(engine=engine, settings=settings, audit=runtime.audit), engine)
        stop = asyncio.Event()
        working = asyncio.create_task(runtime.jobs.work(runtime, stop))
        await until(lambda: runtime.jobs.get(tenant="default", job_id=job.id).status == "done")
        stop.set()
        await asyncio.wait_for(working, 30)
    assert effects(engine, job.id) == 1
    client = redis.Redis.from_url(REDIS_URL)
    assert client.xlen(stream) == 0
    client.close()
