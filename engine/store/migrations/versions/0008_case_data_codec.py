"""case data written by Caseflow's own converter (engine.core.datacodec) instead of SpiffWorkflow's
registry: every stored case state of format 1.5 is rewritten as 1.5+cf.data.1, its dates and
durations kept, every other "typename" dict turned into plain data

Revision ID: 0008
Revises: 0007
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD, NEW = "1.5", "1.5+cf.data.1"
BATCH = 500


def upgrade() -> None:
    from engine.core import datacodec

    conn = op.get_bind()
    case = sa.table(
        "case",
        sa.column("id", sa.Integer),
        sa.column("state", sa.Text),
        sa.column("serializer_version", sa.String),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(case.c.id, case.c.state)
            .where(case.c.serializer_version == OLD, case.c.id > last)
            .order_by(case.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for case_id, state in rows:
            last = case_id
            try:
                dct = json.loads(state) if state else {}
            except ValueError:
                continue  # unreadable before as well; left for an operator to look at
            datacodec.upgrade_legacy_state(dct)
            dct["serializer_version"] = NEW
            conn.execute(
                case.update()
                .where(case.c.id == case_id)
                .values(state=json.dumps(dct, ensure_ascii=False), serializer_version=NEW)
            )


def downgrade() -> None:
    # The older format read data through SpiffWorkflow's registry, which is what this
    # migration closes; states stay in the new format (an older release cannot load them).
    pass
