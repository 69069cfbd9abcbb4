"""Script helpers about the case's own tasks (registered with @service, so scripts, conditions
and assigneeExpression can call them)."""

from __future__ import annotations

from sqlalchemy import select

from engine.core.status import TaskStatus
from engine.core.stepcontext import current, service
from engine.store.audit import record
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


PRINT_LINES = 50  # lines one step's scripts may print; later ones are dropped
PRINT_CHARS = 1000  # characters kept of one line


@service("print")
def print_to_history(*values: object, sep: str = " ", end: str | None = None) -> None:
    """`print()` in a script: the line goes to the case's history (a `script_output` event),
    as scripts have no console. At most PRINT_LINES lines per step, PRINT_CHARS each."""
    ctx = current()
    count = getattr(ctx, "printed_lines", 0)
    if count >= PRINT_LINES:
        return
    ctx.printed_lines = count + 1  # type: ignore[attr-defined]
    text = str(sep).join(str(v) for v in values)
    record(
        ctx.session,
        "script_output",
        at=ctx.now,
        case_id=ctx.case_id,
        detail={"text": text[:PRINT_CHARS]},
    )
