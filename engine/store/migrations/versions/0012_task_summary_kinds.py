"""What a task counts as in the daily and weekly summaries moves from a list of element ids in
the code to the diagram (user task property `summary`, kept in process_version.task_meta).

Versions deployed before this revision have no declarations: each of their task_meta entries
gets the kind the code's list gave that element, so their running and ended cases count as
before (the rollup itself is unchanged). Data only; the schema does not change.

Revision ID: 0012
Revises: 0011
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The lists as the code held them before this revision.
KINDS = {
    **dict.fromkeys(
        (
            "followup_day3",
            "followup_day8",
            "followup_day15",
            "final_followup",
            "tracking_contact",
            "customer_callback",
            "confirm_end",
            "callback",
            "satisfaction_callback",
            "aftersales_followup",
            "internship_followup",
        ),
        "followup",
    ),
    **dict.fromkeys(
        (
            "supervisor_followup",
            "supervisor_handle",
            "chase_department",
            "supervise_overdue",
            "review_escalated",
            "reply_feedback_escalated",
            "mediate",
            "supervisor_mediate",
            "supervise_followup",
        ),
        "escalation",
    ),
    "sign_contract": "placement",
    "reply_customer": "reply",
    "reply_feedback": "reply",
}
# reply_feedback_escalated was counted both as an escalation (when it opened) and as a reply
# (when done); one kind per task now: it is the supervisor's escalation.


def _rewrite(declare: bool) -> None:
    bind = op.get_bind()
    meta_param = "CAST(:meta AS JSON)" if bind.dialect.name == "postgresql" else ":meta"
    rows = bind.execute(sa.text("SELECT id, task_meta FROM process_version")).all()
    for version_id, meta in rows:
        if isinstance(meta, str):
            meta = json.loads(meta)
        if not isinstance(meta, dict):
            continue
        changed = False
        for element_id, entry in meta.items():
            if not isinstance(entry, dict):
                continue
            if declare and "summary" not in entry:
                entry["summary"] = KINDS.get(element_id)
                changed = True
            elif not declare and "summary" in entry:
                del entry["summary"]
                changed = True
        if changed:
            bind.execute(
                sa.text(f"UPDATE process_version SET task_meta = {meta_param} WHERE id = :id"),
                {"meta": json.dumps(meta, ensure_ascii=False), "id": version_id},
            )


def upgrade() -> None:
    _rewrite(declare=True)


def downgrade() -> None:
    _rewrite(declare=False)
