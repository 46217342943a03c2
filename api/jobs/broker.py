"""The at-scale transport: taskiq on a Redis stream carries `run_job(job_id)` to `deskpilot worker`s.

Only the job id travels; the row in the jobs table stays the truth, so a lost or repeated message costs
a poll interval or one no-op claim, never a lost or doubled job. The stream's consumer group acknowledges
a message after `run_job` returns, so a killed worker's message is redelivered to another worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from taskiq import AcknowledgeType
from taskiq.kicker import AsyncKicker
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from api.settings import Settings

log = logging.getLogger(__name__)

RUN_JOB = "deskpilot.run_job"
CONSUMER_GROUP = "deskpilot-workers"


def make_broker(settings: Settings) -> RedisStreamBroker:
    if settings.redis_url is None:
        raise ValueError("the Redis transport needs DESKPILOT_REDIS_URL")
    lease_ms = int(settings.job_lease_s * 1000)
    return RedisStreamBroker(
        url=settings.redis_url,
        queue_name=settings.job_stream,
        consumer_group_name=CONSUMER_GROUP,
        consumer_id="0",  # a group created after the first kicks still sees them
        maxlen=100_000,  # ids only; the jobs table keeps the history
        idle_timeout=lease_ms,  # a message unacknowledged for a lease is taken over by another worker
        unacknowledged_lock_timeout=settings.job_lease_s,  # a killed worker cannot hold the claim lock
        xread_block=2000,  # ms per XREADGROUP; under any socket timeout
    )


async def kick(broker: RedisStreamBroker, job_id: str) -> None:
    kicker: AsyncKicker[[str], Any] = AsyncKicker(task_name=RUN_JOB, broker=broker, labels={})
    await kicker.kiq(job_id)


async def consume(
    broker: RedisStreamBroker,
    run_job: Callable[[str], Awaitable[None]],
    *,
    concurrency: int,
    grace_s: float,
    stop: asyncio.Event,
) -> None:
    """Runs `run_job` for every message until `stop` is set (the broker is started and shut down here)."""
    broker.is_worker_process = True

    async def run_job_task(job_id: str) -> None:  # a plain function: taskiq renames what it registers
        await run_job(job_id)

    broker.register_task(run_job_task, task_name=RUN_JOB)
    receiver = Receiver(
        broker,
        max_async_tasks=concurrency,
        ack_type=AcknowledgeType.WHEN_EXECUTED,
        propagate_exceptions=False,
        run_startup=True,
        wait_tasks_timeout=grace_s,
    )
    try:
        await receiver.listen(stop)
    finally:
        await broker.shutdown()
