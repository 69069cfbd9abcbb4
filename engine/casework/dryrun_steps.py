"""One dry run's case, step by step: starting it with the scenario's data (or the simplest the
start form takes), then each of the scenario's steps (complete a task, send a message, move the
clock, run to the end) on the run's own runtime and clock, with timers falling due as a
punctual worker would fire them. Counts the engine steps and the wall time against the run's
limits; what went wrong becomes a Failure or a note (coded Messages). engine.casework.dryrun
sets the run up and reports it."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from engine.casework.dryrun_draft import DiagramIndex, start_answers
from engine.casework.dryrun_report import Failure
from engine.casework.scenario import MAX_SPAN, Scenario, ScenarioError, Step
from engine.core.clock import FixedClock
from engine.core.errors import CaseflowError, ValidationFailed
from engine.core.messages import Message
from engine.core.settings import Settings
from engine.core.status import CaseStatus
from engine.definitions.forms import prefilled_values, with_case_limits
from engine.definitions.simplest import simplest_data
from engine.identity.users import add_user
from engine.runtime.tracing import TracingRuntime
from engine.store.database import Database

MAX_ACTIONS = 200  # engine steps of one run: the start, each task, message and timer round
MAX_SECONDS = 20.0  # wall time of one run
USER = "dry-run"  # who works the tasks in the throw-away database


class Stop(Exception):
    """The run cannot go on; the reason is in the report."""


class ScenarioRun:
    """One case of a dry run, driven through the scenario's steps on its own runtime and clock
    (in the throw-away database); what happened gathers in `failures` and `notes`."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        plan: Scenario,
        index: DiagramIndex,
        key: str,
    ) -> None:
        self.db = db
        self.settings = settings
        self.plan = plan
        self.index = index
        self.key = key
        self.clock = FixedClock(plan.start)
        self.rt = TracingRuntime(db, settings, self.clock)
        self.number = ""  # the case's, once started
        self.actions = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.failures: list[Failure] = []
        self.notes: list[Message] = []
        self.start_data: dict[str, Any] | None = None

    # ----- set-up ---------------------------------------------------------------------------

    def start(self) -> None:
        rt = self.rt
        data = self.plan.data
        if data is None:
            data = start_answers(rt, self.key, self.clock.now()) or {}
        self.start_data = data
        self._count()
        try:
            case = rt.start_case(self.key, data, actor=USER)
        except ValidationFailed as exc:
            # The form's field messages as they are (coded: the web says them per language).
            errors = {f"data.{k}" if k else "data": list(v) for k, v in exc.errors.items()}
            raise ScenarioError(
                Message(
                    "dry_run_start_refused",
                    f"the start data is refused: {exc}",
                    error=_said(exc),
                ),
                errors,
            ) from None
        except CaseflowError as exc:  # e.g. a process only others call (startable=false)
            said = _said(exc)
            raise ScenarioError(
                Message("dry_run_cannot_start", f"the case cannot start: {exc}", error=said),
                {"process": [said]},
            ) from None
        self.number = case.number

    # ----- the steps ------------------------------------------------------------------------

    def _count(self) -> None:
        if self.actions >= MAX_ACTIONS:
            self.notes.append(
                Message(
                    "dry_run_stopped_steps",
                    f"stopped after {MAX_ACTIONS} engine steps (the limit of a dry run)",
                    num=MAX_ACTIONS,
                )
            )
            raise Stop
        if time.monotonic() > self.deadline:
            self.notes.append(
                Message(
                    "dry_run_stopped_seconds",
                    f"stopped after {MAX_SECONDS:.0f} seconds (the limit of a dry run)",
                    num=round(MAX_SECONDS),
                )
            )
            raise Stop
        self.actions += 1

    def _fail(
        self, index: int | None, step: Step | None, message: Message, element: str | None = None
    ) -> None:
        self.failures.append(
            Failure(
                step=index,
                action=step.describe() if step is not None else None,
                element=element,
                message=message,
                at=self.clock.now(),
            )
        )
        raise Stop

    def _case(self) -> Any:
        return self.rt.get_case(self.number, history_limit=1)

    def do(self, index: int, step: Step) -> None:
        case = self._case()
        if case.status != CaseStatus.RUNNING and step.do in ("complete", "message"):
            self._fail(
                index,
                step,
                Message(
                    "dry_run_case_not_running",
                    f"the case is {case.status}: nothing more can happen to it",
                    status=str(case.status),
                ),
            )
        if step.do == "complete":
            task = next((t for t in case.open_tasks if t.element_id == step.element), None)
            if task is None:
                open_ids = [t.element_id for t in case.open_tasks]
                self._fail(
                    index,
                    step,
                    Message(
                        "dry_run_no_open_task",
                        f"no task is open at {step.element} now"
                        f" (open: {', '.join(open_ids) or 'none'})",
                        element=step.element,
                        open=open_ids,
                    ),
                    step.element,
                )
            self._complete(index, step, task, step.answers)
        elif step.do == "message":
            self._count()
            try:
                self.rt.send_message(self.number, step.name, step.payload, actor=USER)
            except CaseflowError as exc:
                self._fail(index, step, _said(exc))
        elif step.do == "clock":
            target = step.to if step.to is not None else self.clock.now() + step.by  # type: ignore[operator]
            if target < self.clock.now():
                now = self.clock.now()
                self._fail(
                    index,
                    step,
                    Message(
                        "dry_run_clock_back",
                        f"the clock cannot go back (it is {now.isoformat()} already)",
                        at=now,
                    ),
                )
            self._move_clock(index, step, target)
        else:
            self._run_to_end(index, step)

    def _complete(self, index: int, step: Step | None, task: Any, answers: Any) -> None:
        rt = self.rt
        if answers is None:
            form = rt.get_task(task.id).form or {}
            data = rt.task_data(task.id)
            bound = with_case_limits(form, data)
            answers = simplest_data(
                bound,
                self.clock.now(),
                rt.calendar.zone,
                start=prefilled_values(bound, data),
            )
        user = task.assignee or USER
        if user != USER:
            self._ensure_user(index, step, user)
        self._count()
        try:
            rt.complete_task(task.id, answers, user)
        except ValidationFailed as exc:
            fields = "; ".join(
                f"{k or 'form'}: {', '.join(map(str, v))}" for k, v in exc.errors.items()
            )
            self._fail(
                index,
                step,
                Message(
                    "dry_run_answers_refused",
                    f"the answers to {task.element_id} are refused: {fields}",
                    element=task.element_id,
                    errors={k: list(v) for k, v in exc.errors.items()},
                ),
                task.element_id,
            )
        except CaseflowError as exc:
            self._fail(index, step, _said(exc), task.element_id)

    def _ensure_user(self, index: int, step: Step | None, name: str) -> None:
        try:
            add_user(self.db, self.settings, name, sorted(self.settings.roles), self.clock.now())
        except CaseflowError as exc:
            self._fail(
                index,
                step,
                Message(
                    "dry_run_assignee_refused",
                    f"the task's assignee {name!r} cannot work it: {exc}",
                    user=name,
                    error=_said(exc),
                ),
            )

    def _next_timer(self) -> tuple[datetime, Any] | None:
        case = self._case()
        waiting = [t for t in case.timers if t.status == "waiting"]
        if case.status != CaseStatus.RUNNING or not waiting:
            return None
        first = min(waiting, key=lambda t: t.due_at)
        return first.due_at, first

    def _fire(self, index: int, step: Step, due: datetime) -> None:
        """Move the clock to `due` (never back) and fire what is due, as the worker would."""
        if due - self.plan.start > MAX_SPAN:
            self.notes.append(
                Message(
                    "dry_run_timer_too_far",
                    f"stopped: the next timer is due {due.isoformat()}, more than"
                    f" {MAX_SPAN.days} days after the start",
                    at=due,
                    days=MAX_SPAN.days,
                )
            )
            raise Stop
        if due > self.clock.now():
            self.clock.set(due)
        self._count()
        try:
            self.rt.fire_timers(self.number)
        except CaseflowError as exc:
            self._fail(
                index,
                step,
                Message(
                    "dry_run_timers_failed", f"firing the timers failed: {exc}", error=_said(exc)
                ),
            )

    def _move_clock(self, index: int, step: Step, target: datetime) -> None:
        if target - self.plan.start > MAX_SPAN:
            self.notes.append(
                Message(
                    "dry_run_clock_capped",
                    f"the clock stops at {MAX_SPAN.days} days after the start",
                    days=MAX_SPAN.days,
                )
            )
            target = self.plan.start + MAX_SPAN
        last = None
        while (found := self._next_timer()) is not None and found[0] <= target:
            due, timer = found
            if (timer.id, due) == last:
                break  # it did not fire (the case went into error): do not spin
            last = (timer.id, due)
            self._fire(index, step, due)
        self.clock.set(max(target, self.clock.now()))

    def _run_to_end(self, index: int, step: Step) -> None:
        last = None
        while True:
            case = self._case()
            if case.status != CaseStatus.RUNNING:
                return
            found = self._next_timer()
            if case.open_tasks and not (step.timers_first and found is not None):
                self._complete(index, step, case.open_tasks[0], None)
                continue
            if found is None:
                waits = list(case.waiting_messages)
                self.notes.append(
                    Message(
                        "dry_run_waits_for_messages",
                        f"run to the end: the case waits for message(s) {', '.join(waits)}",
                        names=waits,
                    )
                    if waits
                    else Message(
                        "dry_run_waits_for_nothing",
                        "run to the end: the case waits for nothing it can be given",
                    )
                )
                return
            due, timer = found
            if (timer.id, due) == last:
                self.notes.append(
                    Message(
                        "dry_run_timer_does_not_fire",
                        f"run to the end: the timer at {timer.element_id} does not fire",
                        element=timer.element_id,
                    )
                )
                return
            last = (timer.id, due)
            self._fire(index, step, due)


def _said(exc: CaseflowError) -> Message:
    """An engine error as a Message: its reason and params (the web layer's sentence for the
    reason), or, without a reason, its class's code and the English text alone."""
    return Message(exc.reason or exc.code, str(exc), **exc.params)
