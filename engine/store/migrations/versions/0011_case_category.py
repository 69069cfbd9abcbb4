"""case.category (the category a process's `categoryField` holds, e.g. a consultation's 咨詢分類)
and an index of tasks by element and status (the open follow-ups of the daily and weekly
summaries).

Cases classified before this revision have no category: the category report counts them from
the day the revision is in use (their category is in the case's state, which nothing reads to
count).

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
    # Plain ALTER TABLE for an added nullable column (see 0010).
    op.add_column("case", sa.Column("category", sa.String(50), nullable=True))
    op.create_index("ix_task_element_status", "task", ["element_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_task_element_status", table_name="task")
    op.drop_column("case", "category")
