"""Turns of one conversation never overlap across processes on SQLite: a file lock per conversation bucket."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from api.audit import AuditLog
from api.db import make_engine
from api.metrics import Metrics
from api.turns import TurnRunner
from tests.conftest import REPO

HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from api.audit import AuditLog
    from api.db import make_engine
    from api.metrics import Metrics
    from api.turns import TurnRunner

    async def main():
        engine = make_engine(sys.argv[1])
        runner = TurnRunner(engine=engine, audit=AuditLog(engine), metrics=Metrics(), deadline_s=30)
        async with runner.lock(sys.argv[2]):
            print("held", flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def runner(url: str) -> TurnRunner:
    engine = make_engine(url)
    return TurnRunner(engine=engine, audit=AuditLog(engine), metrics=Metrics(), deadline_s=30)


def test_a_second_process_waits_for_the_conversation_and_a_killed_holder_frees_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deskpilot.db'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, "conv-1"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = runner(url)
        order: list[str] = []

        async def scenario() -> None:
            async def take(conversation: str) -> None:
                async with mine.lock(conversation):
                    order.append(conversation)

            other = asyncio.create_task(take("conv-2"))  # another conversation is not held up
            waiting = asyncio.create_task(take("conv-1"))
            await other
            await asyncio.sleep(0.5)
            assert not waiting.done()
            holder.send_signal(signal.SIGKILL)
            await asyncio.wait_for(waiting, 30)

        asyncio.run(scenario())
        assert order == ["conv-2", "conv-1"]
    finally:
        holder.kill()
        holder.wait(10)


def test_two_runners_on_one_database_take_turns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deskpilot.db'}"
    first, second = runner(url), runner(url)
    inside: list[int] = []
    overlaps: list[int] = []

    async def turn(runner: TurnRunner) -> None:
        async with runner.lock("conv-1"):
            inside.append(1)
            overlaps.append(len(inside))
            await asyncio.sleep(0.01)
            inside.pop()

    async def scenario() -> None:
        # A cancelled waiter leaves nothing held behind.
        async with first.lock("conv-1"):
            waiter = asyncio.create_task(turn(second))
            await asyncio.sleep(0.05)
            waiter.cancel()
        await asyncio.gather(*(turn(r) for r in [first, second] * 10))

    asyncio.run(scenario())
    assert overlaps == [1] * 20
