"""per-pool address counts by status

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COUNTS = ("used_count", "free_count", "stale_count")


def upgrade() -> None:
    with op.batch_alter_table("ip_pools") as batch_op:
        for column in COUNTS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    for column, status in zip(COUNTS, ("used", "free", "stale"), strict=True):
        op.execute(
            f"UPDATE ip_pools SET {column} = (SELECT count(*) FROM pool_addresses"
            f" WHERE pool_addresses.pool_id = ip_pools.id AND pool_addresses.status = '{status}')"
        )


def downgrade() -> None:
    with op.batch_alter_table("ip_pools") as batch_op:
        for column in COUNTS:
            batch_op.drop_column(column)
