"""Script helpers about the case's own tasks (registered with @service, so scripts, conditions
and assigneeExpression can call them)."""

from __future__ import annotations

from sqlalchemy import select

from engine.core.status import TaskStatus
from engine.core.stepcontext import current, service
from engine.store.tables import Task


@service()
def completed_by(element_id: str) -> str | None:
    """Who last completed the task `element_id` of this case (None while nobody has), e.g.
    `assigneeExpression="completed_by('record_consultation')"`: the receiving agent reviews."""
    ctx = current()
    return ctx.session.scalar(
        select(Task.completed_by)
        .where(
            Task.case_id == ctx.case_id,
            Task.element_id == str(element_id),
            Task.status == TaskStatus.DONE,
        )
        .order_by(Task.completed_at.desc(), Task.id.desc())
        .limit(1)
    )
