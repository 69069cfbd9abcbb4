"""Case verbs: deliver a message, cancel, retry a case in error, and read a case."""

from __future__ import annotations

import copy
from typing import Any

from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from engine.core.messages import Message
from engine.core.outcomes import Outcome
from engine.core.status import ACTIVE_CASE, ACTIVE_TASK, CaseStatus, TaskStatus, TimerStatus
from engine.definitions.submission import EXTRAS_DROP, REQUIRED_MESSAGE, declared_submission
from engine.runtime import casedata, diagram, kpi
from engine.runtime.projection import (
    Projection,
    project_message_waits,
)
from engine.runtime.step import RECENT_HISTORY
from engine.runtime.stepstate import StepState, checked_data
from engine.runtime.steptxn import (
    Savepoints,
)
from engine.runtime.views import CaseView
from engine.runtime.waits import waiting_messages
from engine.spiff import adapter as spiff
from engine.store.audit import record
from engine.store.records import read_json
from engine.store.rows import read as read_rows
from engine.store.tables import Case, ProcessVersion, Task, Timer


def used_links(rows: Any, case_id: int) -> set[str]:
    """The ids of the customers' links whose messages the case received."""
    found = rows.all(
        "SELECT detail FROM event WHERE case_id = ? AND kind = ?", (case_id, "message_received")
    )
    return {
        detail["link"]
        for detail in (read_json(r[0]) for r in found)
        if isinstance(detail, dict) and isinstance(detail.get("link"), str)
    }


