"""A database at the head revision starts without Alembic; one that is behind is still migrated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from api import migrate
from api.db import create_schema, make_engine
from tests.api.test_postgres import pg_engine  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]


def test_the_heads_read_from_the_files_are_alembics_own() -> None:
    with make_engine("sqlite://").connect() as connection:
        script = ScriptDirectory.from_config(migrate.alembic_config(connection))
    assert migrate.head_revisions() == frozenset(script.get_heads())


def test_a_current_database_is_not_handed_to_alembic(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    create_schema(engine)
    from alembic import command

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("alembic ran on a database already at head")

    monkeypatch.setattr(command, "upgrade", refuse)
    create_schema(engine)


def test_a_database_behind_is_upgraded(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    migrate.upgrade(engine, "0007")
    assert "expires_at" not in {c["name"] for c in inspect(engine).get_columns("api_keys")}
    create_schema(engine)
    assert "expires_at" in {c["name"] for c in inspect(engine).get_columns("api_keys")}
    with engine.connect() as connection:
        assert migrate.current_revisions(connection) == migrate.head_revisions()


def test_a_new_database_has_no_revision(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'n.db'}")
    with engine.connect() as connection:
        assert migrate.current_revisions(connection) is None
        assert not migrate.is_current(connection)


def test_the_fast_path_on_postgres(pg_engine: Any) -> None:  # noqa: F811  (already migrated by the fixture)
    with pg_engine.connect() as connection:
        assert migrate.is_current(connection)
        connection.execute(text("UPDATE alembic_version SET version_num = '0007'"))
        assert not migrate.is_current(connection)
        connection.rollback()


def test_starting_on_a_current_database_imports_no_alembic(tmp_path: Any) -> None:
    create_schema(make_engine(f"sqlite:///{tmp_path / 's.db'}"))
    probe = (
        "import sys; from api.db import create_schema, make_engine; "
        f"create_schema(make_engine('sqlite:///{tmp_path / 's.db'}')); "
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
