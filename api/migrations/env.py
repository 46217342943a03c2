"""Alembic environment: runs on the connection api.db hands it (no alembic.ini, no URL of its own)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import agent.pii.vault  # noqa: F401  (registers every table on SQLModel.metadata)
import api.deliveries  # noqa: F401
import api.integrations.models  # noqa: F401
import api.jobs.models  # noqa: F401
import api.models  # noqa: F401
import api.signals  # noqa: F401
import api.triage_batches  # noqa: F401
import tools.backends.sql_models  # noqa: F401
from api.migrate import modelled_only

connection = context.config.attributes["connection"]


context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    include_object=modelled_only,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
