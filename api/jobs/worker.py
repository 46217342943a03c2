"""`deskpilot worker`: one process that runs jobs until SIGTERM/SIGINT; start more to scale out."""

from __future__ import annotations

import asyncio
import logging
import signal

from api.settings import Settings

log = logging.getLogger(__name__)


async def work(settings: Settings) -> None:
    from api.runtime import open_runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with open_runtime(settings) as runtime:
        transport = f"Redis stream {settings.job_stream}" if settings.redis_url else "the jobs table"
        log.info("worker ready: %d at once, taking jobs from %s", settings.job_concurrency, transport)
        await runtime.jobs.work(runtime, stop)
    log.info("worker stopped")


def run_worker(settings: Settings) -> None:
    from api.observability import configure_logging, configure_tracing

    configure_logging(level=settings.log_level, fmt=settings.log_format)
    configure_tracing(settings.otel_exporter_otlp_endpoint, service_name=settings.otel_service_name)
    asyncio.run(work(settings))
