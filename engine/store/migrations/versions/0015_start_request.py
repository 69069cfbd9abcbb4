"""one case per start request: booking forms and API clients repeat a start safely

A repeated start (a reloaded booking page, a double click reaching another server process, an
API client retrying with the same Idempotency-Key) finds the case the first one started.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "start_request",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_start_request_case_id", "start_request", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_start_request_case_id", table_name="start_request")
    op.drop_table("start_request")
