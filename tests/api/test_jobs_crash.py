"""A job survives `kill -9` of the worker process that held it: a new worker runs it, its effect happens once.

Real `deskpilot worker` processes: on SQLite (the jobs table polled) and on PostgreSQL with Redis (the
at-scale shape). The handler `test.record` counts every start and keys its effect by the job id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from api.audit import AuditLog
from api.db import create_schema, make_engine
from api.jobs import JobQueue
from tests.api import job_handlers
from tests.api.job_handlers import effects, runs, wait_for
from tests.api.test_jobs_redis import REDIS_URL
from tests.api.test_postgres import pg_engine, pg_url  # noqa: F401  (fixtures)
from tests.conftest import REPO

DESKPILOT = Path(sys.executable).parent / "deskpilot"
# A worker builds the whole runtime (Presidio, Chroma, the embedder) before it claims: ~20 s each on an
# idle 2-core machine, more when it is busy; two starts per test.
pytestmark = pytest.mark.timeout(900)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(DESKPILOT), "worker"], env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT
        )


def worker_env(home: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DESKPILOT_")}
    env.update(
        PYTHONPATH=str(REPO),  # so the worker can import tests.api.job_handlers
        DESKPILOT_HOME=str(home),
        DESKPILOT_FORCE_OFFLINE="true",
        DESKPILOT_JOB_HANDLERS='["tests.api.job_handlers"]',
        DESKPILOT_JOB_LEASE_S="2",
        DESKPILOT_JOB_POLL_S="0.2",
        **extra,
    )
    return env


def crash_and_recover(
    engine: Any, settings: Any, env: dict[str, str], tmp_path: Path, effect_first: bool
) -> None:
    job_handlers.create_tables(engine)
    queue = JobQueue(engine=engine, settings=settings, audit=AuditLog(engine))
    with Session(engine, expire_on_commit=False) as session:
        job = queue.enqueue(
            session,
            tenant="default",
            kind="test.record",
            payload={"sleep_s": 4, "effect_first": effect_first, "note": "once"},
        )
        session.commit()
    log = tmp_path / "worker.log"
    first = start_worker(env, log)
    try:
        wait_for(
            lambda: runs(engine, job.id) == 1 and (not effect_first or effects(engine, job.id) == 1),
            within_s=240,
        )
        first.send_signal(signal.SIGKILL)  # mid-handler: asleep, effect taken or not
        assert first.wait(30) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    held = queue.get(tenant="default", job_id=job.id)
    assert (held.status, held.attempts, effects(engine, job.id)) == ("running", 1, int(effect_first))

    second = start_worker(env, log)
    try:
        done = wait_for(
            lambda: (row := queue.get(tenant="default", job_id=job.id)).status == "done" and row, within_s=240
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
    assert (done.attempts, runs(engine, job.id), effects(engine, job.id)) == (2, 2, 1), log.read_text()[
        -3000:
    ]


def test_a_job_survives_sigkill_of_its_worker_on_sqlite(settings: Any, tmp_path: Path) -> None:
    settings.ensure_home()
    engine = make_engine(settings.effective_database_url)
    create_schema(engine)
    try:
        crash_and_recover(engine, settings, worker_env(settings.home), tmp_path, effect_first=False)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_job_survives_sigkill_of_its_worker_on_postgres_and_redis(
    settings: Any,
    pg_engine: Any,  # noqa: F811
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import redis

    stream = f"deskpilot-test:{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {type(error).__name__}")
    env = worker_env(
        settings.home,
        DESKPILOT_DATABASE_URL=pg_url,
        DESKPILOT_REDIS_URL=REDIS_URL,
        DESKPILOT_JOB_STREAM=stream,
    )
    try:  # the effect is taken before the kill: the second run must not take it again
        crash_and_recover(pg_engine, settings, env, tmp_path, effect_first=True)
    finally:
        client.delete(stream, f"autoclaim:deskpilot-workers:{stream}")
        client.close()
