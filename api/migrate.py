"""Schema migrations with Alembic: `upgrade` brings any database to the models' schema.

A database already at the head revision is the common case at every start: `upgrade` finds that with one
SELECT and a scan of the revision files' `revision`/`down_revision` lines, without importing Alembic or
running env.py (which loads the migration scripts). Alembic runs only when the schema is behind.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def modelled_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate leaves tables we do not model (LangGraph's checkpoints) alone instead of dropping them."""
    return not (type_ == "table" and reflected and compare_to is None)


def alembic_config(connection: object) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revisions() -> frozenset[str]:
    """The revisions no other revision names as its parent, read from the files in migrations/versions."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {key: ast.literal_eval(value) for key, value in _REVISION_LINE.findall(path.read_text())}
        if "revision" not in found:
            continue
        revisions.add(found["revision"])
        down = found.get("down_revision")
        parents.update([down] if isinstance(down, str) else list(down or ()))
    return frozenset(revisions - parents)


def current_revisions(connection: Connection) -> frozenset[str] | None:
    """What alembic_version records, or None when the table is not there (a new or pre-Alembic database)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def is_current(connection: Connection) -> bool:
    return current_revisions(connection) == head_revisions()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        if revision == "head" and is_current(connection):
            return
        if connection.dialect.name == "postgresql":
            # Replicas starting together: one migrates, the others wait here and then find it current.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('deskpilot:migrate'))"))
        from alembic import command

        command.upgrade(alembic_config(connection), revision)


def new_revision(engine: Engine, message: str) -> None:
    """Developers: autogenerate a migration from model changes (`deskpilot db revision -m ...`)."""
    from alembic import command

    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
