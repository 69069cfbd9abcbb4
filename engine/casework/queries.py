"""Read-only lists for supervisors: cases with filters and keyset paging, and what a case's
diagram should show; and `visible`, the cases a user may find (engine.core.rules.case_scope) as
a condition for the staff's customer search (engine.casework.customer_search). Plain indexed
queries on the case table and the projections (task, timer, message wait); no workflow is
loaded to list anything."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from engine.casework.metrics import COMPLAINT_PROCESSES, CUSTOMER_FACING_PROCESSES
from engine.core.rules import CaseScope
from engine.core.status import ACTIVE_TASK, CaseStatus, TaskStatus, TimerStatus
from engine.runtime.diagram import version_diagram
from engine.store.database import Database
from engine.store.tables import Case, MessageWait, ProcessVersion, Task, Timer

PAGE_SIZE = 50


@dataclass(frozen=True)
class CaseFilter:
    process: str | None = None
    status: str | None = None
    # Name (or element id) of where a case waits: an open or claimed task, a waiting timer, a
    # message wait, or the element that failed (the heat map's four ways).
    step: str | None = None
    version: int | None = None  # with `process`: only the cases on that version
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


_STEP_NAMES: OrderedDict[tuple[int, str, str], dict[str, frozenset[str]]] = OrderedDict()
_STEP_NAMES_LOCK = threading.Lock()
_STEP_NAMES_KEPT = 256


def _step_names(
    db: Database, version_id: int, key: str, content_hash: str
) -> dict[str, frozenset[str]]:
    """Name -> the ids of the elements so called in one version: the names in its diagram
    and its user tasks' recorded names (read once per version: versions never change)."""
    cache_key = (version_id, key, content_hash)
    with _STEP_NAMES_LOCK:
        found = _STEP_NAMES.get(cache_key)
        if found is not None:
            _STEP_NAMES.move_to_end(cache_key)
            return found
    with db.read() as session:
        meta = session.scalar(
            select(ProcessVersion.task_meta).where(ProcessVersion.id == version_id)
        )
    names: dict[str, set[str]] = {}
    for element, name in version_diagram(db, version_id).names.items():
        names.setdefault(name, set()).add(element)
    for element, task in (meta or {}).items():
        if (task or {}).get("name"):
            names.setdefault(task["name"], set()).add(element)
    found = {name: frozenset(elements) for name, elements in names.items()}
    with _STEP_NAMES_LOCK:
        _STEP_NAMES[cache_key] = found
        while len(_STEP_NAMES) > _STEP_NAMES_KEPT:
            _STEP_NAMES.popitem(last=False)
    return found


def step_elements(db: Database, flt: CaseFilter) -> list[str]:
    """The element ids the filter's step stands for: the step itself (an element id) and every
    element called so in the versions it covers (of its process, of its version), user tasks
    and events alike."""
    step = flt.step or ""
    query = select(ProcessVersion.id, ProcessVersion.key, ProcessVersion.content_hash)
    if flt.process:
        query = query.where(ProcessVersion.key == flt.process)
        if flt.version is not None:
            query = query.where(ProcessVersion.version == flt.version)
    with db.read() as session:
        versions = session.execute(query).all()
    found = {step}
    for version_id, key, content_hash in versions:
        found.update(_step_names(db, version_id, key, content_hash).get(step, ()))
    return sorted(found)


# How a set of cases a filter names is best used, by its size (counted up to COMMON from the
# set's own index): a set with at least COMMON members (a step's open tasks, waiting timers or
# message waits) is tested case by case as the newest cases are walked, as a match comes
# within the first few cases; a smaller one is read whole first and the walk tests each case
# against it (probing the tables for every case in vain costs more); one with fewer than FEW
# members is not walked at all: its cases are fetched by id, then put in order.
COMMON = 10_000
FEW = 500


