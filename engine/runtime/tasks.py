"""Task verbs: claim, unclaim, reassign and complete (the rules of who may act are in
engine.core.rules; lists, inboxes and one task are read in engine.runtime.taskreads)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState

from engine.core.errors import Conflict, ValidationFailed, refine
from engine.core.messages import Message
from engine.core.rules import check_task_action
from engine.core.status import TaskStatus
from engine.definitions.forms import CHECKS, with_case_limits
from engine.definitions.submission import (
    EXTRAS_REFUSE,
    check_refusals,
    declared_submission,
    form_errors,
    split_declared,
    validate_submission,
)
from engine.runtime import attachments, kpi
from engine.runtime.stepstate import (
    StepState,
    _check_task_actor,
    checked_data,
)
from engine.runtime.steptxn import (
    Savepoints,
)
from engine.runtime.views import CaseView, TaskView
from engine.spiff import templating
from engine.store.records import TaskRecord
from engine.store.rows import Rows
from engine.store.tables import Task


class TaskVerbs:
    """Task verbs (a mixin of Runtime)."""

    # ----- task verbs ----------------------------------------------------------------------

    def claim(self, task_id: int, user: str) -> TaskView:
        return self._assign(task_id, user, claim=True)

    def reassign(self, task_id: int, to_user: str, actor: str) -> TaskView:
        """A supervisor gives an open or claimed task to someone holding its role."""
        now = self.clock.now()
        with self.write_step(lambda: self._task_conflict(task_id)) as txn:
            rows = txn.rows
            task, number = self._task_record(rows, task_id)
            check_task_action(
                task,
                rows.user_roles(actor) or set(),
                actor,
                "reassign",
                to_user=to_user,
                to_user_roles=rows.user_roles(to_user) or set(),
            )
            previous = task.assignee
            rows.update_task(
                task, status=TaskStatus.CLAIMED.value, assignee=to_user, claimed_at=now
            )
            rows.event(
                "task_reassigned",
                at=now,
                actor=actor,
                case_id=task.case_id,
                element_id=task.element_id,
                detail={"task": task.id, "from": previous, "to": to_user},
            )
        return TaskView.of(task, number)

    def unclaim(self, task_id: int, user: str) -> TaskView:
        return self._assign(task_id, user, claim=False)

    def _assign(self, task_id: int, user: str, *, claim: bool) -> TaskView:
        now = self.clock.now()
        with self.write_step(lambda: self._task_conflict(task_id)) as txn:
            rows = txn.rows
            task, number = self._task_record(rows, task_id)
            self._check_actor_rows(rows, task, user)
            if claim:
                if task.status == TaskStatus.CLAIMED and task.assignee == user:
                    return TaskView.of(task, number)
                rows.update_task(
                    task, status=TaskStatus.CLAIMED.value, assignee=user, claimed_at=now
                )
            else:
                if task.status == TaskStatus.OPEN:
                    return TaskView.of(task, number)
                rows.update_task(task, status=TaskStatus.OPEN.value, assignee=None, claimed_at=None)
            rows.event(
                "task_claimed" if claim else "task_unclaimed",
                at=now,
                actor=user,
                case_id=task.case_id,
                element_id=task.element_id,
                detail={"task": task.id},
            )
        return TaskView.of(task, number)

    def _task_conflict(self, task_id: int) -> Message:
        with self.db.read() as session:
            task = session.get(Task, task_id)
            if task is not None and task.status == TaskStatus.DONE:
                return Message(
                    "task_done",
                    f"task {task_id} was already completed by {task.completed_by}"
                    f" at {task.completed_at:%Y-%m-%d %H:%M} UTC",
                    task=task_id,
                    user=task.completed_by,
                    at=task.completed_at,
                )
            if task is not None and task.status == TaskStatus.CLAIMED:
                return Message(
                    "task_just_claimed",
                    f"task {task_id} was just claimed by {task.assignee}",
                    task=task_id,
                    user=task.assignee,
                )
        return Message(
            "task_changed",
            f"task {task_id} was changed by someone else at the same time; nothing was saved",
            task=task_id,
        )

    def _check_actor_rows(self, rows: Rows, task: TaskRecord, user: str) -> None:
        """_check_actor on a task record, inside the step's transaction."""
        _check_task_actor(task, self._roles(rows, user), user)

    def complete_task(
        self,
        task_id: int,
        data: dict[str, Any] | None,
        user: str,
        *,
        extras: str = EXTRAS_REFUSE,
        files: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> CaseView:
        """Validate `data` against the task's form, then complete the task and run the case on
        (all in one transaction, so nothing can change the task between check and step).

        `files` maps a form field to an uploaded file (name, bytes): each is checked with the
        data (one answer naming every problem) and stored in the same step, its reference
        ("att-N") becoming the field's value; a step that does not commit stores no file.

        Only the fields the form declares are stored (engine.definitions.submission.declared_submission). Keys
        it does not declare (or marks readOnly) are refused with a ValidationFailed naming
        them when `extras` is "refuse" (the API, the command line), or dropped when it is
        "drop" (an HTML form post, where the browser sends only the form's fields); either
        way the audit trail names them (the completion's event, or a
        "task_submission_refused" event when nothing was saved)."""
        raw = checked_data(data, "task data")
        files = dict(files or {})
        file_errors: dict[str, list[str]] = {}
        for field, (filename, content) in files.items():
            raw[field] = "att-0"  # stands in for the file's reference while the data is checked
            try:
                attachments.check_file(filename, content)
            except ValidationFailed as exc:  # its one error is the whole problem
                file_errors[field] = list(exc.errors.get("", [])) or [str(exc)]
        found: list[TaskRecord] = []
        checked: dict[str, Any] = {}
        refused: list[tuple[TaskRecord, list[str]]] = []

        def prepare(rows: Rows) -> str:
            task, number = self._task_record(rows, task_id)
            self._check_actor_rows(rows, task, user)
            schema = self._form(task.form_id)
            try:
                kept, dropped = declared_submission(schema, raw, extras=extras)
            except ValidationFailed as exc:
                undeclared = split_declared(schema, raw)[1] if extras == EXTRAS_REFUSE else []
                if undeclared:
                    refused.append((task, undeclared))
                said, merged = f"task {task_id}: {exc}", {**exc.errors, **file_errors}
                if exc.reason == "undeclared_fields":  # those named first, as the API wants
                    raise refine(exc, said, merged) from None
                raise form_errors(said, schema, merged) from None
            if file_errors:
                raise form_errors(f"task {task_id}: a file was refused", schema, file_errors)
            checked.update(data=kept, dropped=dropped)
            found.append(task)
            return number

        zone = self.calendar.zone

        def action(st: StepState, sp: Savepoints) -> None:
            row = found[0]
            spiff_task = st.workflow.get_task_from_id(UUID(row.spiff_task_id))
            if not spiff_task.has_state(TaskState.READY):
                raise Conflict(
                    f"task {task_id} can no longer be completed (the case moved on)",
                    reason="task_moved_on",
                    task=task_id,
                )
            # Limits and choices taken from the case ("x-minimum": "amount_due"), and the
            # form's checks against the case ("x-checks"), known only now that the task's data
            # is loaded; nothing has changed yet, so a refusal leaves the case as is. A check's
            # own words replace the schema's general ones for its field (a technician who is
            # not offered: why not, rather than "must be one of").
            schema = self._form(row.form_id)
            bound = with_case_limits(schema, spiff_task.data)
            errors = validate_submission(bound, checked["data"]) if bound is not schema else {}
            if schema.get(CHECKS):
                environment = spiff_task.workflow.script_engine.environment
                errors.update(
                    check_refusals(
                        schema,
                        checked["data"],
                        spiff_task.data,
                        environment.evaluate,
                        templating.render,
                    )
                )
            if errors:
                raise form_errors(f"task {task_id}: the form has errors", schema, errors)
            now = self.clock.now()
            stored, dropped = dict(checked["data"]), checked["dropped"]
            for field, (filename, content) in files.items():
                if field not in stored:  # a field the form does not declare: dropped
                    continue
                info = attachments.add(
                    st.session, st.case.id, st.case.number, filename, content, user, now, row.id
                )
                stored[field] = info.reference

            def write() -> None:
                st.rows.update_task(
                    row,
                    status=TaskStatus.DONE.value,
                    completed_at=now,
                    completed_by=user,
                    data=stored,
                    assignee=row.assignee or user,
                )
                st.rows.kpi_add(
                    kpi.task_items(
                        st.case.process_key,
                        TaskStatus.DONE,
                        row.due_at,
                        now,
                        user,
                        zone,
                        kpi.summary_of(st.version.task_meta, row.element_id),
                        row.created_at,
                    )
                )
                detail: dict[str, Any] = {"task": row.id, "data": stored}
                if dropped:
                    detail["dropped"] = dropped
                st.rows.event(
                    "task_completed",
                    at=now,
                    actor=user,
                    case_id=st.case.id,
                    element_id=row.element_id,
                    detail=detail,
                )

            sp.stage(write)
            # A copy: the workflow object may outlive the step, the caller keeps `data`.
            spiff_task.data.update(copy.deepcopy(stored))
            spiff_task.run()

        try:
            return self._step(
                None,
                user,
                "complete",
                action,
                conflict_hint=lambda: self._task_conflict(task_id),
                prepare=prepare,
                view=True,
            )
        except ValidationFailed:
            if refused:  # nothing was saved; who tried to set what is kept in the audit trail
                task, names = refused[0]
                with self._transaction() as txn:
                    txn.rows.event(
                        "task_submission_refused",
                        at=self.clock.now(),
                        actor=user,
                        case_id=task.case_id,
                        element_id=task.element_id,
                        detail={"task": task.id, "refused": names},
                    )
                    txn.commit()
            raise
