"""csat: one customer score (1-5) per conversation, as a channel reports it

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "csat_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", name="uq_csat_conversation"),
    )
    with op.batch_alter_table("csat_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_csat_responses_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_csat_responses_tenant"), ["tenant"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("csat_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csat_responses_tenant"))
        batch_op.drop_index(batch_op.f("ix_csat_responses_created_at"))
    op.drop_table("csat_responses")
