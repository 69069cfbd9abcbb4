"""Task reads: task lists and inboxes, one task, who may act on it, and the data it sees
(the verbs that change a task are in engine.runtime.tasks)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from engine.core.errors import Forbidden, NotFound, ValidationFailed
from engine.core.rules import Refusal, task_refusal
from engine.core.status import TaskStatus
from engine.runtime.taskqueries import merge_parts, ordered_part, task_query, task_views
from engine.runtime.views import TaskView
from engine.runtime.waits import case_data
from engine.store.records import TASK_COLUMNS_T, TaskRecord
from engine.store.rows import Rows
from engine.store.rows import read as read_rows


class TaskReads:
    """Task reads (a mixin of Runtime)."""

    # ----- tasks ---------------------------------------------------------------------------

    def list_tasks(
        self,
        *,
        role: str | None = None,
        roles: Sequence[str] | None = None,
        assignee: str | None = None,
        case: str | None = None,
        status: str | Sequence[str] | None = None,
        due_before: datetime | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[TaskView]:
        """Tasks by role(s), assignee, case number, status and due time, earliest due first."""
        statuses = None
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            unknown = [s for s in statuses if s not in {t.value for t in TaskStatus}]
            if unknown:
                raise ValidationFailed(
                    f"unknown task status {', '.join(unknown)}; use one of: open, claimed, done, cancelled",
                    {"status": ["unknown status"]},
                    reason="unknown_task_status",
                    status=", ".join(unknown),
                )
        role_set: list[str] | None = None
        if role:
            role_set = [role]
        if roles is not None:
            role_set = [r for r in dict.fromkeys(roles) if role_set is None or r in role_set]
        with read_rows(self.db) as rows:
            return task_views(
                task_query(rows, role_set, assignee, case, statuses, due_before, limit, offset),
            )

    def inbox(
        self,
        user: str,
        limit: int = 200,
        *,
        roles: Sequence[str] | None = None,
        role: str | None = None,
        case: str | None = None,
        status: str | None = None,
    ) -> list[TaskView]:
        """Open tasks of the user's roles and the tasks the user claimed, earliest due first.

        `roles`: the user's roles when the caller knows them already (else they are read);
        `role`, `case`, `status` ("open" or "claimed") narrow the list. One query: the open
        tasks of each role and the user's claimed tasks are read in due order from their
        indexes and merged, so an inbox costs the same with 100 or 100,000 open tasks."""
        if status not in (None, TaskStatus.OPEN, TaskStatus.CLAIMED):
            raise ValidationFailed(
                f"an inbox lists open or claimed tasks, not {status!r}",
                {"status": ["unknown"]},
                reason="inbox_status",
                status=status,
            )
        with read_rows(self.db) as rows:
            if roles is None:
                roles = self._roles(rows, user)
            open_roles = sorted(r for r in roles if role is None or r == role)
            if status == TaskStatus.CLAIMED:
                open_roles = []
            claimed = status != TaskStatus.OPEN
            if case is not None:
                # One case: its few tasks, by the case index.
                mine, params = [], []
                if open_roles:
                    marks = ", ".join("?" * len(open_roles))
                    mine.append(f"(t.status = 'open' AND t.role IN ({marks}))")
                    params += open_roles
                if claimed:
                    mine.append(
                        "(t.status = 'claimed' AND t.assignee = ?"
                        + (" AND t.role = ?" if role else "")
                        + ")"
                    )
                    params += [user, role] if role else [user]
                if not mine:
                    return []
                found_rows = rows.all(
                    f'SELECT {TASK_COLUMNS_T}, c.number FROM task t JOIN "case" c'
                    " ON c.id = t.case_id WHERE c.number = ? AND (" + " OR ".join(mine) + ")"
                    " ORDER BY (t.due_at IS NULL), t.due_at, t.id LIMIT ?",
                    (case, *params, limit),
                )
                return task_views(found_rows)
            parts = [
                ordered_part(rows, "t.role = ? AND t.status = ?", [r, TaskStatus.OPEN.value], limit)
                for r in open_roles
            ]
            if claimed:
                where, params = "t.assignee = ? AND t.status = ?", [user, TaskStatus.CLAIMED.value]
                if role:
                    where, params = where + " AND t.role = ?", [*params, role]
                parts.append(ordered_part(rows, where, params, limit))
            if not parts:
                return []
            return task_views(merge_parts(rows, parts, limit, 0))

    def get_task(self, task_id: int, user: str | None = None) -> TaskView:
        """One task with its form schema; with `user`, only if the user holds the task's role."""
        with read_rows(self.db) as rows:
            task, number = self._task_record(rows, task_id)
            if user is not None and task.role not in self._roles(rows, user):
                raise Forbidden(
                    f"task {task_id} belongs to role {task.role}, which {user} does not hold",
                    reason="role_missing",
                    task=task_id,
                    role=task.role,
                    user=user,
                )
        return TaskView.of(task, number, form=copy.deepcopy(self._form(task.form_id)))

    def task_refusal(self, task_id: int, user: str, action: str = "complete") -> Refusal | None:
        """Why `user` may not `action` the task now (engine.core.rules), or None: the web layer
        asks this before showing a form, and the verb itself checks the same rule."""
        with read_rows(self.db) as rows:
            task, _number = self._task_record(rows, task_id)
            return task_refusal(task, rows.user_roles(user) or set(), user, action)  # type: ignore[arg-type]

    def task_data(self, task_id: int) -> dict[str, Any]:
        """The data as the task itself sees it (its own branch of the case), for rendering its
        instructions; the case's data once the task is no longer open."""
        with read_rows(self.db) as rows:
            task, number = self._task_record(rows, task_id)
            case = rows.case_by_id(task.case_id)
        workflow = self._load(case, self._version_info(case.process_version_id))
        try:
            try:
                data = dict(workflow.get_task_from_id(UUID(task.spiff_task_id)).data)
            except Exception:  # noqa: BLE001 - compacted or finished: the case's data
                data = case_data(workflow)
            return copy.deepcopy(data)
        finally:
            self._return_live(case.id, case.state, workflow)

    def _task_record(self, rows: Rows, task_id: int) -> tuple[TaskRecord, str]:
        found = rows.task_and_number(task_id)
        if found is None:
            raise NotFound(f"no task {task_id}", reason="task_not_found", task=task_id)
        return found

    def _roles(self, rows: Rows, user: str) -> set[str]:
        roles = rows.user_roles(user)
        if roles is None:
            raise NotFound(f"no active user named {user!r}", reason="user_not_found", user=user)
        return roles
