"""message_wait: where each case waits for a message, for the heat map

One row per case, element and message name, written by the step with the case's task and timer
rows (engine.runtime.projection) and removed when the case stops waiting there, ends, is
cancelled or moves to another version. The index on (element_id, case_id) lets the heat map
count the waiting cases of a version per element as it counts tasks and timers (0014).

No backfill here. Where a case waits is known only from its SpiffWorkflow state read with its
version's spec; a migration lives in the store layer, below the SpiffWorkflow adapter, and
loading every running case here would make an upgrade take minutes on a large database. The
rows of a case appear at its next step; `caseflow reproject` writes them at once for every
running case (Runtime.reproject_cases: one step transaction per case, the one write path).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_wait",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("case.id"),
            primary_key=True,
        ),
        sa.Column("element_id", sa.String(200), primary_key=True),
        sa.Column("message", sa.String(300), primary_key=True),
    )
    op.create_index("ix_message_wait_element", "message_wait", ["element_id", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_message_wait_element", table_name="message_wait")
    op.drop_table("message_wait")
