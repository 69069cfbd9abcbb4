"""The supervisors' case list filter: what a supervisor asks for (CaseFilter), and the
conditions on "case" rows that its step and its version make. A step is chosen by name, so one
choice covers every version of a process; the cases waiting there are found in any of the heat
map's four ways (engine.casework.heat_map). Each set of cases is used by its size, counted
from its own index, so a rare step and a common one both list quickly."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, exists, false, func, literal_column, or_, select, union_all
from sqlalchemy.orm import aliased

from engine.core.status import ACTIVE_TASK, CaseStatus, TimerStatus
from engine.runtime.diagram import version_diagram
from engine.store.database import Database
from engine.store.tables import Case, MessageWait, ProcessVersion, Task, Timer


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
    elements (step_elements) in any way the heat map counts (engine.casework.heat_map):
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
    return or_(*many, unindexed_id().in_(union_all(*few)))


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


def unindexed_id() -> Any:
    """`case.id` written so that no index is used for a test on it (a unary plus)."""
    return literal_column('+"case".id', Integer)
