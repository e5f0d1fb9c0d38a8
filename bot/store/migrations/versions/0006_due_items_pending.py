"""Due items still being chased get a partial index of their own, ordered by when they fall
due: the scheduler's claim reads only the first few entries of it, however many obligations
were met before (the done ones, which only grow, are not in it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PENDING = "done_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_due_items_pending",
        "due_items",
        ["due_at"],
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_due_items_pending", table_name="due_items")
