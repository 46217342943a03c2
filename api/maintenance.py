"""The periodic sweep every process runs: expire overdue approvals, fail turns a dead process left running.

Both steps are compare-and-sets in the database, so any number of processes can sweep at once and each
approval expires, and each turn fails, exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


async def sweep(runtime: Any) -> None:
    expired = await runtime.approvals.expire_due()
    stale = await run_in_threadpool(
        runtime.conversations.turns.mark_stale, runtime.settings.turn_stale_after_s
    )
    if expired or stale:
        log.info("maintenance: %d approvals expired, %d interrupted turns marked failed", len(expired), stale)


@asynccontextmanager
async def maintenance(runtime: Any) -> AsyncIterator[None]:
    """Sweeps every `maintenance_interval_s` while the app runs; on shutdown lets running turns finish."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(runtime.settings.maintenance_interval_s)
            try:
                await sweep(runtime)
            except Exception:  # noqa: BLE001 - a failed sweep is retried on the next tick
                log.warning("maintenance sweep failed", exc_info=True)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await runtime.conversations.turns.wait_idle(timeout_s=10)
