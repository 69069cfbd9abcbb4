"""The runtime: start cases, work tasks, deliver messages, cancel and retry — one transaction
per step.

Every verb loads the case, first fires any timer of that case that fell due (each at its own due
time), applies the change, runs the engine until it waits again, writes the new state with its
task, timer and event rows, and commits. A concurrent change to the same case is caught by the
case's version counter and reported as a Conflict; nothing of the losing request is saved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import spiff, stepcontext
from .audit import record
from .calendar import BusinessCalendar
from .clock import Clock, SystemClock
from .definitions import Deployed, SourceFile, read_paths
from .definitions import deploy as deploy_files
from .errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from .forms import default_confirmation_schema, validate_submission
from .projection import case_data, project, waiting_messages, waiting_timers
from .scripts import make_script_engine
from .settings import Settings, load_settings
from .status import ACTIVE_CASE, ACTIVE_TASK, CaseStatus, TaskStatus, TimerStatus
from .store import (
    Case,
    CaseCounter,
    Database,
    Event,
    Form,
    Outbox,
    ProcessVersion,
    Task,
    Timer,
)
from .users import user_roles
from .views import CaseView, EventView, NotificationView, TaskView, TimerView

# Cycle timers with tiny periods must not keep one step busy for ever.
MAX_FIRINGS_PER_STEP = 500

# Modules whose @service helpers BPMN scripts may call; they register on import.
SERVICE_MODULES: tuple[str, ...] = ("engine.notify", "engine.resources", "engine.directory")


def load_service_modules() -> None:
    import importlib
    import importlib.util

    for name in SERVICE_MODULES:
        # A module not written yet is skipped; one that exists but fails to import raises.
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


SUPERVISOR_ROLE = "supervisor"

# History events that mean the element was passed (the tree may be compacted).
_DONE_EVENTS = {"task_completed", "timer_fired", "message_received"}

# Verbs that change a case return it with this many of its latest events.
RECENT_HISTORY = 50

Action = Callable[[Session, Case, BpmnWorkflow, ProcessVersion], Any]


class Runtime:
    """The engine's facade. Build one per process; it is safe to share between threads."""

    def __init__(self, db: Database, settings: Settings | None = None, clock: Clock | None = None):
        self.db = db
        self.settings = settings or load_settings()
        self.clock = clock or SystemClock()
        spiff.set_company_timezone(self.settings.timezone)
        self.calendar = BusinessCalendar.from_settings(self.settings)
        load_service_modules()
        self.script_engine = make_script_engine(
            helpers={**self.calendar.script_helpers(spiff.engine_now), **stepcontext.services()},
            time_limit_s=self.settings.script_time_limit_s,
        )
        self._specs: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._specs_lock = threading.Lock()

    # ----- definitions -------------------------------------------------------------------

    def deploy(
        self, sources: Sequence[str | Path] | Sequence[SourceFile], actor: str | None = None
    ) -> list[Deployed]:
        """Validate and deploy BPMN, DMN and form files (or folders of them)."""
        files = [s for s in sources if isinstance(s, SourceFile)]
        paths = [s for s in sources if not isinstance(s, SourceFile)]
        if paths:
            files += read_paths(paths)
        return deploy_files(self.db, files, self.settings, self.clock, actor)

    def _specs_for(self, version: ProcessVersion) -> tuple[Any, dict[str, Any]]:
        with self._specs_lock:
            cached = self._specs.get(version.id)
        if cached is None:
            cached = spiff.load_specs(version.spec_json)
            with self._specs_lock:
                self._specs[version.id] = cached
        return cached

    # ----- starting ------------------------------------------------------------------------

    def start_case(
        self, process_key: str, data: dict[str, Any] | None = None, actor: str | None = None
    ) -> CaseView:
        """Start a case on the newest version of a process; returns the case with its number."""
        if data is not None and not isinstance(data, dict):
            raise ValidationFailed("case data must be a JSON object", {"": ["must be an object"]})
        try:
            number = self._start(process_key, data, actor)
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict("the database is busy; no case was started, try again") from exc
            raise
        return self.get_case(number, history_limit=RECENT_HISTORY)

    def _start(self, process_key: str, data: dict[str, Any] | None, actor: str | None) -> str:
        now = self.clock.now()
        with self.db.write() as session:
            version = session.scalars(
                select(ProcessVersion)
                .where(ProcessVersion.key == process_key)
                .order_by(ProcessVersion.version.desc())
                .limit(1)
            ).first()
            if version is None:
                raise NotFound(f"no deployed process {process_key!r}")
            spec, subprocess_specs = self._specs_for(version)
            workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
            workflow.task_tree.data.update({**(version.defaults or {}), **(data or {})})
            case = Case(
                number=self._next_number(session, version.case_prefix, now),
                process_version_id=version.id,
                process_key=version.key,
                status=CaseStatus.RUNNING,
                state="{}",
                serializer_version=spiff.SERIALIZER_VERSION,
                started_by=actor,
                started_at=now,
                updated_at=now,
            )
            session.add(case)
            session.flush()
            record(
                session,
                "case_started",
                at=now,
                actor=actor,
                case_id=case.id,
                detail={"process": version.key, "version": version.version},
            )
            with stepcontext.step(self._context(session, case, actor, now)):
                with spiff.engine_time(now):
                    self._run_engine(session, case, workflow, now, _engine_steps(workflow))
                self._finish_step(session, case, version, workflow, now)
            session.commit()
            number = case.number
        return number

    def _next_number(self, session: Session, prefix: str, now: datetime) -> str:
        day = self.calendar.local(now).strftime("%Y%m%d")
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        stmt = (
            insert(CaseCounter)
            .values(prefix=prefix, day=day, last=1)
            .on_conflict_do_update(
                index_elements=["prefix", "day"], set_={"last": CaseCounter.last + 1}
            )
            .returning(CaseCounter.last)
        )
        last = session.execute(stmt).scalar_one()
        return f"{prefix}-{day}-{last:04d}"

    # ----- the step ------------------------------------------------------------------------

    def _step(
        self,
        number: str,
        actor: str | None,
        kind: str,
        action: Action | None,
        *,
        conflict_hint: Callable[[], str] | None = None,
    ) -> Any:
        now = self.clock.now()
        try:
            with self.db.write() as session:
                case = session.scalars(select(Case).where(Case.number == number)).first()
                if case is None:
                    raise NotFound(f"no case numbered {number!r}")
                if case.status not in ACTIVE_CASE:
                    if conflict_hint is not None:
                        raise Conflict(conflict_hint())
                    raise InvalidState(
                        f"case {number} is {case.status}; nothing can change it any more"
                    )
                version = session.get(ProcessVersion, case.process_version_id)
                workflow = self._load(case, version)
                with stepcontext.step(self._context(session, case, actor, now)):
                    fired_until, result = self._fire_due(session, case, workflow, now)
                    if action is not None:
                        with spiff.engine_time(now):
                            result = self._run_engine(
                                session,
                                case,
                                workflow,
                                now,
                                lambda sp: sp.around(
                                    lambda: action(session, case, workflow, version)
                                ),
                            )
                            if case.status != CaseStatus.ERROR or kind == "retry":
                                self._run_engine(
                                    session, case, workflow, now, _engine_steps(workflow)
                                )
                    self._finish_step(session, case, version, workflow, now, fired_until)
                session.commit()
                return result
        except StaleDataError as exc:
            raise Conflict(
                conflict_hint()
                if conflict_hint
                else f"case {number} was changed by someone else at the same time; nothing was saved, reload and try again"
            ) from exc
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict(f"case {number} is busy; nothing was saved, try again") from exc
            raise

    def _context(
        self, session: Session, case: Case, actor: str | None, now: datetime
    ) -> stepcontext.StepContext:
        return stepcontext.StepContext(
            session=session,
            case_id=case.id,
            case_number=case.number,
            process_key=case.process_key,
            actor=actor,
            now=now,
            calendar=self.calendar,
        )

    def _load(self, case: Case, version: ProcessVersion) -> BpmnWorkflow:
        spec, subprocess_specs = self._specs_for(version)
        return spiff.load_case_state(case.state, spec, subprocess_specs, self.script_engine)

    def _run_engine(
        self,
        session: Session,
        case: Case,
        workflow: BpmnWorkflow,
        now: datetime,
        fn: Callable[[_Savepoints], Any],
    ) -> Any:
        """Run engine code; a failing script or expression puts the case in error, with the
        element and message in its history, instead of losing the step. What the failing task
        wrote (outbox rows, bookings) is rolled back to its savepoint; what earlier tasks of the
        step wrote stays, matching the workflow state that is saved."""
        savepoints = _Savepoints(session)
        try:
            return fn(savepoints)
        except SpiffWorkflowException as exc:
            savepoints.rollback()
            task = getattr(exc, "task", None)
            element = task.task_spec.bpmn_id if task is not None else None
            message = _error_message(exc)
            case.status = CaseStatus.ERROR
            case.error_element = element
            case.error_message = message
            record(
                session,
                "error",
                at=now,
                case_id=case.id,
                element_id=element,
                detail={"message": message},
            )
            return None

    def fire_timers(self, number: str) -> int:
        """Fire the timers of one case that are due now; returns how many fired."""
        return self._step(number, "timer", "timers", None)

    def _fire_due(
        self, session: Session, case: Case, workflow: BpmnWorkflow, now: datetime
    ) -> tuple[datetime | None, int]:
        """Fire the case's timers that are due by `now`, earliest first, each at its own due
        time, so a late worker does not push later timers back."""
        fired_until, count = None, 0
        while count < MAX_FIRINGS_PER_STEP and case.status != CaseStatus.ERROR:
            due = [(task, when) for task, when in waiting_timers(workflow) if when <= now]
            if not due:
                break
            task, fired_until = due[0]
            with spiff.engine_time(fired_until):
                self._run_engine(
                    session,
                    case,
                    workflow,
                    now,
                    lambda sp: (workflow.refresh_timers(), _engine_steps(workflow)(sp)),
                )
            count += 1
            if any(t.id == task.id and w == fired_until for t, w in waiting_timers(workflow)):
                break  # it did not fire (e.g. the case went into error): do not spin
        return fired_until, count

    def _finish_step(
        self,
        session: Session,
        case: Case,
        version: ProcessVersion,
        workflow: BpmnWorkflow,
        now: datetime,
        fired_until: datetime | None = None,
    ) -> None:
        error = (
            (case.error_element, case.error_message) if case.status == CaseStatus.ERROR else None
        )
        was = case.status
        project(session, case, version, workflow, now, self.settings.default_role, fired_until)
        if error and case.status == CaseStatus.ERROR:
            case.error_element, case.error_message = error
        if case.status != was or case.status == CaseStatus.COMPLETED:
            if case.status == CaseStatus.COMPLETED:
                record(session, "case_completed", at=now, case_id=case.id)
        ctx = stepcontext.current()
        for callback in ctx.before_commit:
            callback(ctx)
        ctx.before_commit.clear()
        spiff.compact(workflow)
        case.state = spiff.dump_case_state(workflow)
        case.serializer_version = spiff.SERIALIZER_VERSION
        case.updated_at = now

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
        query = select(Task, Case.number).join(Case, Case.id == Task.case_id)
        if role:
            query = query.where(Task.role == role)
        if roles is not None:
            query = query.where(Task.role.in_(list(roles)))
        if assignee:
            query = query.where(Task.assignee == assignee)
        if case:
            query = query.where(Case.number == case)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            unknown = [s for s in statuses if s not in {t.value for t in TaskStatus}]
            if unknown:
                raise ValidationFailed(
                    f"unknown task status {', '.join(unknown)}; use one of: open, claimed, done, cancelled",
                    {"status": ["unknown status"]},
                )
            query = query.where(Task.status.in_(statuses))
        if due_before:
            query = query.where(Task.due_at <= due_before)
        query = (
            query.order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(limit).offset(offset)
        )
        with self.db.read() as session:
            return [TaskView.of(task, number) for task, number in session.execute(query)]

    def inbox(self, user: str, limit: int = 200) -> list[TaskView]:
        """Open tasks of the user's roles and the tasks the user claimed, earliest due first."""
        with self.db.read() as session:
            roles = user_roles(session, user)
            query = (
                select(Task, Case.number)
                .join(Case, Case.id == Task.case_id)
                .where(
                    ((Task.status == TaskStatus.OPEN) & Task.role.in_(roles))
                    | ((Task.status == TaskStatus.CLAIMED) & (Task.assignee == user))
                )
                .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
                .limit(limit)
            )
            return [TaskView.of(task, number) for task, number in session.execute(query)]

    def get_task(self, task_id: int, user: str | None = None) -> TaskView:
        """One task with its form schema; with `user`, only if the user holds the task's role."""
        with self.db.read() as session:
            task, number = self._task_row(session, task_id)
            if user is not None and task.role not in user_roles(session, user):
                raise Forbidden(
                    f"task {task_id} belongs to role {task.role}, which {user} does not hold"
                )
            return TaskView.of(task, number, form=self._form_schema(session, task))

    def task_data(self, task_id: int) -> dict[str, Any]:
        """The data as the task itself sees it (its own branch of the case), for rendering its
        instructions; the case's data once the task is no longer open."""
        with self.db.read() as session:
            task, number = self._task_row(session, task_id)
            case = session.get(Case, task.case_id)
            version = session.get(ProcessVersion, case.process_version_id)
            workflow = self._load(case, version)
        try:
            return dict(workflow.get_task_from_id(UUID(task.spiff_task_id)).data)
        except Exception:  # noqa: BLE001 - compacted or finished: fall back to the case's data
            return case_data(workflow)

    def _task_row(self, session: Session, task_id: int) -> tuple[Task, str]:
        row = session.execute(
            select(Task, Case.number).join(Case, Case.id == Task.case_id).where(Task.id == task_id)
        ).first()
        if row is None:
            raise NotFound(f"no task {task_id}")
        return row[0], row[1]

    def _form_schema(self, session: Session, task: Task) -> dict[str, Any]:
        if task.form_id is None:
            return default_confirmation_schema()
        return session.get(Form, task.form_id).schema

    def claim(self, task_id: int, user: str) -> TaskView:
        return self._assign(task_id, user, claim=True)

    def reassign(self, task_id: int, to_user: str, actor: str) -> TaskView:
        """A supervisor gives an open or claimed task to someone holding its role."""
        now = self.clock.now()
        try:
            with self.db.write() as session:
                if SUPERVISOR_ROLE not in user_roles(session, actor):
                    raise Forbidden(f"only a {SUPERVISOR_ROLE} may reassign tasks")
                task, number = self._task_row(session, task_id)
                if task.status not in ACTIVE_TASK:
                    raise Conflict(
                        f"task {task_id} is {task.status}; it can no longer be reassigned"
                    )
                if task.role not in user_roles(session, to_user):
                    raise Forbidden(f"{to_user} does not hold role {task.role}")
                previous = task.assignee
                task.status, task.assignee, task.claimed_at = TaskStatus.CLAIMED, to_user, now
                record(
                    session,
                    "task_reassigned",
                    at=now,
                    actor=actor,
                    case_id=task.case_id,
                    element_id=task.element_id,
                    detail={"task": task.id, "from": previous, "to": to_user},
                )
                session.commit()
                return TaskView.of(task, number)
        except StaleDataError as exc:
            raise Conflict(self._task_conflict(task_id)) from exc

    def unclaim(self, task_id: int, user: str) -> TaskView:
        return self._assign(task_id, user, claim=False)

    def _assign(self, task_id: int, user: str, *, claim: bool) -> TaskView:
        now = self.clock.now()
        try:
            with self.db.write() as session:
                task, number = self._task_row(session, task_id)
                self._check_actor(session, task, user)
                if claim:
                    if task.status == TaskStatus.CLAIMED and task.assignee == user:
                        return TaskView.of(task, number)
                    task.status, task.assignee, task.claimed_at = TaskStatus.CLAIMED, user, now
                else:
                    if task.status == TaskStatus.OPEN:
                        return TaskView.of(task, number)
                    task.status, task.assignee, task.claimed_at = TaskStatus.OPEN, None, None
                record(
                    session,
                    "task_claimed" if claim else "task_unclaimed",
                    at=now,
                    actor=user,
                    case_id=task.case_id,
                    element_id=task.element_id,
                    detail={"task": task.id},
                )
                session.commit()
                return TaskView.of(task, number)
        except StaleDataError as exc:
            raise Conflict(self._task_conflict(task_id)) from exc

    def _check_actor(self, session: Session, task: Task, user: str) -> None:
        """The user may act on the task: holds its role, and nobody else finished or claimed it."""
        roles = user_roles(session, user)
        if task.role not in roles:
            raise Forbidden(
                f"task {task.id} belongs to role {task.role}, which {user} does not hold"
            )
        if task.status == TaskStatus.DONE:
            raise Conflict(
                f"task {task.id} was already completed by {task.completed_by} at {task.completed_at:%Y-%m-%d %H:%M} UTC"
            )
        if task.status == TaskStatus.CANCELLED:
            raise Conflict(
                f"task {task.id} was cancelled at {task.completed_at:%Y-%m-%d %H:%M} UTC (the case moved on without it)"
            )
        if task.status == TaskStatus.CLAIMED and task.assignee != user:
            raise Conflict(f"task {task.id} is claimed by {task.assignee}")

    def _task_conflict(self, task_id: int) -> str:
        with self.db.read() as session:
            task = session.get(Task, task_id)
            if task is not None and task.status == TaskStatus.DONE:
                return f"task {task_id} was already completed by {task.completed_by} at {task.completed_at:%Y-%m-%d %H:%M} UTC"
            if task is not None and task.status == TaskStatus.CLAIMED:
                return f"task {task_id} was just claimed by {task.assignee}"
        return f"task {task_id} was changed by someone else at the same time; nothing was saved"

    def complete_task(
        self, task_id: int, data: dict[str, Any] | None, user: str, lang: str = "zh"
    ) -> CaseView:
        """Validate `data` against the task's form, then complete the task and run the case on."""
        data = dict(data or {})
        with self.db.read() as session:
            task, number = self._task_row(session, task_id)
            self._check_actor(session, task, user)
            errors = validate_submission(self._form_schema(session, task), data, lang=lang)
        if errors:
            raise ValidationFailed(
                f"task {task_id}: the form has errors; nothing was saved", errors
            )

        def action(
            session: Session, case: Case, workflow: BpmnWorkflow, version: ProcessVersion
        ) -> None:
            row = session.get(Task, task_id)
            self._check_actor(session, row, user)
            spiff_task = workflow.get_task_from_id(UUID(row.spiff_task_id))
            if not spiff_task.has_state(TaskState.READY):
                raise Conflict(f"task {task_id} can no longer be completed (the case moved on)")
            now = self.clock.now()
            row.status, row.completed_at, row.completed_by, row.data = (
                TaskStatus.DONE,
                now,
                user,
                data,
            )
            row.assignee = row.assignee or user
            record(
                session,
                "task_completed",
                at=now,
                actor=user,
                case_id=case.id,
                element_id=row.element_id,
                detail={"task": row.id, "data": data},
            )
            spiff_task.data.update(data)
            spiff_task.run()

        self._step(
            number, user, "complete", action, conflict_hint=lambda: self._task_conflict(task_id)
        )
        return self.get_case(number, history_limit=RECENT_HISTORY)

    # ----- messages, cancel, retry ---------------------------------------------------------

    def send_message(
        self, number: str, name: str, data: dict[str, Any] | None = None, actor: str | None = None
    ) -> CaseView:
        """Deliver a message to the case (correlation is by case number)."""
        if data is not None and not isinstance(data, dict):
            raise ValidationFailed(
                "message data must be a JSON object", {"": ["must be an object"]}
            )

        def action(
            session: Session, case: Case, workflow: BpmnWorkflow, version: ProcessVersion
        ) -> None:
            listening = waiting_messages(workflow)
            matching = [(t, d) for t, d in listening if d.name == name]
            if not matching:
                names = sorted({d.name for _, d in listening})
                raise InvalidState(
                    f"case {number} is not waiting for message {name!r}"
                    + (
                        f"; it waits for: {', '.join(names)}"
                        if names
                        else "; it waits for no message"
                    )
                )
            task, definition = matching[0]
            event = BpmnEvent(
                definition, payload=dict(data or {}), correlations=dict(workflow.correlations)
            )
            record(
                session,
                "message_received",
                at=self.clock.now(),
                actor=actor,
                case_id=case.id,
                element_id=task.task_spec.bpmn_id,
                detail={"message": name, "data": data or {}},
            )
            workflow.send_event(event)

        self._step(number, actor, "message", action)
        return self.get_case(number, history_limit=RECENT_HISTORY)

    def cancel_case(self, number: str, reason: str, actor: str | None = None) -> CaseView:
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed("a cancellation needs a reason", {"reason": ["required"]})

        def action(
            session: Session, case: Case, workflow: BpmnWorkflow, version: ProcessVersion
        ) -> None:
            workflow.cancel()
            now = self.clock.now()
            for row in session.scalars(
                select(Task).where(Task.case_id == case.id, Task.status.in_(ACTIVE_TASK))
            ):
                row.status, row.completed_at = TaskStatus.CANCELLED, now
            for timer in session.scalars(
                select(Timer).where(Timer.case_id == case.id, Timer.status == TimerStatus.WAITING)
            ):
                timer.status = TimerStatus.CANCELLED
            case.cancel_reason = reason
            record(
                session,
                "case_cancelled",
                at=now,
                actor=actor,
                case_id=case.id,
                detail={"reason": reason},
            )

        def run(
            session: Session, case: Case, workflow: BpmnWorkflow, version: ProcessVersion
        ) -> None:
            action(session, case, workflow, version)

        now = self.clock.now()
        try:
            with self.db.write() as session:
                case = session.scalars(select(Case).where(Case.number == number)).first()
                if case is None:
                    raise NotFound(f"no case numbered {number!r}")
                if case.status not in ACTIVE_CASE:
                    raise InvalidState(f"case {number} is {case.status}; it cannot be cancelled")
                version = session.get(ProcessVersion, case.process_version_id)
                workflow = self._load(case, version)
                run(session, case, workflow, version)
                case.status, case.ended_at = CaseStatus.CANCELLED, now
                case.next_timer_at = None
                case.state = spiff.dump_case_state(workflow)
                case.updated_at = now
                session.commit()
        except StaleDataError as exc:  # the case or one of its tasks changed meanwhile
            raise Conflict(
                f"case {number} was changed at the same time; nothing was saved, try again"
            ) from exc
        return self.get_case(number, history_limit=RECENT_HISTORY)

    def retry_case(
        self, number: str, actor: str | None = None, data: dict[str, Any] | None = None
    ) -> CaseView:
        """Run the failed step of a case in error again, optionally with corrected data."""

        def action(
            session: Session, case: Case, workflow: BpmnWorkflow, version: ProcessVersion
        ) -> None:
            if case.status != CaseStatus.ERROR:
                raise InvalidState(f"case {number} is not in error")
            failed = workflow.get_tasks(state=TaskState.ERROR)
            record(
                session,
                "retry",
                at=self.clock.now(),
                actor=actor,
                case_id=case.id,
                element_id=case.error_element,
                detail={"data": data or {}},
            )
            case.status, case.error_element, case.error_message = CaseStatus.RUNNING, None, None
            for task in failed:
                task.data.update(data or {})
                task._set_state(TaskState.READY)

        self._step(number, actor, "retry", action)
        return self.get_case(number, history_limit=RECENT_HISTORY)

    # ----- reading -------------------------------------------------------------------------

    def get_case(self, number: str, history_limit: int | None = None) -> CaseView:
        """Status, open tasks, waiting timers, history (all, or the latest `history_limit`
        events) and data of one case."""
        with self.db.read() as session:
            case = session.scalars(select(Case).where(Case.number == number)).first()
            if case is None:
                raise NotFound(f"no case numbered {number!r}")
            version = session.get(ProcessVersion, case.process_version_id)
            tasks = session.scalars(
                select(Task)
                .where(Task.case_id == case.id, Task.status.in_(ACTIVE_TASK))
                .order_by(Task.id)
            ).all()
            timers = session.scalars(
                select(Timer)
                .where(Timer.case_id == case.id, Timer.status == TimerStatus.WAITING)
                .order_by(Timer.due_at)
            ).all()
            events_query = select(Event).where(Event.case_id == case.id).order_by(Event.id.desc())
            if history_limit is not None:
                events_query = events_query.limit(history_limit)
            events = list(reversed(session.scalars(events_query).all()))
            workflow = self._load(case, version)
            active = sorted(
                {
                    t.task_spec.bpmn_id
                    for t in workflow.get_tasks(
                        state=TaskState.READY
                        | TaskState.WAITING
                        | TaskState.STARTED
                        | TaskState.ERROR
                    )
                    if t.task_spec.bpmn_id
                }
            )
            return CaseView.of(
                case,
                version.version,
                data=case_data(workflow),
                open_tasks=[TaskView.of(t, case.number) for t in tasks],
                timers=[TimerView.of(t) for t in timers],
                history=[EventView.of(e) for e in events],
                active_elements=active,
                waiting_messages=sorted({d.name for _, d in waiting_messages(workflow)}),
                completed_elements=sorted(
                    {
                        t.task_spec.bpmn_id
                        for t in workflow.get_tasks(state=TaskState.COMPLETED)
                        if t.task_spec.bpmn_id
                    }
                    | {e.element_id for e in events if e.element_id and e.kind in _DONE_EVENTS}
                ),
                notifications=[
                    NotificationView.of(n)
                    for n in session.scalars(
                        select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)
                    )
                ],
            )


class _Savepoints:
    """One savepoint per task the engine runs, so a failing task's writes can be undone alone."""

    def __init__(self, session: Session):
        self.session = session
        self.open: Any = None

    def before(self, _task: Any = None) -> None:
        self.open = self.session.begin_nested()

    def after(self, _task: Any = None) -> None:
        if self.open is not None:
            self.open.commit()
            self.open = None

    def rollback(self) -> None:
        if self.open is not None:
            self.open.rollback()
            self.open = None

    def around(self, fn: Callable[[], Any]) -> Any:
        self.before()
        result = fn()
        self.after()
        return result


def _engine_steps(workflow: BpmnWorkflow) -> Callable[[_Savepoints], None]:
    return lambda sp: workflow.do_engine_steps(
        will_complete_task=sp.before, did_complete_task=sp.after
    )


def _error_message(exc: SpiffWorkflowException) -> str:
    message = str(exc).strip()
    cause = getattr(exc, "exception", None) or exc.__cause__
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message}: {cause}"
    return message[:2000]
