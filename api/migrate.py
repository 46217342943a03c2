"""Schema migrations with Alembic: `upgrade` brings any database to the models' schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def modelled_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate leaves tables we do not model (LangGraph's checkpoints) alone instead of dropping them."""
    return not (type_ == "table" and reflected and compare_to is None)


def alembic_config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together: one migrates, the others wait here and then find it current.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('deskpilot:migrate'))"))
        command.upgrade(alembic_config(connection), revision)


def new_revision(engine: Engine, message: str) -> None:
    """Developers: autogenerate a migration from model changes (`deskpilot db revision -m ...`)."""
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