class CaseVerbs:
    """Case verbs (a mixin of Runtime)."""

    # ----- messages, cancel, retry ---------------------------------------------------------

    def send_message(
        self,
        number: str,
        name: str,
        data: dict[str, Any] | None = None,
        actor: str | None = None,
        *,
        once: str | None = None,
    ) -> CaseView:
        """Deliver a message to the case (correlation is by case number).

        With `once` (the id of a customer's link, engine.casework.links) the message is
        delivered only if no earlier message of the case carried that id: a second use is
        refused in the same transaction (InvalidState, reason "link_used")."""
        if data is not None and not isinstance(data, dict):
            raise ValidationFailed(
                "message data must be a JSON object",
                {"": [Message("not_an_object", "must be an object")]},
                reason="data_not_an_object",
                what="message data",
            )
        data = checked_data(data, "message data")

        def action(st: StepState, sp: Savepoints) -> None:
            workflow = st.workflow
            if once is not None and once in used_links(st.rows, st.case.id):
                raise InvalidState(
                    f"case {number}: this link was already used", reason="link_used", number=number
                )
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
                    ),
                    reason="not_waiting_for_message",
                    number=number,
                    name=name,
                    names=names,
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
                    detail={"message": name, "data": data or {}}
                    | ({"link": once} if once is not None else {}),
                )
            )
            workflow.send_event(event)

        return self._step(number, actor, "message", action, view=True)

    def cancel_case(self, number: str, reason: str, actor: str | None = None) -> CaseView:
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed(
                "a cancellation needs a reason",
                {"reason": [REQUIRED_MESSAGE]},
                reason="cancel_reason_required",
            )

        now = self.clock.now()
        conflict = Message(
            "case_changed",
            f"case {number} was changed at the same time; nothing was saved, try again",
            number=number,
        )
        with self.write_step(lambda: conflict) as txn:
            session = txn.session()
            case = session.scalars(select(Case).where(Case.number == number)).first()
            if case is None:
                raise NotFound(
                    f"no case numbered {number!r}", reason="case_not_found", number=number
                )
            if case.status not in ACTIVE_CASE:
                raise InvalidState(
                    f"case {number} is {case.status}; it cannot be cancelled",
                    reason="case_not_cancellable",
                    number=number,
                    status=case.status,
                )
            version = session.get(ProcessVersion, case.process_version_id)
            workflow = self._load(case, version)
            workflow.cancel()
            zone = self.calendar.zone
            for row in session.scalars(
                select(Task).where(Task.case_id == case.id, Task.status.in_(ACTIVE_TASK))
            ):
                row.status, row.completed_at = TaskStatus.CANCELLED, now
                txn.rows.kpi_add(
                    kpi.task_items(
                        case.process_key,
                        TaskStatus.CANCELLED,
                        row.due_at,
                        now,
                        row.assignee,
                        zone,
                        kpi.summary_of(version.task_meta, row.element_id),
                        row.created_at,
                    )
                )
            for timer in session.scalars(
                select(Timer).where(Timer.case_id == case.id, Timer.status == TimerStatus.WAITING)
            ):
                timer.status = TimerStatus.CANCELLED
            project_message_waits(txn.rows, case.id, None)
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
            case.outcome = Outcome.CANCELLED_BY_COMPANY
            case.promised_at = case.served_at = case.satisfaction = None
            kpi.case_ended(txn.rows, case, zone)
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
                raise InvalidState(
                    f"case {number} is not in error", reason="case_not_in_error", number=number
                )
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

    # ----- maintenance ---------------------------------------------------------------------

    def reproject_cases(self) -> tuple[int, list[str]]:
        """Write the task, timer and message wait rows of every running case (and case in
        error) again from its state, each in a step of its own with nothing to do: for rows
        an upgrade adds that earlier steps did not write (message_wait, migration 0015). A
        running case's due timers fire in that step, as the worker would fire them. Returns
        how many cases were written and the numbers of those another writer changed
        meanwhile (their own step wrote their rows)."""
        with self.db.read() as session:
            numbers = list(
                session.scalars(
                    select(Case.number).where(Case.status.in_(ACTIVE_CASE)).order_by(Case.id)
                )
            )
        written, busy = 0, []
        for number in numbers:
            try:
                self._step(number, None, "reproject", None)
            except (Conflict, InvalidState):  # changed or ended meanwhile: its step wrote them
                busy.append(number)
            else:
                written += 1
        return written, busy

    # ----- reading -------------------------------------------------------------------------

    def get_case(self, number: str, history_limit: int | None = None) -> CaseView:
        """Status, open tasks, waiting timers, history (all, or the latest `history_limit`
        events) and data of one case."""
        with read_rows(self.db) as rows:
            case = rows.case_by_number(number)
            if case is None:
                raise NotFound(
                    f"no case numbered {number!r}", reason="case_not_found", number=number
                )
            version = self._version_info(case.process_version_id)
            projection = Projection(rows.active_tasks(case.id), rows.waiting_timers(case.id))
            workflow = self._load(case, version)
            try:
                return self._view(rows, case, version, workflow, projection, history_limit)
            finally:
                self._return_live(case.id, case.state, workflow)

    # ----- what a supervisor reads and corrects ------------------------------------------

    def _case_version_id(self, number: str) -> int:
        with self.db.read() as session:
            version_id = session.scalar(
                select(Case.process_version_id).where(Case.number == number)
            )
        if version_id is None:
            raise NotFound(f"no case numbered {number!r}", reason="case_not_found", number=number)
        return version_id

    def version_diagram(self, version_id: int) -> diagram.DiagramIndex:
        """Element names and message wiring of a process version (engine.runtime.diagram)."""
        return diagram.version_diagram(self.db, version_id)

    def version_forms(self, version_id: int) -> list[casedata.FormSource]:
        """The forms of a process version, in the order a case meets them."""
        return casedata.version_form_sources(self.db, version_id, self._form)

    def message_form(self, number: str, message: str) -> dict[str, Any] | None:
        """The form the case's version names for `message` (messageForm:<message>), or None
        when it names none (a supervisor then sends a note)."""
        return casedata.message_form_of(self.db, self._case_version_id(number), message, self._form)

    def send_message_form(
        self, number: str, message: str, answer: dict[str, Any], actor: str | None = None
    ) -> CaseView:
        """Send `message` with an answer to its form (or a note, when the process names no
        form): checked like a task's form, fields not on it dropped; ValidationFailed beside
        the fields, and nothing is sent."""
        schema = self.message_form(number, message) or casedata.NOTE_FORM
        data, _ = declared_submission(schema, answer, extras=EXTRAS_DROP)
        return self.send_message(number, message, data, actor=actor)

    def correction_form(self, number: str) -> casedata.CorrectionForm:
        """The fields of the case's forms, filled with what the case holds, to correct a case
        in error before its failed step runs again."""
        version_id = self._case_version_id(number)
        data = self.get_case(number, history_limit=0).data
        return casedata.correction_form(data, self.version_forms(version_id))

    def retry_case_corrected(
        self, number: str, answer: dict[str, Any], actor: str | None = None
    ) -> CaseView:
        """Retry a case in error with the values of its correction form that differ from
        what the case holds (ValidationFailed beside the fields, and nothing runs)."""
        form = self.correction_form(number)
        data, _ = declared_submission(form.schema, answer, extras=EXTRAS_DROP)
        changed = casedata.changed_values(data, form.values)
        return self.retry_case(number, actor=actor, data=changed or None)


# ----- who may act on a task -------------------------------------------------------------------
