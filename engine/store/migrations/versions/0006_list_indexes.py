"""indexes for lists at scale: newest-first case lists, claimed and overdue tasks

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_started", "case", ["started_at", "id"])
    op.create_index("ix_case_process_started", "case", ["process_key", "started_at", "id"])
    op.drop_index("ix_task_assignee_status", table_name="task")
    op.create_index(
        "ix_task_assignee_status_due", "task", ["assignee", "status", "due_at", "case_id"]
    )
    op.create_index("ix_task_status_due", "task", ["status", "due_at", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_task_status_due", table_name="task")
    op.drop_index("ix_task_assignee_status_due", table_name="task")
    op.create_index("ix_task_assignee_status", "task", ["assignee", "status"])
    op.drop_index("ix_case_process_started", table_name="case")
    op.drop_index("ix_case_started", table_name="case")
