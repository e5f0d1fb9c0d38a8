"""Rollback drills, and the answers the readiness gate gave deploys.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drills",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target_name", sa.String(300), nullable=False),
        sa.Column("target_namespace", sa.String(100), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_drills_target_started", "drills", ["target_kind", "target_name", "started_at"]
    )
    op.create_table(
        "readiness_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("target", sa.String(420), nullable=False),
        sa.Column("release", sa.String(300), nullable=False),
        sa.Column("ready", sa.Boolean, nullable=False),
        sa.Column("decided_at", UTC, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("readiness_decisions")
    op.drop_index("ix_drills_target_started", table_name="drills")
    op.drop_table("drills")
