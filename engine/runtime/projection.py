"""Keep the task, timer and message wait rows in step with a case's SpiffWorkflow state.

Inboxes, lists and the timer worker read only these rows; this module is the one place that
derives them from the workflow, at the end of every step, inside the step's transaction. What
the workflow waits on is read in engine.runtime.waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine.core.status import CaseStatus, TaskStatus, TimerStatus
from engine.runtime import kpi
from engine.runtime.waits import (
    case_data,
    caught_element,
    message_waits,
    pending_tasks,
    timer_definition,
    timer_due,
    waiting_timers,
)
from engine.spiff import adapter as spiff
from engine.store.records import TaskRecord, TimerRecord
from engine.store.rows import Rows
from engine.store.tables import Task, Timer


def _task_due(task: Any) -> datetime | None:
    """A human task's due time is the earliest timer on its boundary."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    dues = [
        timer_due(sibling)
        for sibling in parent.children
        if sibling is not task
        and timer_definition(sibling) is not None
        and sibling.has_state(TaskState.WAITING)
    ]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


@dataclass
class Projection:
    """The case's open task rows (by id) and waiting timer rows (by due time) after a step."""

    open_tasks: list[TaskRecord] = field(default_factory=list)
    timers: list[TimerRecord] = field(default_factory=list)
    # What the step computed anyway, for the case's view: pending_tasks() and case_data().
    pending: list[Any] | None = None
    data: dict[str, Any] | None = None


def project(
    session: Session | None,
    case: Any,
    version: Any,
    workflow: BpmnWorkflow,
    now: datetime,
    default_role: str,
    fired_until: datetime | None = None,
    rows: Rows | None = None,
    zone: tzinfo | None = None,
) -> Projection:
    """Bring task rows, timer rows, message wait rows, the case's status and search fields,
    and the KPI rollup up to date.

    `case` is a store Case or a CaseRecord, `version` anything with `task_meta` (and
    `kpi_fields`); the rows are written with plain SQL in the session's transaction (see
    engine.store.rows), or on `rows` when given (then `session` may be None). `zone`: the
    company's, for the rollup's days (default: the one the engine reads timers in)."""
    rows = rows or Rows.of(session)
    zone = zone or spiff.company_timezone()
    pending = pending_tasks(workflow)
    projection = Projection(
        _project_tasks(rows, case, version, workflow, now, default_role, pending, zone),
        _project_timers(rows, case, workflow, now, fired_until),
        pending,
    )
    project_message_waits(rows, case.id, workflow)
    if session is not None and session.identity_map:
        # ORM objects of rows written above (e.g. loaded by a caller) must not stay stale.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Task | Timer):
                session.expire(obj)
    errored = workflow.get_tasks(state=TaskState.ERROR)
    ended = False
    if errored:
        case.status = CaseStatus.ERROR
    elif workflow.is_completed():
        ended = case.status != CaseStatus.COMPLETED
        case.status = CaseStatus.COMPLETED
        case.ended_at = now
        case.error_element = case.error_message = None
    else:
        case.status = CaseStatus.RUNNING
        case.error_element = case.error_message = None
    data = projection.data = case_data(workflow, pending)
    if ended:
        # How it ended: the outcome of the end event it reached, and what its process's
        # declared KPI fields held; then its part of the rollup.
        case.outcome = spiff.reached_outcome(workflow)
        kpi.take_case_values(case, getattr(version, "kpi_fields", None), data, zone)
        kpi.case_ended(rows, case, zone)
    category_field = (getattr(version, "kpi_fields", None) or {}).get("category")
    if category_field and category_field in data:
        category = kpi.category_of(data.get(category_field))
        if category and category != case.category:
            rows.kpi_add(
                kpi.category_items(case.process_key, case.started_at, case.category, category, zone)
            )
            case.category = category
    case.customer_name = _text(data.get("customer_name"), 200) or case.customer_name
    case.customer_phone = (
        _text(data.get("customer_phone") or data.get("phone"), 40) or case.customer_phone
    )
    case.service_item = _text(data.get("service_item"), 200) or case.service_item
    return projection


def _text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:limit] or None


