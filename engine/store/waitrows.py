"""Plain SQL for a case's task, timer and message wait rows: what the projection of every step
(engine.runtime.projection) reads and writes, and a task with its case's number.

A mixin of engine.store.rows.Rows, whose statements (`run`, `all`, `one`, `many`) and values
(`dt`, `js`) these use; it holds no state of its own (empty `__slots__`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from engine.store.records import (
    TASK_COLUMNS_T,
    TASK_SELECT,
    TaskRecord,
    TimerRecord,
    read_dt,
)


class WaitRows:
    """The task, timer and message wait rows of a case (a mixin of Rows)."""

    __slots__ = ()

    # ----- tasks ----------------------------------------------------------------------------

    def active_tasks(self, case_id: int) -> list[TaskRecord]:
        return [
            TaskRecord.from_row(r)
            for r in self.all(
                TASK_SELECT + " WHERE case_id = ? AND status IN ('open', 'claimed') ORDER BY id",
                (case_id,),
            )
        ]

    def task_and_number(self, task_id: int) -> tuple[TaskRecord, str] | None:
        row = self.one(
            "SELECT " + TASK_COLUMNS_T + ', c.number FROM task t JOIN "case" c'
            " ON c.id = t.case_id WHERE t.id = ?",
            (task_id,),
        )
        if row is None:
            return None
        return TaskRecord.from_row(row), row[-1]

    def insert_task(self, task: TaskRecord) -> int:
        task.version = 1
        task.id = self.one(
            "INSERT INTO task (case_id, spiff_task_id, element_id, name, role, form_id,"
            " instructions, assignee, status, created_at, due_at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                task.case_id,
                task.spiff_task_id,
                task.element_id,
                task.name,
                task.role,
                task.form_id,
                task.instructions,
                task.assignee,
                task.status,
                self.dt(task.created_at),
                self.dt(task.due_at),
                1,
            ),
        )[0]
        return task.id

    def update_task(self, task: TaskRecord, **changes: Any) -> None:
        """Set columns of a task row (with its version check) and on the record."""
        names = list(changes)
        values = [
            self.dt(v) if isinstance(v, datetime) else self.js(v) if n == "data" else v
            for n, v in changes.items()
        ]
        cursor = self.run(
            "UPDATE task SET "
            + ", ".join(f"{n} = ?" for n in names)
            + ", version = ? WHERE id = ? AND version = ?",
            (*values, task.version + 1, task.id, task.version),
        )
        if cursor.rowcount != 1:
            raise StaleDataError(f"task {task.id} was changed by another transaction")
        for name, value in changes.items():
            setattr(task, name, value)
        task.version += 1

    # ----- timers ---------------------------------------------------------------------------

    def waiting_timers(self, case_id: int) -> list[TimerRecord]:
        """The case's waiting timers, earliest first. Found by the case_id index: on SQLite
        "+status" keeps the planner from walking every waiting timer of every case in the
        (status, due_at) index instead."""
        status = "+status" if self.sqlite else "status"
        found = [
            TimerRecord(r[0], r[1], r[2], r[3], r[4], read_dt(r[5]), r[6])
            for r in self.all(
                "SELECT id, spiff_task_id, element_id, name, kind, due_at, status FROM timer"
                f" WHERE case_id = ? AND {status} = 'waiting'",
                (case_id,),
            )
        ]
        found.sort(key=lambda t: (t.due_at, t.id))
        return found

    def insert_timer(self, case_id: int, timer: TimerRecord, now: datetime) -> int:
        timer.id = self.one(
            "INSERT INTO timer (case_id, spiff_task_id, element_id, name, kind, due_at, status,"
            " created_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) RETURNING id",
            (
                case_id,
                timer.spiff_task_id,
                timer.element_id,
                timer.name,
                timer.kind,
                self.dt(timer.due_at),
                timer.status,
                self.dt(now),
            ),
        )[0]
        return timer.id

    def end_timer(self, timer: TimerRecord, status: str, fired_at: datetime | None) -> None:
        self.run(
            "UPDATE timer SET status = ?, fired_at = ? WHERE id = ?",
            (status, self.dt(fired_at), timer.id),
        )
        timer.status = status

    # ----- message waits --------------------------------------------------------------------

    def message_waits(self, case_id: int) -> set[tuple[str, str]]:
        """(element id, message name) of every message the case waits for, as last written."""
        return {
            (r[0], r[1])
            for r in self.all(
                "SELECT element_id, message FROM message_wait WHERE case_id = ?", (case_id,)
            )
        }

    def add_message_waits(self, case_id: int, waits: Sequence[tuple[str, str]]) -> None:
        self.many(
            "INSERT INTO message_wait (case_id, element_id, message) VALUES (?, ?, ?)",
            [(case_id, element, message) for element, message in waits],
        )

    def drop_message_waits(
        self, case_id: int, waits: Sequence[tuple[str, str]] | None = None
    ) -> None:
        """Remove the given waits of the case, or all of them."""
        if waits is None:
            self.run("DELETE FROM message_wait WHERE case_id = ?", (case_id,))
            return
        self.many(
            "DELETE FROM message_wait WHERE case_id = ? AND element_id = ? AND message = ?",
            [(case_id, element, message) for element, message in waits],
        )
