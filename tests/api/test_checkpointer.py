"""The SQLite checkpointer's durability is chosen, like the store's (api/db.py): WAL, synchronous=NORMAL."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from api.runtime import open_checkpointer
from api.settings import Settings


def test_the_sqlite_checkpointer_keeps_wal_and_normal_sync_and_survives_reopening(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=None)

    async def scenario() -> tuple[Any, Any, Any]:
        async with AsyncExitStack() as stack:
            saver: Any = await open_checkpointer(settings, stack)
            await saver.setup()
            async with saver.conn.execute("PRAGMA synchronous") as cursor:
                synchronous = (await cursor.fetchone())[0]
            async with saver.conn.execute("PRAGMA journal_mode") as cursor:
                journal = (await cursor.fetchone())[0]
            config = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
            checkpoint = {
                "v": 1,
                "id": "1ef00000-0000-6000-8000-000000000001",
                "ts": "2026-12-06T00:00:00+00:00",
                "channel_values": {"messages": ["hello"]},
                "channel_versions": {},
                "versions_seen": {},
            }
            await saver.aput(config, checkpoint, {"source": "input", "step": 0}, {})
        async with AsyncExitStack() as stack:  # a new process would open the file the same way
            reopened: Any = await open_checkpointer(settings, stack)
            stored = await reopened.aget_tuple({"configurable": {"thread_id": "t1", "checkpoint_ns": ""}})
        return synchronous, journal, stored

    synchronous, journal, stored = asyncio.run(scenario())
    assert synchronous == 1 and journal == "wal"  # 1: NORMAL (2 would be FULL, SQLite's default)
    assert stored is not None and stored.checkpoint["channel_values"]["messages"] == ["hello"]
