"""Read-only lists for supervisors: cases with filters and keyset paging, and what a case's
diagram should show; and `visible`, the cases a user may find (engine.core.rules.case_scope) as
a condition for the staff's customer search (engine.casework.customer_search). Plain indexed
queries on the case and task tables; no workflow is loaded to list anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, exists, false, literal_column, or_, select
from sqlalchemy.orm import Session

from engine.casework.metrics import COMPLAINT_PROCESSES, CUSTOMER_FACING_PROCESSES
from engine.core.rules import CaseScope
from engine.core.status import ACTIVE_TASK, TaskStatus
from engine.store.database import Database
from engine.store.tables import Case, ProcessVersion, Task

PAGE_SIZE = 50


@dataclass(frozen=True)
class CaseFilter:
    process: str | None = None
    status: str | None = None
    step: str | None = None  # element id of an open task
    overdue: bool = False
    assignee: str | None = None
    customer: str | None = None  # name or phone, prefix match
    started_from: datetime | None = None
    started_to: datetime | None = None


@dataclass(frozen=True)
class CaseRow:
    number: str
    process: str
    status: str
    customer_name: str | None
    customer_phone: str | None
    service_item: str | None
    started_at: datetime
    next_timer_at: datetime | None
    open_tasks: list[dict[str, Any]] = field(default_factory=list)
    outcome: str | None = None  # how it ended (engine.core.outcomes)


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    next_cursor: str | None  # pass back as `after` for the next page


def _prefix(column: Any, text: str) -> Any:
    # A range instead of LIKE so the index on the column is used on both databases.
    return and_(column >= text, column < text + "\uffff")


def list_cases(
    db: Database, flt: CaseFilter, now: datetime, after: str | None = None, limit: int = PAGE_SIZE
) -> CasePage:
    """Cases newest first, filtered; `after` is the cursor of the previous page.

    Two reads: the page's ids in order (from the newest-first indexes alone for most filters),
    then the listed columns of those cases only (a case row also holds the case's whole state,
    which lies between the row's first columns and the rest)."""
    query = select(Case.id, Case.started_at)
    if flt.process:
        query = query.where(Case.process_key == flt.process)
    if flt.status:
        query = query.where(Case.status == flt.status)
    if flt.customer:
        text = flt.customer.strip()
        query = query.where(
            or_(_prefix(Case.customer_name, text), _prefix(Case.customer_phone, text))
        )
    if flt.started_from:
        query = query.where(Case.started_at >= flt.started_from)
    if flt.started_to:
        query = query.where(Case.started_at < flt.started_to)
    open_task = and_(Task.case_id == Case.id, Task.status.in_(ACTIVE_TASK))
    if flt.step:
        # Common (a step holds many cases): probe the newest cases one by one.
        query = query.where(exists().where(open_task, Task.element_id == flt.step))
    # Rare (one person's claims, the overdue): the set of cases first, from the task indexes,
    # then the newest-first index is walked and tested against it ("+id" keeps the database
    # from fetching every case of the set to sort them).
    if flt.assignee:
        query = query.where(
            _unindexed_id().in_(
                select(Task.case_id).where(
                    Task.assignee == flt.assignee, Task.status.in_(ACTIVE_TASK)
                )
            )
        )
    if flt.overdue:
        query = query.where(
            _unindexed_id().in_(
                select(Task.case_id).where(Task.status.in_(ACTIVE_TASK), Task.due_at < now)
            )
        )
    if after:
        try:
            stamp, case_id = after.rsplit("_", 1)
            cursor_at, cursor_id = datetime.fromisoformat(stamp), int(case_id)
        except ValueError:
            cursor_at, cursor_id = None, None
        if cursor_at is not None:
            query = query.where(
                or_(
                    Case.started_at < cursor_at,
                    and_(Case.started_at == cursor_at, Case.id < cursor_id),
                )
            )
    query = query.order_by(Case.started_at.desc(), Case.id.desc()).limit(limit + 1)
    with db.read() as session:
        page = session.execute(query).all()
        more = len(page) > limit
        page = page[:limit]
        ids = [r.id for r in page]
        found = (
            {
                c.id: c
                for c in session.execute(
                    select(
                        Case.id,
                        Case.number,
                        Case.process_key,
                        Case.status,
                        Case.customer_name,
                        Case.customer_phone,
                        Case.service_item,
                        Case.started_at,
                        Case.next_timer_at,
                        Case.outcome,
                    ).where(Case.id.in_(ids))
                )
            }
            if ids
            else {}
        )
        tasks = _open_tasks(session, ids)
    cases = [found[i] for i in ids if i in found]
    rows = [
        CaseRow(
            number=c.number,
            process=c.process_key,
            status=c.status,
            customer_name=c.customer_name,
            customer_phone=c.customer_phone,
            service_item=c.service_item,
            started_at=c.started_at,
            next_timer_at=c.next_timer_at,
            open_tasks=tasks.get(c.id, []),
            outcome=c.outcome,
        )
        for c in cases
    ]
    cursor = f"{page[-1].started_at.isoformat()}_{page[-1].id}" if more and page else None
    return CasePage(rows, cursor)


def _unindexed_id() -> Any:
    """`case.id` written so that no index is used for a test on it (a unary plus)."""
    return literal_column('+"case".id', Integer)


def _open_tasks(session: Session, case_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    if not case_ids:
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    for task in session.execute(
        select(
            Task.id,
            Task.case_id,
            Task.name,
            Task.element_id,
            Task.role,
            Task.assignee,
            Task.due_at,
        )
        .where(Task.case_id.in_(case_ids), Task.status.in_(ACTIVE_TASK))
        .order_by(Task.id)
    ):
        out.setdefault(task.case_id, []).append(
            {
                "id": task.id,
                "name": task.name,
                "element_id": task.element_id,
                "role": task.role,
                "assignee": task.assignee,
                "due_at": task.due_at,
            }
        )
    return out


def process_keys(db: Database) -> list[str]:
    with db.read() as session:
        return sorted(set(session.scalars(select(ProcessVersion.key))))


def version_source(db: Database, key: str, version: int) -> dict[str, Any]:
    """The BPMN source of one process version (for the diagram viewer)."""
    with db.read() as session:
        row = session.scalars(
            select(ProcessVersion).where(
                ProcessVersion.key == key, ProcessVersion.version == version
            )
        ).first()
        if row is None:
            from engine.core.errors import NotFound

            raise NotFound(f"no version {version} of process {key!r}")
        bpmn = next(
            (s for s in row.sources if s["kind"] == "bpmn" and f'id="{key}"' in s["text"]), None
        )
        bpmn = bpmn or next((s for s in row.sources if s["kind"] == "bpmn"), None)
        return {
            "key": key,
            "version": version,
            "name": row.name,
            "xml": bpmn["text"] if bpmn else "",
            "deployed_at": row.deployed_at,
            "deployed_by": row.deployed_by,
        }


# ----- which cases a user may find ------------------------------------------------------------

# The processes customers book or ask through, and their complaints: the front desk finds any
# case of these (engine.core.rules.case_scope, `customer_facing`).
DESK_PROCESSES = (*CUSTOMER_FACING_PROCESSES, *COMPLAINT_PROCESSES)


def visible(scope: CaseScope) -> Any | None:
    """The condition on "case" rows for the cases `scope` lets a user find (None: every case).
    Each part is a test on the case's own row or on its few task rows (by the task's case
    index), so it costs the same for every case it is asked about."""
    if scope.everything:
        return None
    parts: list[Any] = []
    if scope.customer_facing:
        parts.append(Case.process_key.in_(DESK_PROCESSES))
    if scope.task_roles:
        parts.append(
            exists().where(Task.case_id == Case.id, Task.role.in_(sorted(scope.task_roles)))
        )
    if scope.user:
        mine = [Task.assignee == scope.user, Task.completed_by == scope.user]
        if scope.open_roles:
            mine.append(
                and_(Task.status == TaskStatus.OPEN.value, Task.role.in_(sorted(scope.open_roles)))
            )
        parts.append(exists().where(Task.case_id == Case.id, or_(*mine)))
    return or_(*parts) if parts else false()
