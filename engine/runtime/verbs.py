"""The runtime: start cases, work tasks, deliver messages, cancel and retry — one transaction
per step.

Every verb loads the case, first fires any timer of that case that fell due (each at its own due
time), applies the change, runs the engine until it waits again, writes the new state with its
task, timer and event rows, and commits. A concurrent change to the same case is caught by the
case's version counter and reported as a Conflict; nothing of the losing request is saved.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.core import datacodec, stepcontext
from engine.core.calendar import BusinessCalendar
from engine.core.clock import Clock, SystemClock
from engine.core.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from engine.core.rules import Refusal, check_task_action, task_refusal
from engine.core.settings import Settings, load_settings
from engine.core.status import ACTIVE_CASE, ACTIVE_TASK, CaseStatus, TaskStatus, TimerStatus
from engine.definitions import starting
from engine.definitions.deploy import Deployed
from engine.definitions.deploy import deploy as deploy_files
from engine.definitions.forms import (
    EXTRAS_REFUSE,
    declared_submission,
    default_confirmation_schema,
    split_declared,
)
from engine.definitions.sources import SourceFile, read_paths
from engine.runtime.projection import (
    Projection,
    case_data,
    pending_tasks,
    project,
    waiting_messages,
    waiting_timers,
)
from engine.runtime.steptxn import (
    HelperSession,
    Savepoints,
    StepTransaction,
    absorb_orm_case,
    engine_steps,
    held_connection_var,
    sqlite_writer_lock,
)
from engine.runtime.taskqueries import merge_parts, ordered_part, task_query, task_views
from engine.runtime.views import CaseView, EventView, NotificationView, TaskView, TimerView
from engine.spiff import adapter as spiff
from engine.spiff import evaluator
from engine.spiff.scripts import make_script_engine
from engine.store.audit import record
from engine.store.database import Database
from engine.store.records import TASK_COLUMNS_T, CaseRecord, TaskRecord, read_json
from engine.store.rows import Rows
from engine.store.rows import read as read_rows
from engine.store.tables import Case, Form, ProcessVersion, Task, Timer

# Cycle timers with tiny periods must not keep one step busy for ever.
MAX_FIRINGS_PER_STEP = 500

# Modules whose @service helpers BPMN scripts may call; they register on import.
SERVICE_MODULES: tuple[str, ...] = (
    "engine.worker.notify",
    "engine.casework.resources",
    "engine.casework.directory",
    "engine.runtime.taskhelpers",
)


def load_service_modules() -> None:
    import importlib
    import importlib.util

    for name in SERVICE_MODULES:
        # A module not written yet is skipped; one that exists but fails to import raises.
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


# History events that mean the element was passed (the tree may be compacted).
_DONE_EVENTS = {"task_completed", "timer_fired", "message_received"}

# Verbs that change a case return it with this many of its latest events.
RECENT_HISTORY = 50

# What a process without a start form accepts at its start: nothing but its defaults.
NO_START_FORM: dict[str, Any] = {"type": "object", "properties": {}}

# How many cases' live workflow objects a runtime keeps between steps (see Runtime._take_live).
LIVE_CASES = 256


@dataclass(frozen=True)
class VersionInfo:
    """What a step needs of a process version. Versions are immutable, so it is read once."""

    id: int
    key: str
    version: int
    name: str
    case_prefix: str
    task_meta: dict[str, Any]
    defaults: dict[str, Any] | None


@dataclass
class StepState:
    """Everything one step works on; handed to the step's action."""

    txn: StepTransaction
    rows: Rows
    case: CaseRecord
    version: VersionInfo
    workflow: BpmnWorkflow
    now: datetime
    actor: str | None
    helpers_session: HelperSession

    @property
    def session(self) -> Session:
        """The step's ORM session (made on first use)."""
        return self.txn.session()


