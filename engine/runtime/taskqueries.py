"""The task lists' SQL: an inbox or a filtered list over many cases is the union of one part
per role and status, each read in due order from the (role, status, due_at) index and cut at
the page's end, so a list costs the same with a hundred or a hundred thousand open tasks; whole
rows are read for the page's tasks only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.runtime.views import TaskView
from engine.store.records import TASK_COLUMNS_T, TaskRecord
from engine.store.rows import Rows


def task_query(
    rows: Rows,
    role_set: list[str] | None,
    assignee: str | None,
    case: str | None,
    statuses: list[str] | None,
    due_before: datetime | None,
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    """Rows of (task columns..., case number), earliest due first (no due date last), by id.

    Lists over many cases (an inbox) are the union of one part per role and status, each
    read in order from the (role, status, due_at) index and cut at offset + limit, so a list
    costs the same with a hundred or a hundred thousand open tasks."""
    where, params = [], []
    if assignee:
        where.append("t.assignee = ?")
        params.append(assignee)
    if due_before:
        where.append("t.due_at <= ?")
        params.append(rows.dt(due_before))
    if case is None and role_set is not None and statuses:
        if not role_set:
            return []
        parts = [
            ordered_part(
                rows,
                " AND ".join(["t.role = ?", "t.status = ?", *where]),
                [r, s, *params],
                limit + offset,
            )
            for r in role_set
            for s in dict.fromkeys(statuses)
        ]
        return merge_parts(rows, parts, limit, offset)
    if role_set is not None:
        if not role_set:
            return []
        where.append(f"t.role IN ({', '.join('?' * len(role_set))})")
        params.extend(role_set)
    if case:
        where.append("c.number = ?")
        params.append(case)
    if statuses:
        where.append(f"t.status IN ({', '.join('?' * len(statuses))})")
        params.extend(statuses)
    return rows.all(
        f'SELECT {TASK_COLUMNS_T}, c.number FROM task t JOIN "case" c ON c.id = t.case_id'
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY (t.due_at IS NULL), t.due_at, t.id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )


def ordered_part(rows: Rows, where: str, params: list[Any], limit: int) -> tuple[str, list[Any]]:
    """Two index-ordered reads of the ids and due dates of the tasks matching `where`: those
    with a due date by due date, then those without one by id (each cut at `limit`)."""
    sql = (
        f"SELECT * FROM (SELECT t.id, t.due_at FROM task t WHERE {where}"
        " AND t.due_at IS NOT NULL ORDER BY t.due_at, t.id LIMIT ?) AS d"
        f" UNION ALL SELECT * FROM (SELECT t.id, t.due_at FROM task t WHERE {where}"
        " AND t.due_at IS NULL ORDER BY t.id LIMIT ?) AS n"
    )
    return sql, [*params, limit, *params, limit]


def merge_parts(
    rows: Rows, parts: list[tuple[str, list[Any]]], limit: int, offset: int
) -> list[tuple[Any, ...]]:
    """The page of the merged parts. Only ids and due dates are merged (read from the index
    alone); whole rows are read for the page's tasks only."""
    union = " UNION ALL ".join(sql for sql, _ in parts)
    params = [p for _, part_params in parts for p in part_params]
    return rows.all(
        f'SELECT {TASK_COLUMNS_T}, c.number FROM task t JOIN "case" c ON c.id = t.case_id'
        f" WHERE t.id IN (SELECT u.id FROM ({union}) AS u"
        " ORDER BY (u.due_at IS NULL), u.due_at, u.id LIMIT ? OFFSET ?)"
        " ORDER BY (t.due_at IS NULL), t.due_at, t.id",
        (*params, limit, offset),
    )


def task_views(found: list[tuple[Any, ...]]) -> list[TaskView]:
    """Views of rows of (task columns..., case number)."""
    return [TaskView.of(TaskRecord.from_row(r), r[-1]) for r in found]
