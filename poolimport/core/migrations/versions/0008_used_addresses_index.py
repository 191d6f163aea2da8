"""an index of each pool's used addresses: a re-import where only leases changed reads those alone

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

USED_ROWS = "status = 'used'"


def upgrade() -> None:
    op.create_index(
        "ix_pool_addresses_used",
        "pool_addresses",
        ["pool_id"],
        sqlite_where=sa.text(USED_ROWS),
        postgresql_where=sa.text(USED_ROWS),
    )


def downgrade() -> None:
    op.drop_index("ix_pool_addresses_used", table_name="pool_addresses")
