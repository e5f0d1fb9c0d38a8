"""A destructive change: orders lose their free-text note."""

import sqlalchemy as sa
from alembic import op

revision = "0003_drop_note"
down_revision = "0002_discount"


def upgrade() -> None:
    op.drop_column("orders", "note")


def downgrade() -> None:
    op.add_column("orders", sa.Column("note", sa.Text, nullable=True))
