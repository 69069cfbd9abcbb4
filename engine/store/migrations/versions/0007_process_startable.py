"""processes that only other processes call (startable = false); the defaults of the processes
a version calls (called_defaults); worker heartbeats

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_version") as batch:
        batch.add_column(
            sa.Column("startable", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("called_defaults", sa.JSON(), nullable=True))
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("last_run", sa.DateTime(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeat")
    with op.batch_alter_table("process_version") as batch:
        batch.drop_column("called_defaults")
        batch.drop_column("startable")
