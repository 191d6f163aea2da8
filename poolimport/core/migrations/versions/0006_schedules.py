"""scheduled sync: a schedule per router, and leases so that one consumer enqueues

Revision ID: 0006
Revises: 0005
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from poolimport.core.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("router_id", sa.Integer(), nullable=False),
        sa.Column("interval", sa.Float(), nullable=False),
        sa.Column("next_run_at", UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("set_by", sa.String(100), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["routers.id"],
            name=op.f("fk_schedules_router_id_routers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("router_id", name=op.f("pk_schedules")),
    )
    op.create_index("ix_schedules_next_run_at", "schedules", ["next_run_at"])
    leases = op.create_table(
        "leases",
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    # Made here, held by nobody: taking it is then always one conditional UPDATE.
    op.bulk_insert(
        leases, [{"name": "scheduler", "holder": "", "expires_at": datetime(1970, 1, 1, tzinfo=UTC)}]
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_schedules_next_run_at", table_name="schedules")
    op.drop_table("schedules")
