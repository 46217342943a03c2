"""The job queue a runtime holds (`runtime.jobs`): enqueue in the caller's transaction, admin reads and
retries, and the transport each kind of process runs (`serve` and `work`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event
from sqlmodel import Session

from api.audit import AuditLog
from api.errors import ConflictError, NotFoundError
from api.jobs import store
from api.jobs.handlers import JobContext, load_handler_modules
from api.jobs.models import Job, JobStatus
from api.jobs.runner import JobRunner
from api.observability.context import current_request_id
from api.settings import Settings

if TYPE_CHECKING:
    from taskiq_redis import RedisStreamBroker

    from api.runtime import Runtime

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 64_000
_NUDGES = "deskpilot.jobs.nudges"


class JobQueue:
    def __init__(self, *, engine: Engine, settings: Settings, audit: AuditLog) -> None:
        self.engine = engine
        self.settings = settings
        self.audit = audit
        self._runner: JobRunner | None = None
        self._broker: RedisStreamBroker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- producing ---------------------------------------------------------------------------------

    def enqueue(
        self,
        session: Session,
        *,
        tenant: str,
        kind: str,
        payload: dict[str, Any],
        dedupe_key: str | None = None,
        delay_s: float = 0.0,
        max_attempts: int | None = None,
        request_id: str | None = None,
    ) -> Job:
        """Adds a job to `session`'s transaction: it exists only if the caller commits.

        `payload` carries ids and redacted text, never raw PII. A `dedupe_key` already used for this
        tenant and kind returns that job and adds nothing. After the commit the transport is nudged so
        the job starts at once; a nudge that never comes (another process enqueued, a crash right after
        the commit) costs at most `job_poll_s`, because workers also poll the table.
        """
        if len(json.dumps(payload)) > MAX_PAYLOAD_BYTES:
            raise ValueError("a job payload carries ids and short text; this one is too large")
        job, created = store.add_job(
            session,
            tenant=tenant,
            kind=kind,
            payload=payload,
            dedupe_key=dedupe_key,
            delay_s=delay_s,
            max_attempts=max_attempts or self.settings.job_max_attempts,
            # The request that enqueued it, by default (the column holds 64 characters).
            request_id=(request_id or current_request_id() or "")[:64] or None,
        )
        if created and delay_s <= 0:
            _after_commit(session, partial(self.nudge, job.id))
        return job

    def nudge(self, job_id: str) -> None:
        """Best effort and thread-safe: run the job now rather than at the next poll."""
        if self._runner is not None:
            self._runner.wake()
        elif self._broker is not None and self._loop is not None:
            from api.jobs.broker import kick

            future = asyncio.run_coroutine_threadsafe(kick(self._broker, job_id), self._loop)
            future.add_done_callback(_log_lost_kick)

    # --- admin -------------------------------------------------------------------------------------

    def list(self, *, tenant: str, status: JobStatus | None = None, limit: int = 100) -> list[Job]:
        return store.list_jobs(self.engine, tenant=tenant, status=status, limit=limit)

    def get(self, *, tenant: str, job_id: str) -> Job:
        job = store.get_job(self.engine, tenant=tenant, job_id=job_id)
        if job is None:
            raise NotFoundError("no such job", job_id=job_id)
        return job

    def retry(self, *, tenant: str, job_id: str, actor: str | None) -> Job:
        """dead -> queued with attempts reset, audited in the same transaction."""
        job = self.get(tenant=tenant, job_id=job_id)
        with self.audit.lock, Session(self.engine) as session:
            if not store.requeue_dead(session, tenant=tenant, job_id=job_id):
                raise ConflictError("only a dead job can be retried", job_id=job_id, status=job.status)
            self.audit.append(
                session,
                tenant=tenant,
                type="job.retried",
                actor=actor,
                payload={"job_id": job_id, "kind": job.kind},
            )
            _after_commit(session, partial(self.nudge, job_id))
            session.commit()
        return self.get(tenant=tenant, job_id=job_id)

    # --- transports --------------------------------------------------------------------------------

    @asynccontextmanager
    async def serve(self, runtime: Runtime) -> AsyncIterator[None]:
        """For `deskpilot serve`: run jobs in this process, or with DESKPILOT_REDIS_URL only kick workers."""
        if self.settings.redis_url is None:
            async with self._running(runtime):
                yield
            return
        from api.jobs.broker import make_broker

        broker = make_broker(self.settings)
        await broker.startup()
        self._broker, self._loop = broker, asyncio.get_running_loop()
        try:
            yield
        finally:
            self._broker = None
            await broker.shutdown()

    async def work(self, runtime: Runtime, stop: asyncio.Event) -> None:
        """For `deskpilot worker`: poll the table and, with Redis, take kicks off the stream; until `stop`."""
        async with self._running(runtime) as runner:
            if self.settings.redis_url is None:
                await stop.wait()
                return
            import redis.exceptions

            from api.jobs.broker import consume, make_broker

            while not stop.is_set():
                try:
                    await consume(
                        make_broker(self.settings),
                        runner.run_job,
                        concurrency=self.settings.job_concurrency,
                        grace_s=self.settings.job_shutdown_grace_s,
                        stop=stop,
                    )
                except* (redis.exceptions.RedisError, OSError) as errors:
                    # Redis restarting: the table poll goes on; read the stream again once it is back.
                    log.warning("job stream lost (%s); reconnecting", type(errors.exceptions[0]).__name__)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)

    @asynccontextmanager
    async def _running(self, runtime: Runtime) -> AsyncIterator[JobRunner]:
        load_handler_modules(self.settings.job_handlers)
        runner = JobRunner(engine=self.engine, settings=self.settings, context=JobContext(runtime=runtime))
        self._runner = runner
        poller = asyncio.create_task(runner.poll())
        try:
            yield runner
        finally:
            self._runner = None
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            await runner.drain(self.settings.job_shutdown_grace_s)


def _after_commit(session: Session, nudge: Callable[[], None]) -> None:
    """Nudges run after the caller's commit; a rollback drops them with the rows they were for."""
    if _NUDGES not in session.info:
        session.info[_NUDGES] = []
        event.listen(session, "after_commit", _run_nudges)
        event.listen(session, "after_rollback", _drop_nudges)
    session.info[_NUDGES].append(nudge)


def _run_nudges(session: Session) -> None:
    nudges, session.info[_NUDGES] = session.info[_NUDGES], []
    for nudge in nudges:
        try:
            nudge()
        except Exception as error:  # noqa: BLE001  (the commit happened; a poll will find the job)
            log.warning("job nudge failed: %s", type(error).__name__)


def _drop_nudges(session: Session) -> None:
    session.info[_NUDGES] = []


def _log_lost_kick(future: Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("job kick failed (%s); a worker's poll finds the job", type(future.exception()).__name__)
