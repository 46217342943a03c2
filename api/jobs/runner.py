"""Runs claimed jobs: the handler under a renewed lease and a time limit, then done, retry or dead.

One runner per process. Work reaches it two ways, both ending in the same compare-and-set claim:
`run_job(job_id)` (a wake-up from the transport) and `poll()` (due retries, lost wake-ups, and jobs
whose worker died holding them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from anyio import to_thread
from opentelemetry import trace
from sqlalchemy import Engine

from agent.spans import QUIET, failed
from api.jobs import store
from api.jobs.handlers import HANDLERS, DeadJob, Handler, JobContext, JobError, RetryJob
from api.jobs.models import Job
from api.observability.context import bound_request_id
from api.settings import Settings

log = logging.getLogger(__name__)
tracer = trace.get_tracer("deskpilot.jobs")


class JobRunner:
    def __init__(self, *, engine: Engine, settings: Settings, context: JobContext) -> None:
        self.engine = engine
        self.settings = settings
        self.context = context
        self._slots = asyncio.Semaphore(settings.job_concurrency)
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Thread-safe: a job was committed, look now instead of at the next poll."""
        self._loop.call_soon_threadsafe(self._wake.set)

    async def run_job(self, job_id: str) -> None:
        """Runs one job if it is due and nobody holds it; anything else is a no-op (a repeated kick)."""
        async with self._slots:
            try:
                for job in await to_thread.run_sync(self._claim, job_id):
                    await self._execute_as_requested(job)
            except Exception as error:  # noqa: BLE001  (the poll retries; database errors may quote values)
                log.warning("job %s: run failed (%s)", job_id, type(error).__name__)

    async def poll(self) -> None:
        """Forever: claim due jobs while slots are free, then sleep until woken or `job_poll_s` passes."""
        while True:
            self._wake.clear()  # before the scan: a commit during it wakes the next one at once
            try:
                if await to_thread.run_sync(store.anything_due, self.engine):
                    await to_thread.run_sync(store.bury_lost, self.engine)
                    while await self._start_one():
                        pass
            except Exception as error:  # noqa: BLE001  (a database outage must not end the loop)
                log.warning("job poll failed: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.job_poll_s)

    async def _start_one(self) -> bool:
        await self._slots.acquire()
        try:
            claimed = await to_thread.run_sync(self._claim, None)
        except BaseException:
            self._slots.release()
            raise
        if not claimed:
            self._slots.release()
            return False
        self._spawn(self._execute_and_release(claimed[0]))
        return True

    async def _execute_as_requested(self, job: Job) -> None:
        """Under the request id that enqueued the job: its logs, audit events and spans carry it too."""
        with bound_request_id(job.request_id):
            await self._execute(job)

    async def _execute_and_release(self, job: Job) -> None:
        try:
            await self._execute_as_requested(job)
        except Exception as error:  # noqa: BLE001  (the outcome could not be written: the lease will run out)
            log.warning("job %s: outcome not recorded (%s)", job.id, type(error).__name__)
        finally:
            self._slots.release()
            self._wake.set()  # a slot is free: there may be more due work

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_s: float) -> None:
        """Shutdown: let running handlers finish for `grace_s`, then cancel (their claims are released)."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _claim(self, job_id: str | None) -> list[Job]:
        return store.claim(self.engine, lease_s=self.settings.job_lease_s, job_id=job_id)

    async def _execute(self, job: Job) -> None:
        handler = HANDLERS.get(job.kind)
        if handler is None:
            await self._record_failure(job, DeadJob(f"no handler for job kind {job.kind!r}"))
            return
        running = asyncio.create_task(self._call(handler, job))
        try:
            while True:
                done, _ = await asyncio.wait({running}, timeout=self.settings.job_lease_s / 3)
                if done:
                    break
                if not await to_thread.run_sync(self._renew, job):
                    log.warning("job %s: lease lost to another worker; abandoning this run", job.id)
                    running.cancel()
                    await asyncio.gather(running, return_exceptions=True)
                    return
        except asyncio.CancelledError:  # this process is stopping: hand the claim back
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await asyncio.shield(to_thread.run_sync(store.release, self.engine, job))
            raise
        error = asyncio.CancelledError() if running.cancelled() else running.exception()
        if error is None:
            await to_thread.run_sync(store.complete, self.engine, job)
            log.info("job %s (%s) done on attempt %d", job.id, job.kind, job.attempts)
        else:
            await self._record_failure(job, error)

    async def _call(self, handler: Handler, job: Job) -> None:
        attributes: dict[str, str | int] = {
            "deskpilot.job.id": job.id,
            "deskpilot.job.kind": job.kind,
            "deskpilot.job.attempt": job.attempts,
        }
        with tracer.start_as_current_span(f"job {job.kind}", attributes=attributes, **QUIET) as span:
            try:
                async with asyncio.timeout(self.settings.job_timeout_s):
                    await handler(job, self.context)
            except BaseException as error:
                failed(span, error)
                raise

    def _renew(self, job: Job) -> bool:
        """False only when another claim took the job; a failed write keeps the handler going (fencing
        still keeps its outcome from overwriting a newer claim's)."""
        try:
            return store.renew(self.engine, job, lease_s=self.settings.job_lease_s)
        except Exception as error:  # noqa: BLE001
            log.warning("job %s: lease not renewed (%s)", job.id, type(error).__name__)
            return True

    async def _record_failure(self, job: Job, error: BaseException) -> None:
        message = error.message if isinstance(error, JobError) else type(error).__name__
        retry_in: float | None
        if isinstance(error, DeadJob):
            retry_in = None
        elif isinstance(error, RetryJob) and error.after_s is not None:
            retry_in = error.after_s
        else:
            retry_in = store.backoff_s(
                job.attempts, base_s=self.settings.job_backoff_base_s, cap_s=self.settings.job_backoff_cap_s
            )
        outcome = await to_thread.run_sync(
            lambda: store.fail(self.engine, job, error=message, retry_in_s=retry_in)
        )
        log.warning(
            "job %s (%s) attempt %d/%d failed (%s): %s",
            job.id,
            job.kind,
            job.attempts,
            job.max_attempts,
            message,
            outcome or "claim lost",
        )
