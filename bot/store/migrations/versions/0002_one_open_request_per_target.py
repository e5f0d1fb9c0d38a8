"""One open rollback request per target: the open request holds its target's label in a unique
column, cleared when the request ends.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN_STATES = (
    "proposed",
    "awaiting_decision",
    "awaiting_approval",
    "approved",
    "executing",
    "verifying",
)
LABEL = (
    "target_kind || '/' || target_name"
    " || CASE WHEN target_namespace IS NULL THEN '' ELSE ' -n ' || target_namespace END"
)


def upgrade() -> None:
    with op.batch_alter_table("rollback_requests") as batch:
        batch.add_column(sa.Column("open_target", sa.String(420), nullable=True))
    states = ", ".join(f"'{s}'" for s in OPEN_STATES)
    # Requests opened before this rule: the newest open one per target holds the target.
    op.execute(
        f"UPDATE rollback_requests SET open_target = {LABEL} "
        f"WHERE state IN ({states}) AND id = ("
        f"  SELECT r2.id FROM rollback_requests r2"
        f"  WHERE r2.target_kind = rollback_requests.target_kind"
        f"    AND r2.target_name = rollback_requests.target_name"
        f"    AND COALESCE(r2.target_namespace, '') = COALESCE(rollback_requests.target_namespace, '')"
        f"    AND r2.state IN ({states})"
        f"  ORDER BY r2.created_at DESC, r2.id DESC LIMIT 1)"
    )
    op.create_index(
        "uq_rollback_requests_open_target", "rollback_requests", ["open_target"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_rollback_requests_open_target", table_name="rollback_requests")
    with op.batch_alter_table("rollback_requests") as batch:
        batch.drop_column("open_target")
