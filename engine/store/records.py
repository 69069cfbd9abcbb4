"""Records: one row of a table as a plain object, made from the table definitions and read
by column name (the step path's SQL is in engine.store.rows)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Table

from engine.store.tables import Case, Task, UTCDateTime


def read_dt(value: Any) -> datetime | None:
    """A datetime column as the ORM hands it out: aware, UTC."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite: naive UTC text; parsing it with its offset is cheapest
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC)


def read_json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


# ----- records ------------------------------------------------------------------------------
#
# A record holds one row of its table, field for field: the fields are the table's columns
# (tests/engine/test_records.py holds them to it), the SELECT lists are made from the table
# definitions, and rows are read by column name. Adding a column means adding it to the table
# (and a migration) and to the record.


def _columns(table: Table) -> tuple[str, ...]:
    return tuple(column.name for column in table.columns)


def _reader(table: Table, record: type) -> Callable[[Sequence[Any]], Any]:
    """Make a record from the first len(columns) values of a row selected with the table's
    columns in their order, converting datetimes and JSON the way the ORM stores them."""
    names = _columns(table)
    convert = [
        read_dt
        if isinstance(column.type, UTCDateTime)
        else read_json
        if isinstance(column.type, JSON)
        else None
        for column in table.columns
    ]
    pairs = list(zip(names, convert, strict=True))

    def from_row(row: Sequence[Any]) -> Any:
        return record(
            **{
                name: value if conv is None else conv(value)
                for (name, conv), value in zip(pairs, row, strict=False)
            }
        )

    return from_row


CASE_COLUMNS = _columns(Case.__table__)
CASE_SELECT = 'SELECT {} FROM "case"'.format(", ".join(CASE_COLUMNS))


@dataclass(slots=True)
class CaseRecord:
    """A row of table "case" as a step reads and writes it."""

    id: int | None
    number: str
    process_version_id: int
    process_key: str
    status: str
    state: str
    serializer_version: str
    customer_name: str | None
    customer_phone: str | None
    service_item: str | None
    started_by: str | None
    started_at: datetime
    updated_at: datetime
    appointment_at: datetime | None = None
    ended_at: datetime | None = None
    next_timer_at: datetime | None = None
    error_element: str | None = None
    error_message: str | None = None
    cancel_reason: str | None = None
    outcome: str | None = None
    promised_at: datetime | None = None
    served_at: datetime | None = None
    satisfaction: float | None = None
    category: str | None = None
    version: int = 0

    from_row: ClassVar[Callable[[Sequence[Any]], CaseRecord]]


CaseRecord.from_row = staticmethod(_reader(Case.__table__, CaseRecord))  # type: ignore[assignment]

TASK_COLUMNS = _columns(Task.__table__)
# The same columns qualified with the alias "t", for joins (task lists, task with case number).
TASK_COLUMNS_T = ", ".join("t." + c for c in TASK_COLUMNS)
TASK_SELECT = "SELECT {} FROM task".format(", ".join(TASK_COLUMNS))


@dataclass(slots=True)
class TaskRecord:
    """A row of table "task" (views read it as they read store.Task)."""

    id: int | None
    case_id: int
    spiff_task_id: str
    element_id: str
    name: str
    role: str
    form_id: int | None
    instructions: str | None
    assignee: str | None
    status: str
    created_at: datetime
    due_at: datetime | None
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    data: dict[str, Any] | None = None
    version: int = 0

    from_row: ClassVar[Callable[[Sequence[Any]], TaskRecord]]


TaskRecord.from_row = staticmethod(_reader(Task.__table__, TaskRecord))  # type: ignore[assignment]


@dataclass(slots=True)
class TimerRecord:
    id: int | None
    spiff_task_id: str
    element_id: str
    name: str | None
    kind: str
    due_at: datetime
    status: str


@dataclass(slots=True)
class EventRecord:
    at: datetime
    kind: str
    actor: str | None
    element_id: str | None
    detail: dict[str, Any] | None


@dataclass(slots=True)
class NotificationRecord:
    channel: str
    recipient: str
    subject: str | None
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
