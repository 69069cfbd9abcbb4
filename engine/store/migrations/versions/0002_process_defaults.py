"""process defaults (the documents' blanks as process properties)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_version") as batch:
        batch.add_column(sa.Column("defaults", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_version") as batch:
        batch.drop_column("defaults")
