"""throttle: limits against guessing shared by every server process

Sign-in failures and the customer portal's lookups were counted in each web process's memory:
with several processes a guesser got that many times the attempts, and a restart forgot every
count. One row per (scope, hashed key) holds a key's latest attempt times (rate limits) and its
failure count and next allowed time (backoff); engine.identity.throttle reads and writes them.
Keys (addresses, user names, booking numbers) are stored only as an HMAC under the
installation's secret. `expires_at` (indexed) lets each write delete a few rows that no longer
count.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttle",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.Column("next_allowed_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key_hash"),
    )
    op.create_index("ix_throttle_expires_at", "throttle", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_throttle_expires_at", table_name="throttle")
    op.drop_table("throttle")