def _project_tasks(
    rows: Rows,
    case: Any,
    version: Any,
    workflow: BpmnWorkflow,
    now: datetime,
    default_role: str,
    pending: list[Any],
    zone: tzinfo,
) -> list[TaskRecord]:
    # The human tasks that are ready: get_tasks(state=READY, manual=True) walks the tree in the
    # same order as pending_tasks(), so they are taken from it.
    ready = {str(t.id): t for t in pending if t.state == TaskState.READY and t.task_spec.manual}
    known = {row.spiff_task_id: row for row in rows.active_tasks(case.id)}
    still_open = []
    for spiff_id, row in known.items():
        if spiff_id not in ready:
            rows.update_task(row, status=TaskStatus.CANCELLED.value, completed_at=now)
            # Escalated or cut short past its due time: a missed deadline.
            rows.kpi_add(
                kpi.task_items(
                    case.process_key,
                    TaskStatus.CANCELLED,
                    row.due_at,
                    now,
                    row.assignee,
                    zone,
                    kpi.summary_of(version.task_meta, row.element_id),
                    row.created_at,
                )
            )
            rows.event(
                "task_cancelled",
                at=now,
                case_id=case.id,
                element_id=row.element_id,
                detail={"task": row.id},
            )
        else:
            due = _task_due(ready[spiff_id])
            if due is None and row.due_at is not None and row.due_at <= now:
                # Its deadline timer fired (an escalation, non-interrupting): the task is still
                # due when it was, i.e. overdue, not without a due time.
                due = row.due_at
            if due != row.due_at:
                rows.update_task(row, due_at=due)
            still_open.append(row)
    for spiff_id, task in ready.items():
        if spiff_id in known:
            continue
        element_id = task.task_spec.bpmn_id
        meta = version.task_meta.get(element_id, {})
        row = TaskRecord(
            id=None,
            case_id=case.id,
            spiff_task_id=spiff_id,
            element_id=element_id,
            name=meta.get("name") or task.task_spec.bpmn_name or element_id,
            role=meta.get("role") or default_role,
            form_id=meta.get("form_id"),
            instructions=meta.get("instructions"),
            assignee=None,
            status=TaskStatus.OPEN.value,
            created_at=now,
            due_at=_task_due(task),
        )
        assignee, refusal = _assignee(rows, task, meta.get("assignee"), row.role)
        if assignee:
            row.status, row.assignee = TaskStatus.CLAIMED.value, assignee
        rows.insert_task(row)
        rows.kpi_add(
            kpi.opened_items(
                case.process_key, kpi.summary_of(version.task_meta, element_id), now, zone
            )
        )
        rows.event(
            "task_opened",
            at=now,
            case_id=case.id,
            element_id=element_id,
            detail={
                "task": row.id,
                "role": row.role,
                **({"assignee": assignee} if assignee else {}),
            },
        )
        if refusal:
            rows.event(
                "task_not_assigned",
                at=now,
                case_id=case.id,
                element_id=element_id,
                detail={"task": row.id, "reason": refusal},
            )
        still_open.append(row)
    still_open.sort(key=lambda r: r.id)
    return still_open


def _assignee(
    rows: Rows, task: Any, expression: str | None, role: str
) -> tuple[str | None, str | None]:
    """(user, None) when the task's assigneeExpression names an active user who holds its
    role; else (None, why not): the task then stays open to the whole role, and the case's
    history says why, rather than the case failing over a person who left."""
    if not expression:
        return None, None
    try:
        value = task.workflow.script_engine.evaluate(task, expression)
    except Exception as exc:  # noqa: BLE001 - any failure leaves the task to the role
        return None, f"assigneeExpression failed: {exc}"[:500]
    if value is None or value == "":
        return None, "assigneeExpression gave no one"
    name = str(value).strip()
    roles = rows.user_roles(name)
    if roles is None:
        return None, f"{name!r} is not an active user"[:500]
    if role not in roles:
        return None, f"{name!r} does not hold the role {role}"[:500]
    return name, None


def _project_timers(
    rows: Rows,
    case: Any,
    workflow: BpmnWorkflow,
    now: datetime,
    fired_until: datetime | None,
) -> list[TimerRecord]:
    waiting = {(str(task.id), due): task for task, due in waiting_timers(workflow)}
    known = {(row.spiff_task_id, row.due_at): row for row in rows.waiting_timers(case.id)}
    still_waiting = []
    for key, row in known.items():
        if key in waiting:
            still_waiting.append(row)
            continue
        spiff_task = _find(workflow, row.spiff_task_id)
        fired = (
            fired_until is not None
            and row.due_at <= fired_until
            and spiff_task is not None
            and (
                spiff_task.has_state(TaskState.COMPLETED) or spiff_task.has_state(TaskState.WAITING)
            )
        )
        rows.end_timer(
            row,
            TimerStatus.FIRED.value if fired else TimerStatus.CANCELLED.value,
            now if fired else None,
        )
        rows.event(
            "timer_fired" if fired else "timer_cancelled",
            at=now,
            case_id=case.id,
            element_id=row.element_id,
            detail={"timer": row.id, "due_at": row.due_at.isoformat()},
        )
    for key, task in waiting.items():
        if key in known:
            continue
        definition = timer_definition(task)
        element_id, name = caught_element(task, definition)
        row = TimerRecord(
            id=None,
            spiff_task_id=key[0],
            element_id=element_id,
            name=name,
            kind=_timer_kind(definition),
            due_at=key[1],
            status=TimerStatus.WAITING.value,
        )
        rows.insert_timer(case.id, row, now)
        still_waiting.append(row)
    case.next_timer_at = min((due for _, due in waiting), default=None)
    still_waiting.sort(key=lambda r: (r.due_at, r.id))
    return still_waiting


def project_message_waits(rows: Rows, case_id: int, workflow: BpmnWorkflow | None) -> None:
    """Make the case's message wait rows say where it waits for a message now (nowhere once
    it has ended, or when `workflow` is None: a cancelled case). Only the rows that changed
    are written, so a step that moves nothing here costs one indexed read."""
    now = set() if workflow is None or workflow.is_completed() else message_waits(workflow)
    before = rows.message_waits(case_id)
    if before - now:
        rows.drop_message_waits(case_id, sorted(before - now))
    if now - before:
        rows.add_message_waits(case_id, sorted(now - before))


def _timer_kind(definition: TimerEventDefinition) -> str:
    if isinstance(definition, CycleTimerEventDefinition):
        return "cycle"
    if isinstance(definition, DurationTimerEventDefinition):
        return "duration"
    return "date"


def _find(workflow: BpmnWorkflow, spiff_id: str) -> Any:
    from uuid import UUID

    try:
        return workflow.get_task_from_id(UUID(spiff_id))
    except Exception:
        return None
