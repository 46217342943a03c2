"""Database engine and sessions: SQLite file by default, PostgreSQL through DESKPILOT_DATABASE_URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import create_engine


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            """Each pragma and the durability it leaves (issue 13: chosen, not defaulted).

            - journal_mode=WAL: readers never block the one writer (the API reads while a turn writes);
              commits append to the -wal file, folded back into the database by checkpoints.
            - synchronous=NORMAL (in WAL): no fsync per commit, one per WAL checkpoint. A commit survives
              the process being killed (SIGKILL: the crash tests kill servers mid-turn); a power loss or
              kernel crash can take back the last commits before the next checkpoint, and the file is
              never corrupted. FULL would fsync every commit (several per turn) for that last case only.
            - foreign_keys=ON: off by default in SQLite; no effect on durability.
            - busy_timeout=30000: a writer waits up to 30 s for another process's write lock instead of
              failing at once (several processes may share the file).
            - cache_size=-16384 (16 MiB of pages per connection instead of 2 MiB) and temp_store=MEMORY
              (sorts and temporary indexes in memory): reads the pool's connections need not redo; a
              cache only, nothing of durability.
            """
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA cache_size=-16384")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Brings the database to the current schema with the Alembic migrations in api/migrations."""
    from sqlalchemy import inspect

    from api import migrate

    tables = set(inspect(engine).get_table_names())
    if "api_keys" in tables and "alembic_version" not in tables:
        # A database made before migrations existed: it already has the initial schema.
        from alembic import command

        with engine.begin() as connection:
            command.stamp(migrate.alembic_config(connection), "0001")
    migrate.upgrade(engine)
