"""Status values of cases, tasks and timers, and the transitions allowed between them.

"What can happen to a task in this state" is answered here, in one place.
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


class TimerStatus(StrEnum):
    WAITING = "waiting"
    FIRED = "fired"
    CANCELLED = "cancelled"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


CASE_TRANSITIONS: dict[CaseStatus, set[CaseStatus]] = {
    CaseStatus.RUNNING: {CaseStatus.COMPLETED, CaseStatus.CANCELLED, CaseStatus.ERROR},
    CaseStatus.ERROR: {CaseStatus.RUNNING, CaseStatus.COMPLETED, CaseStatus.CANCELLED},
    CaseStatus.COMPLETED: set(),
    CaseStatus.CANCELLED: set(),
}

TASK_TRANSITIONS: dict[TaskStatus, set[TaskStatus]] = {
    TaskStatus.OPEN: {TaskStatus.CLAIMED, TaskStatus.DONE, TaskStatus.CANCELLED},
    TaskStatus.CLAIMED: {TaskStatus.OPEN, TaskStatus.DONE, TaskStatus.CANCELLED},
    TaskStatus.DONE: set(),
    TaskStatus.CANCELLED: set(),
}

TIMER_TRANSITIONS: dict[TimerStatus, set[TimerStatus]] = {
    TimerStatus.WAITING: {TimerStatus.FIRED, TimerStatus.CANCELLED},
    TimerStatus.FIRED: set(),
    TimerStatus.CANCELLED: set(),
}

ACTIVE_TASK = (TaskStatus.OPEN, TaskStatus.CLAIMED)
ACTIVE_CASE = (CaseStatus.RUNNING, CaseStatus.ERROR)
