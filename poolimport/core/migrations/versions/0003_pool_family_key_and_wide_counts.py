"""pools keyed by (router, family, name); exact pool sizes up to 2**128; 64-bit counts; job source

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from poolimport.core.models import COUNT_DIGITS, AddressCount

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POOL_COUNTS = ("used_count", "free_count", "stale_count")
JOB_COUNTS = ("addresses_done", "addresses_total")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # On SQLite this recreates ip_pools: core.schema runs it with foreign keys off, or the DROP of the old
    # table would cascade to every stored address.
    with op.batch_alter_table("ip_pools") as batch_op:
        batch_op.drop_constraint("uq_ip_pools_router_name", type_="unique")
        batch_op.create_unique_constraint("uq_ip_pools_router_family_name", ["router_id", "family", "name"])
        batch_op.alter_column(
            "total", type_=AddressCount(), existing_type=sa.Integer(), existing_nullable=False
        )
        for column in POOL_COUNTS:
            batch_op.alter_column(column, type_=sa.BigInteger(), existing_type=sa.Integer())
    if sqlite:
        op.execute(f"UPDATE ip_pools SET total = printf('%0{COUNT_DIGITS}d', CAST(total AS INTEGER))")
    with op.batch_alter_table("import_jobs") as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(20), nullable=False, server_default="queue"))
    if not sqlite:  # SQLite's INTEGER is 64 bits already
        for column in JOB_COUNTS:
            op.alter_column("import_jobs", column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch_op:
        batch_op.drop_column("source")
    with op.batch_alter_table("ip_pools") as batch_op:
        batch_op.drop_constraint("uq_ip_pools_router_family_name", type_="unique")
        batch_op.create_unique_constraint("uq_ip_pools_router_name", ["router_id", "name"])
        batch_op.alter_column(
            "total",
            type_=sa.Integer(),
            existing_type=AddressCount(),
            postgresql_using="total::integer",
        )