def step_condition(db: Database, flt: CaseFilter) -> Any:
    """The condition on "case" rows for the filter's step: the case waits at one of its
    elements (step_elements) in any way the heat map counts (engine.casework.supervision):
    an open or claimed task, a waiting timer, a message wait, or an error there. Each arm is
    read from its (status,) element, case index, its size first, bounded by COMMON."""
    elements = step_elements(db, flt)
    failed = aliased(Case)  # not the listed case: these subqueries must not correlate with it
    arms = (
        (Task.case_id, and_(Task.status.in_(ACTIVE_TASK), Task.element_id.in_(elements))),
        (Timer.case_id, and_(Timer.status == TimerStatus.WAITING, Timer.element_id.in_(elements))),
        (MessageWait.case_id, MessageWait.element_id.in_(elements)),
        (failed.id, and_(failed.status == CaseStatus.ERROR, failed.error_element.in_(elements))),
    )
    sizes = [
        select(func.count())
        .select_from(select(case_id).where(where).limit(COMMON).subquery())
        .scalar_subquery()
        for case_id, where in arms
    ]
    with db.read() as session:
        counted = session.execute(select(*sizes)).one()
    many: list[Any] = []
    few: list[Any] = []
    for index, ((case_id, where), size) in enumerate(zip(arms, counted, strict=True)):
        if (size or 0) >= COMMON:
            many.append(
                exists().where(case_id == Case.id, where)
                if index < len(arms) - 1
                else and_(Case.status == CaseStatus.ERROR, Case.error_element.in_(elements))
            )
        elif size:  # an empty arm is left out
            few.append(select(case_id).where(where))
    if not many and not few:
        return false()
    if not many and sum(counted) < FEW:
        return Case.id.in_(union_all(*few))
    if not few:
        return or_(*many)
    # "+id" keeps the database from fetching every case of the set to sort them.
    return or_(*many, _unindexed_id().in_(union_all(*few)))


def version_condition(db: Database, flt: CaseFilter) -> Any | None:
    """The condition on "case" rows for the filter's version (None: no version asked for)."""
    if not flt.process or flt.version is None:
        return None
    with db.read() as session:
        version_id = session.scalar(
            select(ProcessVersion.id).where(
                ProcessVersion.key == flt.process, ProcessVersion.version == flt.version
            )
        )
        if version_id is None:
            return false()
        size = session.scalar(
            select(func.count()).select_from(
                select(Case.id).where(Case.process_version_id == version_id).limit(FEW).subquery()
            )
        )
    if (size or 0) >= FEW:
        return Case.process_version_id == version_id
    # An old version's few cases: fetched by id, then put in order.
    of_version = aliased(Case)
    return Case.id.in_(select(of_version.id).where(of_version.process_version_id == version_id))


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
        names = _process_names(session)
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


def _process_names(session: Session) -> dict[str, tuple[str, int]]:
    names: dict[str, tuple[str, int]] = {}
    for key, name, version in session.execute(
        select(ProcessVersion.key, ProcessVersion.name, ProcessVersion.version).order_by(
            ProcessVersion.key, ProcessVersion.version
        )
    ):
        names[key] = (name or key, version)
    return names


def process_names(db: Database) -> dict[str, tuple[str, int]]:
    """Process key -> (the name of its newest version, that version's number), by name."""
    with db.read() as session:
        found = _process_names(session)
    return dict(sorted(found.items(), key=lambda item: (item[1][0], item[0])))


@dataclass(frozen=True)
class ProcessSteps:
    key: str
    name: str
    steps: list[str]  # the names of its user tasks over all its versions, newest first


def process_steps(db: Database, key: str | None = None) -> list[ProcessSteps]:
    """The steps a case of each process (or of `key`) can wait at, by name: the user tasks of
    every version (called processes' included), the newest version's order first."""
    query = select(ProcessVersion.key, ProcessVersion.name, ProcessVersion.task_meta).order_by(
        ProcessVersion.key, ProcessVersion.version.desc()
    )
    if key:
        query = query.where(ProcessVersion.key == key)
    found: dict[str, ProcessSteps] = {}
    with db.read() as session:
        for row_key, name, meta in session.execute(query):
            entry = found.setdefault(row_key, ProcessSteps(row_key, name or row_key, []))
            for element, task in (meta or {}).items():
                step = (task or {}).get("name") or element
                if step not in entry.steps:
                    entry.steps.append(step)
    return sorted(found.values(), key=lambda p: (p.name, p.key))


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

            raise NotFound(
                f"no version {version} of process {key!r}",
                reason="version_not_found",
                version=version,
                process=key,
            )
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
