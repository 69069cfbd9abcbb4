"""user.session_version: sign-out and a password change end every session of the user

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite 3.35+ drops columns itself): a batch copy of "user" would trip
# the foreign keys of user_role and api tokens.


def upgrade() -> None:
    op.add_column(
        "user", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("user", "session_version")
