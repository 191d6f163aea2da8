"""a failed job an operator dismissed: gone from the failed views and from retry-all, kept in the history

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN of a nullable column, no table rebuild: the jobs table keeps every job ever run.
    op.add_column("import_jobs", sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch_op:
        batch_op.drop_column("dismissed_at")
