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
            # WAL lets the API read while a turn writes; foreign keys are off by default in SQLite.
            # synchronous=NORMAL in WAL mode: a commit survives the process being killed (SIGKILL); only a
            # power loss can take back the last commits, and the file is never corrupted.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
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
