"""event kinds, and import kinds with one live job per router and kind

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

LIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    # Plain ADD COLUMN, no table rebuild: a job log can hold millions of events.
    op.add_column("job_events", sa.Column("kind", sa.String(40), nullable=True))
    op.add_column("import_jobs", sa.Column("kind", sa.String(20), nullable=False, server_default="pools"))
    op.drop_index("uq_import_jobs_live_router", table_name="import_jobs")
    op.create_index(
        "uq_import_jobs_live_router_kind",
        "import_jobs",
        ["router_id", "kind"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_import_jobs_live_router_kind", table_name="import_jobs")
    op.create_index(
        "uq_import_jobs_live_router",
        "import_jobs",
        ["router_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    with op.batch_alter_table("import_jobs") as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("job_events") as batch_op:
        batch_op.drop_column("kind")
