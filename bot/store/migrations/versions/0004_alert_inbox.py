"""An inbox for Alertmanager webhooks: stored before they are answered 200, processed behind.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("not_before", UTC, nullable=True),
        sa.Column("claimed_until", UTC, nullable=True),
        sa.Column("processed_at", UTC, nullable=True),
        sa.Column("failed_at", UTC, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("outcomes", sa.Text, nullable=False, server_default="[]"),
        sa.UniqueConstraint("kind", "key", name="uq_inbox_kind_key"),
    )
    op.create_index(
        "ix_inbox_waiting",
        "inbox",
        ["id"],
        sqlite_where=sa.text("processed_at IS NULL AND failed_at IS NULL"),
        postgresql_where=sa.text("processed_at IS NULL AND failed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_waiting", table_name="inbox")
    op.drop_table("inbox")