Action = Callable[[StepState, Savepoints], Any]


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
            memory_limit_mb=self.settings.script_memory_limit_mb,
        )
        self._specs: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._specs_lock = threading.Lock()
        self._versions: dict[int, VersionInfo] = {}
        self._forms: dict[int, dict[str, Any]] = {}
        # case id -> (the state text it was saved as, the workflow object it came from)
        self._live: OrderedDict[int, tuple[str, BpmnWorkflow]] = OrderedDict()
        self._live_lock = threading.Lock()
        self._write_engine = (
            db.engine.execution_options(sqlite_begin="IMMEDIATE") if db.is_sqlite else db.engine
        )
        self._writer_lock = sqlite_writer_lock(db) if db.is_sqlite else None

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

    def _specs_for(self, version: Any) -> tuple[Any, dict[str, Any]]:
        with self._specs_lock:
            cached = self._specs.get(version.id)
        if cached is None:
            spec_json = getattr(version, "spec_json", None)
            if spec_json is None:
                self._version_info(version.id)
                return self._specs[version.id]
            cached = spiff.load_specs(spec_json)
            spiff.set_called_defaults(cached[1], getattr(version, "called_defaults", None))
            with self._specs_lock:
                self._specs[version.id] = cached
        return cached

    def _version_info(self, version_id: int) -> VersionInfo:
        info = self._versions.get(version_id)
        if info is None:
            with self.db.read() as session:
                row = session.get(ProcessVersion, version_id)
                if row is None:
                    raise NotFound(f"no process version {version_id}")
                self._specs_for(row)
                info = VersionInfo(
                    id=row.id,
                    key=row.key,
                    version=row.version,
                    name=row.name,
                    case_prefix=row.case_prefix,
                    task_meta=row.task_meta or {},
                    defaults=row.defaults,
                )
            self._versions[version_id] = info
        return info

    def _form(self, form_id: int | None) -> dict[str, Any]:
        """A deployed form's schema (forms are immutable versions, so they are read once).
        The cached dict is shared: callers must not change it."""
        if form_id is None:
            return default_confirmation_schema()
        schema = self._forms.get(form_id)
        if schema is None:
            with self.db.read() as session:
                form = session.get(Form, form_id)
                if form is None:
                    raise NotFound(f"no form {form_id}")
                schema = form.schema
            self._forms[form_id] = schema
        return schema

    def _transaction(self) -> StepTransaction:
        """A write transaction for one step (see StepTransaction)."""
        return StepTransaction(self._write_engine, self._writer_lock)

    @contextmanager
    def held_connection(self) -> Iterator[None]:
        """Run the steps inside on one database connection, each still its own transaction:
        for a worker's batch, where taking a connection from the pool (and, on PostgreSQL,
        checking it with a round trip) cost as much as a tenth of firing a timer."""
        if held_connection_var.get() is not None:
            yield
            return
        conn = self._write_engine.connect()
        token = held_connection_var.set(conn)
        try:
            yield
        finally:
            held_connection_var.reset(token)
            conn.close()

    @contextmanager
    def write_step(self, conflict: Callable[[], str]) -> Iterator[StepTransaction]:
        """The step transaction for a verb that changes rows without running the engine
        (claim, unclaim, reassign, cancel, migrate, purge): the same transaction object, writer's
        turn and version checks as a step. Commits when the block ends without an exception; a
        concurrent change found by a version check (StaleDataError) or a busy database becomes
        Conflict(conflict()), and nothing of the block is saved."""
        try:
            with self._transaction() as txn:
                yield txn
                txn.commit()
        except StaleDataError as exc:
            raise Conflict(conflict()) from exc
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict(conflict()) from exc
            raise

    # ----- live workflow objects -----------------------------------------------------------
    #
    # Loading a case's state costs more than running a step of a small diagram. A runtime
    # keeps the workflow object of the cases it touched last, together with the exact text it
    # was saved as. A step takes the object only when the case row still holds that very text
    # (a step elsewhere, in this or another process, changes it), so the object is what loading
    # the row would give; the step owns it while it runs (nobody else can take it), and puts it
    # back only after its commit. A failed step drops it.

    def _take_live(self, case_id: int, state: str) -> BpmnWorkflow | None:
        with self._live_lock:
            entry = self._live.pop(case_id, None)
        if entry is not None and entry[0] == state:
            return entry[1]
        return None

    def _keep_live(
        self, case_id: int, state: str, workflow: BpmnWorkflow, *, replace: bool = True
    ) -> None:
        with self._live_lock:
            if not replace and case_id in self._live:
                return
            self._live[case_id] = (state, workflow)
            self._live.move_to_end(case_id)
            while len(self._live) > LIVE_CASES:
                self._live.popitem(last=False)

    def _return_live(self, case_id: int, state: str, workflow: BpmnWorkflow) -> None:
        """Give back an object only read from (unless a newer one came meanwhile)."""
        self._keep_live(case_id, state, workflow, replace=False)

    def _load(self, case: Any, version: Any) -> BpmnWorkflow:
        """The case's workflow, owned by the caller (a live object or a fresh load)."""
        spec, subprocess_specs = self._specs_for(version)
        workflow = self._take_live(case.id, case.state) if case.id is not None else None
        if workflow is not None and workflow.spec is spec:  # (not if the case moved version)
            return workflow
        return spiff.load_case_state(case.state, spec, subprocess_specs, self.script_engine)

    # ----- starting ------------------------------------------------------------------------

    def start_case(
        self,
        process_key: str,
        data: dict[str, Any] | None = None,
        actor: str | None = None,
        *,
        check_roles: bool = False,
        lang: str = "zh",
        prevalidated: bool = False,
    ) -> CaseView:
        """Start a case on the newest version of a process; returns the case with its number.

        `data` may only hold the fields of the process's start form (property `startForm`),
        and must pass that form: other keys are refused, naming them (ValidationFailed), and
        a process without a start form starts from its defaults alone. `prevalidated` is for
        the engine's own callers that checked `data` already (the portal, against the form
        with its live choices); request input never sets it. With `check_roles`, `actor`
        must be an active user holding a role that may start the process (Forbidden
        otherwise; see engine.definitions.starting) — the API and the command line's --as ask for it."""
        if data is not None and not isinstance(data, dict):
            raise ValidationFailed("case data must be a JSON object", {"": ["must be an object"]})
        data = checked_data(data, "case data")
        try:
            return self._start(process_key, data, actor, check_roles, lang, prevalidated)
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict("the database is busy; no case was started, try again") from exc
            raise

    def _start(
        self,
        process_key: str,
        data: dict[str, Any] | None,
        actor: str | None,
        check_roles: bool = False,
        lang: str = "zh",
        prevalidated: bool = False,
    ) -> CaseView:
        now = self.clock.now()
        with self._transaction() as txn:
            rows = txn.rows
            found = rows.one(
                'SELECT id, startable, portal, content_hash FROM process_version WHERE "key" = ?'
                " ORDER BY version DESC LIMIT 1",
                (process_key,),
            )
            if found is None:
                raise NotFound(f"no deployed process {process_key!r}")
            if not found[1]:
                raise InvalidState(
                    f"process {process_key!r} is only called from other processes"
                    " (startable=false): start the process that calls it"
                )
            version = self._version_info(found[0])
            spec, subprocess_specs = self._specs_for(version)
            if check_roles:
                roles = rows.user_roles(actor) if actor else None
                if roles is None:
                    raise Forbidden(f"no active user named {actor!r} may start a case")
                allowed = starting.roles_of_version(
                    key=version.key,
                    content_hash=found[3],
                    sources=lambda: read_json(
                        rows.one("SELECT sources FROM process_version WHERE id = ?", (found[0],))[0]
                    ),
                    spec=spec,
                    subprocess_specs=subprocess_specs,
                    settings=self.settings,
                )
                starting.check_may_start(version.key, allowed, actor or "", roles)
            if not prevalidated:
                data = self._start_data(process_key, read_json(found[2]), data or {}, lang)
            workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
            # Copies: the workflow outlives the step (and the defaults are shared).
            workflow.task_tree.data.update(
                copy.deepcopy({**(version.defaults or {}), **(data or {})})
            )
            case = CaseRecord(
                id=None,
                number=self._next_number(rows, version.case_prefix, now),
                process_version_id=version.id,
                process_key=version.key,
                status=CaseStatus.RUNNING.value,
                state="{}",
                serializer_version=spiff.SERIALIZER_VERSION,
                customer_name=None,
                customer_phone=None,
                service_item=None,
                started_by=actor,
                started_at=now,
                updated_at=now,
            )
            rows.insert_case(case)
            rows.event(
                "case_started",
                at=now,
                actor=actor,
                case_id=case.id,
                detail={"process": version.key, "version": version.version},
            )
            st = StepState(txn, rows, case, version, workflow, now, actor, HelperSession(txn))
            with stepcontext.step(self._context(st)), self._budget():
                with spiff.engine_time(now):
                    self._run_engine(st, engine_steps(workflow))
                projection = self._finish_step(st)
            txn.commit()
            # After the commit (and the writer's turn): what get_case would show now.
            view = self._view(rows, case, version, workflow, projection, RECENT_HISTORY)
        self._keep_live(case.id, case.state, workflow)
        return view

    def _start_data(
        self, key: str, portal: dict[str, Any] | None, data: dict[str, Any], lang: str
    ) -> dict[str, Any]:
        """`data` checked against the process's start form for staff (only its fields, and
        valid): its `staffStartForm`, else its `startForm`, else none (no data at all)."""
        portal = portal or {}
        which = "staff_start_form" if portal.get("staff_start_form_id") else "start_form"
        form_id = portal.get(f"{which}_id")
        schema = self._form(form_id) if form_id is not None else NO_START_FORM
        try:
            kept, _ = declared_submission(schema, data, extras=EXTRAS_REFUSE, lang=lang)
        except ValidationFailed as exc:
            if form_id is None:
                raise ValidationFailed(
                    f"process {key!r} has no start form, so a case starts without data"
                    f" (only the process defaults); not accepted: {', '.join(sorted(data))}",
                    exc.errors,
                ) from None
            raise ValidationFailed(
                f"process {key!r}, start form {portal.get(which)}: {exc}", exc.errors
            ) from None
        return kept

    def _next_number(self, rows: Rows, prefix: str, now: datetime) -> str:
        day = self.calendar.local(now).strftime("%Y%m%d")
        last = rows.one(
            "INSERT INTO case_counter (prefix, day, last) VALUES (?, ?, 1)"
            " ON CONFLICT (prefix, day) DO UPDATE SET last = case_counter.last + 1"
            " RETURNING last",
            (prefix, day),
        )[0]
        return f"{prefix}-{day}-{last:04d}"

    # ----- the step ------------------------------------------------------------------------

    def _step(
        self,
        number: str | None,
        actor: str | None,
        kind: str,
        action: Action | None,
        *,
        conflict_hint: Callable[[], str] | None = None,
        prepare: Callable[[Rows], str] | None = None,
        view: bool = False,
    ) -> Any:
        """One step on one case in one transaction: fire its due timers, run `action`, run the
        engine until the case waits, write state and rows, commit. `prepare` (checks before
        the case is loaded) may name the case; with `view` the case's view is returned."""
        now = self.clock.now()
        try:
            with self._transaction() as txn:
                rows = txn.rows
                if prepare is not None:
                    number = prepare(rows)
                case = rows.case_by_number(number)
                if case is None:
                    raise NotFound(f"no case numbered {number!r}")
                if case.status not in ACTIVE_CASE:
                    if conflict_hint is not None:
                        raise Conflict(conflict_hint())
                    raise InvalidState(
                        f"case {number} is {case.status}; nothing can change it any more"
                    )
                version = self._version_info(case.process_version_id)
                workflow = self._load(case, version)
                st = StepState(txn, rows, case, version, workflow, now, actor, HelperSession(txn))
                with stepcontext.step(self._context(st)), self._budget():
                    fired_until, result = self._fire_due(st)
                    if action is not None:
                        with spiff.engine_time(now):
                            result = self._run_engine(
                                st, lambda sp: sp.around(lambda: action(st, sp))
                            )
                            if case.status != CaseStatus.ERROR or kind == "retry":
                                self._run_engine(st, engine_steps(workflow))
                    projection = self._finish_step(st, fired_until)
                txn.commit()
                if view:  # after the commit (and the writer's turn), as get_case would show it
                    result = self._view(rows, case, version, workflow, projection, RECENT_HISTORY)
            self._keep_live(case.id, case.state, workflow)
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

    def _budget(self) -> AbstractContextManager[None]:
        """The time all owner code of one step may take together (engine.spiff.evaluator)."""
        return evaluator.step_budget(self.settings.script_step_budget_s)

    def _context(self, st: StepState) -> stepcontext.StepContext:
        return stepcontext.StepContext(
            session=st.helpers_session,  # type: ignore[arg-type] - a Session in all but name
            case_id=st.case.id,
            case_number=st.case.number,
            process_key=st.case.process_key,
            actor=st.actor,
            now=st.now,
            calendar=self.calendar,
        )

    def _run_engine(self, st: StepState, fn: Callable[[Savepoints], Any]) -> Any:
        """Run engine code; a failing script or expression puts the case in error, with the
        element and message in its history, instead of losing the step. What the failing task
        wrote (outbox rows, bookings) is rolled back to its savepoint; what earlier tasks of the
        step wrote stays, matching the workflow state that is saved."""
        savepoints = Savepoints(st.txn, st.helpers_session)
        try:
            return fn(savepoints)
        except SpiffWorkflowException as exc:
            savepoints.rollback()
            task = getattr(exc, "task", None)
            element = task.task_spec.bpmn_id if task is not None else None
            message = _error_message(exc)
            case = st.case
            case.status = CaseStatus.ERROR.value
            case.error_element = element
            case.error_message = message
            st.rows.event(
                "error",
                at=st.now,
                case_id=case.id,
                element_id=element,
                detail={"message": message},
            )
            return None
        finally:
            savepoints.close()

    def fire_timers(self, number: str) -> int:
        """Fire the timers of one case that are due now; returns how many fired."""
        return self._step(number, "timer", "timers", None)

    def _fire_due(self, st: StepState) -> tuple[datetime | None, int]:
        """Fire the case's timers that are due by `now`, earliest first, each at its own due
        time, so a late worker does not push later timers back."""
        case, workflow, now = st.case, st.workflow, st.now
        fired_until, count = None, 0
        while count < MAX_FIRINGS_PER_STEP and case.status != CaseStatus.ERROR:
            due = [(task, when) for task, when in waiting_timers(workflow) if when <= now]
            if not due:
                break
            task, fired_until = due[0]
            with spiff.engine_time(fired_until):
                self._run_engine(
                    st, lambda sp: (workflow.refresh_timers(), engine_steps(workflow)(sp))
                )
            count += 1
            if any(t.id == task.id and w == fired_until for t, w in waiting_timers(workflow)):
                break  # it did not fire (e.g. the case went into error): do not spin
        return fired_until, count

    def _finish_step(self, st: StepState, fired_until: datetime | None = None) -> Projection:
        case, workflow, now, txn = st.case, st.workflow, st.now, st.txn
        error = (
            (case.error_element, case.error_message) if case.status == CaseStatus.ERROR else None
        )
        was = case.status
        projection = project(
            txn._session,
            case,
            st.version,
            workflow,
            now,
            self.settings.default_role,
            fired_until,
            rows=st.rows,
        )
        if error:
            # An error of this step (or one not yet retried) stands even where SpiffWorkflow
            # left no task in ERROR (a timer or multi-instance expression that failed).
            case.status = CaseStatus.ERROR.value
            case.error_element, case.error_message = error
        if case.status != was or case.status == CaseStatus.COMPLETED:
            if case.status == CaseStatus.COMPLETED:
                st.rows.event("case_completed", at=now, case_id=case.id)
        ctx = stepcontext.current()
        for callback in ctx.before_commit:
            callback(ctx)
        ctx.before_commit.clear()
        spiff.compact(workflow)
        try:
            case.state = spiff.dump_case_state(workflow)
        except datacodec.DataError as exc:
            # Nothing is saved; the case stays as it was before this step.
            raise InvalidState(
                f"case {case.number}: this step left a value that cannot be stored ({exc});"
                " nothing was saved"
            ) from None
        case.serializer_version = spiff.SERIALIZER_VERSION
        case.updated_at = now
        if txn.has_session:
            absorb_orm_case(txn.session(), case)
        st.rows.save_case(case)
        return projection

    def _view(
        self,
        rows: Rows,
        case: CaseRecord,
        version: VersionInfo,
        workflow: BpmnWorkflow,
        projection: Projection,
        history_limit: int | None,
    ) -> CaseView:
        """The case as get_case shows it, from rows and the workflow in hand."""
        events = rows.latest_events(case.id, history_limit)
        pending = projection.pending
        if pending is None:
            pending = pending_tasks(workflow)
        data = projection.data
        if data is None:
            data = case_data(workflow, pending)
        active = sorted({t.task_spec.bpmn_id for t in pending if t.task_spec.bpmn_id})
        return CaseView.of(
            case,
            version.version,
            # A copy: the workflow object may live on for the next step.
            data=copy.deepcopy(data),
            open_tasks=[TaskView.of(t, case.number) for t in projection.open_tasks],
            timers=[TimerView.of(t) for t in projection.timers],
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
            notifications=[NotificationView.of(n) for n in rows.notifications(case.id)],
        )

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
                f"an inbox lists open or claimed tasks, not {status!r}", {"status": ["unknown"]}
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
                    f"task {task_id} belongs to role {task.role}, which {user} does not hold"
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
            raise NotFound(f"no task {task_id}")
        return found

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

    def _task_conflict(self, task_id: int) -> str:
        with self.db.read() as session:
            task = session.get(Task, task_id)
            if task is not None and task.status == TaskStatus.DONE:
                return f"task {task_id} was already completed by {task.completed_by} at {task.completed_at:%Y-%m-%d %H:%M} UTC"
            if task is not None and task.status == TaskStatus.CLAIMED:
                return f"task {task_id} was just claimed by {task.assignee}"
        return f"task {task_id} was changed by someone else at the same time; nothing was saved"

    def _roles(self, rows: Rows, user: str) -> set[str]:
        roles = rows.user_roles(user)
        if roles is None:
            raise NotFound(f"no active user named {user!r}")
        return roles

    def _check_actor_rows(self, rows: Rows, task: TaskRecord, user: str) -> None:
        """_check_actor on a task record, inside the step's transaction."""
        _check_task_actor(task, self._roles(rows, user), user)

    def complete_task(
        self,
        task_id: int,
        data: dict[str, Any] | None,
        user: str,
        lang: str = "zh",
        *,
        extras: str = EXTRAS_REFUSE,
    ) -> CaseView:
        """Validate `data` against the task's form, then complete the task and run the case on
        (all in one transaction, so nothing can change the task between check and step).

        Only the fields the form declares are stored (engine.definitions.forms.declared_submission). Keys
        it does not declare (or marks readOnly) are refused with a ValidationFailed naming
        them when `extras` is "refuse" (the API, the command line), or dropped when it is
        "drop" (an HTML form post, where the browser sends only the form's fields); either
        way the audit trail names them (the completion's event, or a
        "task_submission_refused" event when nothing was saved)."""
        raw = checked_data(data, "task data")
        found: list[TaskRecord] = []
        checked: dict[str, Any] = {}
        refused: list[tuple[TaskRecord, list[str]]] = []

        def prepare(rows: Rows) -> str:
            task, number = self._task_record(rows, task_id)
            self._check_actor_rows(rows, task, user)
            schema = self._form(task.form_id)
            try:
                kept, dropped = declared_submission(schema, raw, extras=extras, lang=lang)
            except ValidationFailed as exc:
                undeclared = split_declared(schema, raw)[1] if extras == EXTRAS_REFUSE else []
                if undeclared:
                    refused.append((task, undeclared))
                raise ValidationFailed(f"task {task_id}: {exc}", exc.errors) from None
            checked.update(data=kept, dropped=dropped)
            found.append(task)
            return number

        def action(st: StepState, sp: Savepoints) -> None:
            row = found[0]
            spiff_task = st.workflow.get_task_from_id(UUID(row.spiff_task_id))
            if not spiff_task.has_state(TaskState.READY):
                raise Conflict(f"task {task_id} can no longer be completed (the case moved on)")
            now = self.clock.now()
            stored, dropped = checked["data"], checked["dropped"]

            def write() -> None:
                st.rows.update_task(
                    row,
                    status=TaskStatus.DONE.value,
                    completed_at=now,
                    completed_by=user,
                    data=stored,
                    assignee=row.assignee or user,
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

    # ----- messages, cancel, retry ---------------------------------------------------------

    def send_message(
        self, number: str, name: str, data: dict[str, Any] | None = None, actor: str | None = None
    ) -> CaseView:
        """Deliver a message to the case (correlation is by case number)."""
        if data is not None and not isinstance(data, dict):
            raise ValidationFailed(
                "message data must be a JSON object", {"": ["must be an object"]}
            )
        data = checked_data(data, "message data")

        def action(st: StepState, sp: Savepoints) -> None:
            workflow = st.workflow
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
                definition,
                payload=copy.deepcopy(dict(data or {})),
                correlations=dict(workflow.correlations),
            )
            now = self.clock.now()
            sp.stage(
                lambda: st.rows.event(
                    "message_received",
                    at=now,
                    actor=actor,
                    case_id=st.case.id,
                    element_id=task.task_spec.bpmn_id,
                    detail={"message": name, "data": data or {}},
                )
            )
            workflow.send_event(event)

        return self._step(number, actor, "message", action, view=True)

    def cancel_case(self, number: str, reason: str, actor: str | None = None) -> CaseView:
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed("a cancellation needs a reason", {"reason": ["required"]})

        now = self.clock.now()
        conflict = f"case {number} was changed at the same time; nothing was saved, try again"
        with self.write_step(lambda: conflict) as txn:
            session = txn.session()
            case = session.scalars(select(Case).where(Case.number == number)).first()
            if case is None:
                raise NotFound(f"no case numbered {number!r}")
            if case.status not in ACTIVE_CASE:
                raise InvalidState(f"case {number} is {case.status}; it cannot be cancelled")
            version = session.get(ProcessVersion, case.process_version_id)
            workflow = self._load(case, version)
            workflow.cancel()
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
            case.status, case.ended_at = CaseStatus.CANCELLED, now
            case.next_timer_at = None
            case.state = spiff.dump_case_state(workflow)
            case.updated_at = now
        return self.get_case(number, history_limit=RECENT_HISTORY)

    def retry_case(
        self, number: str, actor: str | None = None, data: dict[str, Any] | None = None
    ) -> CaseView:
        """Run the failed step of a case in error again, optionally with corrected data."""
        data = checked_data(data, "retry data")

        def action(st: StepState, sp: Savepoints) -> None:
            case, workflow = st.case, st.workflow
            if case.status != CaseStatus.ERROR:
                raise InvalidState(f"case {number} is not in error")
            failed = workflow.get_tasks(state=TaskState.ERROR)
            now = self.clock.now()
            element = case.error_element
            sp.stage(
                lambda: st.rows.event(
                    "retry",
                    at=now,
                    actor=actor,
                    case_id=case.id,
                    element_id=element,
                    detail={"data": data or {}},
                )
            )
            case.status, case.error_element, case.error_message = (
                CaseStatus.RUNNING.value,
                None,
                None,
            )
            for task in failed:
                task.data.update(copy.deepcopy(data or {}))
                spiff.make_ready(task)

        return self._step(number, actor, "retry", action, view=True)

    # ----- reading -------------------------------------------------------------------------

    def get_case(self, number: str, history_limit: int | None = None) -> CaseView:
        """Status, open tasks, waiting timers, history (all, or the latest `history_limit`
        events) and data of one case."""
        with read_rows(self.db) as rows:
            case = rows.case_by_number(number)
            if case is None:
                raise NotFound(f"no case numbered {number!r}")
            version = self._version_info(case.process_version_id)
            projection = Projection(rows.active_tasks(case.id), rows.waiting_timers(case.id))
            workflow = self._load(case, version)
            try:
                return self._view(rows, case, version, workflow, projection, history_limit)
            finally:
                self._return_live(case.id, case.state, workflow)


# ----- who may act on a task -------------------------------------------------------------------


def checked_data(data: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """A plain copy of data entering a case (form post, API body, message): JSON values,
    dates and decimals only (engine.core.datacodec), or ValidationFailed naming the field."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationFailed(f"{what} must be a JSON object", {"": ["must be an object"]})
    try:
        return datacodec.plain(data)
    except datacodec.DataError as exc:
        raise ValidationFailed(
            f"{what} cannot be stored: {exc}; nothing was saved", {exc.path: [exc.problem]}
        ) from None


def _check_task_actor(task: Task | TaskRecord, roles: set[str], user: str) -> None:
    check_task_action(task, roles, user, "complete")


def _error_message(exc: SpiffWorkflowException) -> str:
    message = str(exc).strip()
    cause = getattr(exc, "exception", None) or exc.__cause__
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message}: {cause}"
    return message[:2000]
