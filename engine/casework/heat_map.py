"""The heat map: where the running cases of one process version wait, element by element, and
how (an open or claimed task, a waiting timer, a message wait, an error there). Plain grouped
queries on the task, timer, message wait and case tables; nothing loads a workflow to count
anything. The case list's step filter (engine.casework.case_filter) finds the same cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select, union_all

from engine.core.status import ACTIVE_CASE, ACTIVE_TASK, CaseStatus, TimerStatus
from engine.store.database import Database
from engine.store.tables import Case, MessageWait, Task, Timer


@dataclass(frozen=True)
class HeatCount:
    """Running cases of one version waiting at one element, by how they wait."""

    element_id: str
    name: str
    tasks: int = 0  # with an open or claimed task there
    timers: int = 0  # with a waiting timer there
    errors: int = 0  # stopped there by an error
    messages: int = 0  # waiting there for a message

    @property
    def total(self) -> int:
        return self.tasks + self.timers + self.errors + self.messages


@dataclass(frozen=True)
class HeatMap:
    key: str
    version: int
    name: str
    version_id: int
    running: int  # cases of this version still running (or in error)
    counts: list[HeatCount]  # most cases first

    def by_element(self) -> dict[str, dict[str, int]]:
        return {
            c.element_id: {
                "tasks": c.tasks,
                "timers": c.timers,
                "messages": c.messages,
                "errors": c.errors,
            }
            for c in self.counts
        }


def heat_counts(db: Database, version_id: int) -> tuple[int, dict[tuple[str, str], int]]:
    """(running cases of the version,
    {(element id, "task" | "timer" | "message" | "error"): count}).

    One statement of grouped arms: open tasks and claimed tasks (each read in element order
    from the index on task status, element and case), waiting timers (likewise on timer),
    message waits (on message_wait's element and case), cases in error and the version's
    running cases (the index on case version and status); each task, timer and message wait
    is matched to its case's version through the index on the case's version. A case has one
    task or timer per element (no procedure has a multi-instance task), so the counts are
    cases; an element that waits for two messages at once has a row for each, so that arm
    counts distinct cases."""

    def task_arm(status: str) -> Any:
        return (
            select(Task.element_id, literal("task"), func.count())
            .join(Case, Case.id == Task.case_id)
            .where(Task.status == status, Case.process_version_id == version_id)
            .group_by(Task.element_id)
        )

    timers = (
        select(Timer.element_id, literal("timer"), func.count())
        .join(Case, Case.id == Timer.case_id)
        .where(Timer.status == TimerStatus.WAITING, Case.process_version_id == version_id)
        .group_by(Timer.element_id)
    )
    messages = (
        select(
            MessageWait.element_id, literal("message"), func.count(MessageWait.case_id.distinct())
        )
        .join(Case, Case.id == MessageWait.case_id)
        .where(Case.process_version_id == version_id)
        .group_by(MessageWait.element_id)
    )
    errors = (
        select(Case.error_element, literal("error"), func.count())
        .where(Case.process_version_id == version_id, Case.status == CaseStatus.ERROR)
        .group_by(Case.error_element)
    )
    running = select(literal(""), literal("case"), func.count()).where(
        Case.process_version_id == version_id, Case.status.in_(ACTIVE_CASE)
    )
    query = union_all(*(task_arm(s) for s in ACTIVE_TASK), timers, messages, errors, running)
    counts: dict[tuple[str, str], int] = {}
    total = 0
    with db.read() as session:
        for element, kind, count in session.execute(query):
            if kind == "case":
                total = count
            elif count:
                key = (element or "", kind)
                counts[key] = counts.get(key, 0) + count
    return total, counts
