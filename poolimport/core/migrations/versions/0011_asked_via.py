"""how a job was asked for: the CLI or the TUI, over SSH with which key, the schedule, an auto-retry

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column, no table rebuild: the jobs before it say nothing of how they were asked for.
    op.add_column("import_jobs", sa.Column("asked_via", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch_op:
        batch_op.drop_column("asked_via")
