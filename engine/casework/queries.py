"""Read-only lists for supervisors: cases with filters (engine.casework.case_filter) and
keyset paging; and `visible`, the cases a user may find (engine.core.rules.case_scope) as a
condition for the staff's customer search (engine.casework.customer_search). Plain indexed
queries on the case table and the task projection; no workflow is loaded to list anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from engine.casework.case_filter import (
    CaseFilter,
    step_condition,
    unindexed_id,
    version_condition,
)
from engine.casework.metrics import COMPLAINT_PROCESSES, CUSTOMER_FACING_PROCESSES
from engine.casework.process_catalogue import read_process_names
from engine.core.rules import CaseScope
from engine.core.status import ACTIVE_TASK, TaskStatus
from engine.store.database import Database
from engine.store.tables import Case, Task

PAGE_SIZE = 50


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
    process_name: str | None = None  # the name of the case's process (its newest version's)
    ended_at: datetime | None = None


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    next_cursor: str | None  # pass back as `after` for the next (older) page
    prev_cursor: str | None = None  # pass back as `before` for the previous (newer) page
    total: int | None = None  # cases matching the filter, counted up to COUNT_CAP
    total_capped: bool = False  # True: there are more than `total`


# Counting stops here: "more than 10,000" is as useful as the exact figure and keeps the count
# of a broad filter bounded on a large database.
COUNT_CAP = 10_000


def _prefix(column: Any, text: str) -> Any:
    # A range instead of LIKE so the index on the column is used on both databases.
    return and_(column >= text, column < text + "\uffff")


def _filtered(
    flt: CaseFilter, now: datetime, step: Any = None, version: Any = None, counting: bool = False
) -> Any:
    """SELECT case.id, case.started_at with the filter's conditions (no order, no cursor);
    `step` and `version` are the conditions step_condition and version_condition make of the
    filter. `counting`: for the total, which walks in no order."""
    query = select(Case.id, Case.started_at)
    if version is not None:
        query = query.where(version)
    if flt.process and (version is None or not counting):
        # A page walks the process's newest-first index (the version read from the rows it
        # meets); the total of a version walks the version's index alone: the process is the
        # version's, and asking it would read every case row.
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
    if step is not None:  # chosen by name, so one choice covers every version
        query = query.where(step)
    # Rare (one person's claims, the overdue): the set of cases first, from the task indexes,
    # then the newest-first index is walked and tested against it ("+id" keeps the database
    # from fetching every case of the set to sort them).
    if flt.assignee:
        query = query.where(
            unindexed_id().in_(
                select(Task.case_id).where(
                    Task.assignee == flt.assignee, Task.status.in_(ACTIVE_TASK)
                )
            )
        )
    if flt.overdue:
        query = query.where(
            unindexed_id().in_(
                select(Task.case_id).where(Task.status.in_(ACTIVE_TASK), Task.due_at < now)
            )
        )
    return query


def _cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    try:
        stamp, case_id = text.rsplit("_", 1)
        return datetime.fromisoformat(stamp), int(case_id)
    except ValueError:
        return None


def _key(row: Any) -> str:
    return f"{row.started_at.isoformat()}_{row.id}"


def list_cases(
    db: Database,
    flt: CaseFilter,
    now: datetime,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    *,
    before: str | None = None,
    count: bool = False,
) -> CasePage:
    """Cases newest first, filtered; `after` is the next cursor of the page before (older
    cases follow), `before` the previous cursor of the page after (newer cases). With
    `count`, the page carries how many cases match (up to COUNT_CAP).

    Two reads: the page's ids in order (from the newest-first indexes alone for most filters),
    then the listed columns of those cases only (a case row also holds the case's whole state,
    which lies between the row's first columns and the rest)."""
    step = step_condition(db, flt) if flt.step else None
    version = version_condition(db, flt)
    query = _filtered(flt, now, step, version)
    newer = _cursor(before) if not after else None
    older = _cursor(after)
    if older is not None:
        cursor_at, cursor_id = older
        query = query.where(
            or_(
                Case.started_at < cursor_at,
                and_(Case.started_at == cursor_at, Case.id < cursor_id),
            )
        )
        query = query.order_by(Case.started_at.desc(), Case.id.desc())
    elif newer is not None:
        cursor_at, cursor_id = newer
        query = query.where(
            or_(
                Case.started_at > cursor_at,
                and_(Case.started_at == cursor_at, Case.id > cursor_id),
            )
        )
        query = query.order_by(Case.started_at.asc(), Case.id.asc())
    else:
        query = query.order_by(Case.started_at.desc(), Case.id.desc())
    query = query.limit(limit + 1)
    with db.read() as session:
        page = session.execute(query).all()
        more = len(page) > limit
        page = page[:limit]
        if newer is not None:
            page.reverse()
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
                        Case.ended_at,
                        Case.next_timer_at,
                        Case.outcome,
                    ).where(Case.id.in_(ids))
                )
            }
            if ids
            else {}
        )
        tasks = _open_tasks(session, ids)
        names = read_process_names(session)
        total = None
        if count:
            total = session.scalar(
                select(func.count()).select_from(
                    _filtered(flt, now, step, version, counting=True)
                    .with_only_columns(Case.id)
                    .limit(COUNT_CAP + 1)
                    .subquery()
                )
            )
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
            process_name=names.get(c.process_key, (c.process_key, 0))[0],
            ended_at=c.ended_at,
        )
        for c in cases
    ]
    if newer is not None:
        next_cursor = _key(page[-1]) if page else None
        prev_cursor = _key(page[0]) if more and page else None
    else:
        next_cursor = _key(page[-1]) if more and page else None
        prev_cursor = _key(page[0]) if older is not None and page else None
    capped = total is not None and total > COUNT_CAP
    return CasePage(
        rows,
        next_cursor,
        prev_cursor,
        min(total, COUNT_CAP) if total is not None else None,
        capped,
    )


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
