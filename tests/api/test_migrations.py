"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from api.db import create_schema, make_engine
from tests.api.test_postgres import pg_engine  # noqa: F401  (fixture)


def schema_drift(engine: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


def test_migrations_match_the_models_on_sqlite(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    create_schema(engine)
    assert schema_drift(engine) == []
    create_schema(engine)  # idempotent


def test_migrations_match_the_models_on_postgres(pg_engine: Any) -> None:  # noqa: F811
    assert schema_drift(pg_engine) == []


def test_a_database_from_before_migrations_is_adopted(tmp_path: Any) -> None:
    from sqlalchemy import text

    from api.migrate import upgrade

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")  # the schema that databases made before migrations have, without a version
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    create_schema(engine)
    assert "alembic_version" in inspect(engine).get_table_names()
    assert schema_drift(engine) == []


def test_autogenerate_leaves_tables_it_does_not_model_alone(tmp_path: Any) -> None:
    from alembic.autogenerate import produce_migrations
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    create_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE checkpoints (thread_id TEXT PRIMARY KEY)"))
    from api.migrate import modelled_only

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": modelled_only})
        script = produce_migrations(context, SQLModel.metadata)
    assert script.upgrade_ops is not None and script.upgrade_ops.is_empty()
