"""Delivery per channel: a notice Slack refused for good is marked failed instead of retried
forever; one replica at a time holds a channel's queue; a request remembers that its channel
stopped taking messages, so nothing automatic happens there unseen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("failed_at", UTC, nullable=True))
    op.create_index(
        "ix_outbox_waiting",
        "outbox",
        ["channel_id", "id"],
        sqlite_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
    )
    op.create_table(
        "outbox_channels",
        sa.Column("channel_id", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("held_until", UTC, nullable=False),
    )
    with op.batch_alter_table("rollback_requests") as batch:
        batch.add_column(sa.Column("channel_closed", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollback_requests") as batch:
        batch.drop_column("channel_closed")
    op.drop_table("outbox_channels")
    op.drop_index("ix_outbox_waiting", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("failed_at")
