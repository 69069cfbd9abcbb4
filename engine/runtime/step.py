"""The step: one case in one transaction. Fire the case's due timers, apply the verb's change,
run the engine until the case waits, write its state with its task, timer and event rows, and
commit; a version check turns a concurrent change into Conflict. What a step works on and
the checks of data entering a case are in engine.runtime.stepstate."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from engine.core import datacodec, stepcontext
from engine.core.errors import Conflict, InvalidState, NotFound
from engine.core.messages import Message
from engine.core.status import ACTIVE_CASE, CaseStatus
from engine.runtime.projection import Projection, project
from engine.runtime.stepstate import StepState, VersionInfo
from engine.runtime.steptxn import (
    HelperSession,
    Savepoints,
    absorb_orm_case,
    engine_steps,
)
from engine.runtime.views import CaseView, EventView, NotificationView, TaskView, TimerView
from engine.runtime.waits import case_data, pending_tasks, waiting_messages, waiting_timers
from engine.spiff import adapter as spiff
from engine.spiff import evaluator
from engine.store.records import CaseRecord
from engine.store.rows import Rows

# Cycle timers with tiny periods must not keep one step busy for ever.
MAX_FIRINGS_PER_STEP = 500

# Modules whose @service helpers BPMN scripts may call; they register on import.
SERVICE_MODULES: tuple[str, ...] = (
    "engine.worker.notify",
    "engine.casework.resources",
    "engine.casework.slots",
    "engine.casework.directory",
    "engine.casework.professionals",
    "engine.casework.links",
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

# How many cases' live workflow objects a runtime keeps between steps (see Runtime._take_live).
LIVE_CASES = 256


Action = Callable[[StepState, Savepoints], Any]


class StepVerbs:
    """The step: one case, one transaction (see Runtime)."""

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
                    raise NotFound(
                        f"no case numbered {number!r}", reason="case_not_found", number=number
                    )
                if case.status not in ACTIVE_CASE:
                    if conflict_hint is not None:
                        raise Conflict(conflict_hint())
                    raise InvalidState(
                        f"case {number} is {case.status}; nothing can change it any more",
                        reason="case_closed",
                        number=number,
                        status=case.status,
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
                else Message(
                    "case_changed",
                    f"case {number} was changed by someone else at the same time;"
                    " nothing was saved, reload and try again",
                    number=number,
                )
            ) from exc
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict(
                    f"case {number} is busy; nothing was saved, try again",
                    reason="case_busy",
                    number=number,
                ) from exc
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
            settings=self.settings,
            templates=st.version.templates,
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
            element, message = _error_parts(exc)
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
            zone=self.calendar.zone,
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
                " nothing was saved",
                reason="case_value_not_storable",
                number=case.number,
                problem=str(exc),
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


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _error_parts(exc: SpiffWorkflowException) -> tuple[str | None, str]:
    """The element a SpiffWorkflow error belongs to and a message a person can read. Some of
    its errors carry the task spec as their message and the text as the spec
    (`WorkflowException(self, "No input task connected.")`): both are read, and an object's
    repr never reaches the case page."""
    task = getattr(exc, "task", None)
    candidates = [*exc.args, getattr(exc, "task_spec", None)]
    spec = task.task_spec if task is not None else None
    if spec is None:
        spec = next((c for c in candidates if hasattr(c, "bpmn_id")), None)
    element = getattr(spec, "bpmn_id", None)
    label = getattr(spec, "bpmn_name", None) or element
    texts = [
        _OBJECT_REPR.sub(label or "?", c).strip()
        for c in candidates
        if isinstance(c, str) and c.strip() and not _OBJECT_REPR.fullmatch(c.strip())
    ]
    message = " ".join([*texts, *getattr(exc, "notes", [])]).strip()
    if not message:
        message = f"{type(exc).__name__} in {label}" if label else type(exc).__name__
    cause = getattr(exc, "exception", None) or exc.__cause__
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message}: {cause}"
    return element, message[:2000]
