"""A discount on every order, filled for the existing ones, and the coupons it came from."""

import sqlalchemy as sa
from alembic import op

revision = "0002_discount"
down_revision = "0001_orders"


def upgrade() -> None:
    op.add_column("orders", sa.Column("discount", sa.Integer, nullable=True))
    op.execute("UPDATE orders SET discount = 5")
    op.create_table(
        "coupons",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("percent", sa.Integer, nullable=False),
    )
    op.execute("INSERT INTO coupons (code, percent) VALUES ('WELCOME5', 5), ('VIP10', 10)")


def downgrade() -> None:
    op.drop_table("coupons")
    op.drop_column("orders", "discount")
