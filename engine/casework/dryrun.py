"""The dry run: a draft of a process run against a scenario in a throw-away database, to show a
process owner what would happen before a customer meets the change.

The draft (the diagram being edited, with the files deployed beside it) is deployed into a new
SQLite database in a temporary folder, migrated like any other, with the deployed forms and
the company's reference data copied into it: stores, service items, rooms and staff with their
shifts, and the directory's staff (never its customers). Bookings held by real cases are not
copied, so every slot on shift is free. The case runs on a runtime of its own, with a clock
that starts at the scenario's start time and moves only when the scenario moves it; timers
fall due as a punctual worker would fire them, each at its own time. The real database is only
read: no case, version, outbox row or audit row is written there. The throw-away database is
deleted when the run ends.

What the report holds is in DryRunReport; the scenario's format in engine.casework.scenario.
A run stops by itself after MAX_ACTIONS engine steps or MAX_SECONDS of wall time, or when the
clock would pass MAX_SPAN from the start, and says so in its notes. Notes, failed steps and
scenario problems are Messages (a code, its params and the English text; the codes start with
"dry_run_" or "scenario_"), so the web layer says them in the reader's language.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from engine.casework.directory import Person, PersonKind
from engine.casework.dryrun_draft import DiagramIndex, start_answers
from engine.casework.dryrun_report import DryRunReport, Failure, build_report
from engine.casework.resources import Resource, ServiceItem, Shift, Store
from engine.casework.scenario import MAX_SPAN, Scenario, ScenarioError, Step, read_scenario
from engine.core.calendar import BusinessCalendar
from engine.core.clock import FixedClock
from engine.core.errors import CaseflowError, Conflict, ValidationFailed
from engine.core.messages import Message
from engine.core.settings import Settings
from engine.core.status import CaseStatus
from engine.definitions.deploy import latest_forms
from engine.definitions.forms import prefilled_values, with_case_limits
from engine.definitions.simplest import simplest_data
from engine.definitions.sources import SourceFile
from engine.identity.users import add_user
from engine.runtime.tracing import TracingRuntime
from engine.runtime.verbs import Runtime
from engine.runtime.versions import companion_files
from engine.store.database import Database
from engine.store.migrate import upgrade
from engine.store.tables import Form

MAX_ACTIONS = 200  # engine steps of one run: the start, each task, message and timer round
MAX_SECONDS = 20.0  # wall time of one run
MAX_RUNNING = 2  # dry runs at once in one server process
USER = "dry-run"  # who works the tasks in the throw-away database
# The company's reference data a case's helpers read, copied in this order (foreign keys).
REFERENCE_TABLES: tuple[Any, ...] = (Store, ServiceItem, Resource, Shift, Person)
_running = threading.BoundedSemaphore(MAX_RUNNING)
log = logging.getLogger("caseflow.dryrun")


def dry_run(
    runtime_or_settings: Runtime | Settings,
    files: Sequence[SourceFile],
    process_key: str,
    scenario: Any,
) -> DryRunReport:
    """Run process `process_key` of the draft `files` (every file it needs: BPMN, DMN, message
    templates, and forms not deployed yet) against `scenario` (a dict or its JSON text) in a
    throw-away database, and report what happened (see the module).

    With a Runtime, the deployed forms and the company's reference data are read from its
    database and its settings apply; with Settings alone, the run starts from an empty
    company. Raises ScenarioError (a ValidationFailed) for a scenario that cannot be run,
    DefinitionError with the deploy's problems for a draft that does not validate, and
    Conflict when MAX_RUNNING dry runs are running already. Nothing is ever written to the
    real database."""
    source = runtime_or_settings if isinstance(runtime_or_settings, Runtime) else None
    settings = source.settings if source is not None else runtime_or_settings
    if not isinstance(settings, Settings):
        raise TypeError("dry_run needs a Runtime or Settings")
    calendar = BusinessCalendar.from_settings(settings)
    index = DiagramIndex.of(files)
    plan = read_scenario(
        scenario, calendar.zone, tasks=index.tasks or None, messages=index.messages or None
    )
    if process_key not in index.processes:
        known = sorted(index.processes)
        said = Message(
            "dry_run_no_such_process",
            f"the draft defines no process {process_key!r}"
            f" (it defines: {', '.join(known) or 'none'})",
            process=process_key,
            known=known,
        )
        raise ScenarioError(said, {"process": [said]})
    if not _running.acquire(blocking=False):
        raise Conflict(
            f"{MAX_RUNNING} dry runs are running already; try again in a moment",
            reason="dry_runs_busy",
            num=MAX_RUNNING,
        )
    try:
        with tempfile.TemporaryDirectory(prefix="caseflow-dryrun-") as folder:
            db = Database(f"sqlite:///{Path(folder) / 'dryrun.db'}")
            try:
                return _Run(db, source, settings, plan, index, process_key).run(files)
            finally:
                db.dispose()
    finally:
        _running.release()


def dry_run_diagram(
    runtime: Runtime, filename: str, xml: str, process_key: str, scenario: Any
) -> DryRunReport:
    """dry_run on one edited BPMN file, with the files deployed beside it (as check_diagram
    and deploy_diagram take it)."""
    files = [SourceFile(filename, xml.encode("utf-8")), *companion_files(runtime.db, filename)]
    return dry_run(runtime, files, process_key, scenario)


# ----- one run ---------------------------------------------------------------------------------


class _Stop(Exception):
    """The run cannot go on; the reason is in the report."""


class _Run:
    def __init__(
        self,
        db: Database,
        source: Runtime | None,
        settings: Settings,
        plan: Scenario,
        index: DiagramIndex,
        key: str,
    ) -> None:
        self.db = db
        self.source = source
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

    def run(self, files: Sequence[SourceFile]) -> DryRunReport:
        began = time.monotonic()
        upgrade(self.db)
        self._copy_company()
        rt = self.rt
        rt.deploy(files, actor=USER)  # DefinitionError: the deploy's problems, nothing ran
        add_user(self.db, self.settings, USER, sorted(self.settings.roles), self.clock.now())
        try:
            self._start()
        except _Stop:  # out of time before the case started: the note says so
            steps: Sequence[Step] = ()
        else:
            steps = self.plan.steps
        for index, step in enumerate(steps):
            try:
                self._do(index, step)
            except _Stop:
                break
            except Exception as exc:  # noqa: BLE001 - reported, never an error page
                log.exception("dry run of %s: step %s failed", self.key, index)
                error = f"{type(exc).__name__}: {exc}"[:2000]
                self.failures.append(
                    Failure(
                        index,
                        step.describe(),
                        None,
                        Message(
                            "dry_run_step_crashed",
                            f"this step could not be done: {error}",
                            error=error,
                        ),
                        self.clock.now(),
                    )
                )
                break
        return build_report(
            rt,
            self.number,
            self.index,
            start=self.plan.start,
            start_data=self.start_data,
            clock=self.clock.now(),
            failures=self.failures,
            notes=self.notes,
            actions=self.actions,
            seconds=time.monotonic() - began,
        )

    # ----- set-up ---------------------------------------------------------------------------

    def _copy_company(self) -> None:
        """The deployed forms and the company's reference data, read from the real database."""
        if self.source is None:
            return
        since = self.plan.start - timedelta(days=1)
        with self.source.db.read() as real, self.db.write() as dry:
            for form in latest_forms(real).values():
                dry.add(
                    Form(
                        name=form.name,
                        version=form.version,
                        content_hash=form.content_hash,
                        schema=form.schema,
                        deployed_by=form.deployed_by,
                        deployed_at=form.deployed_at,
                    )
                )
            dry.flush()
            for model in REFERENCE_TABLES:
                table = model.__table__
                query = select(table)
                if model is Person:
                    query = query.where(table.c.kind != PersonKind.CUSTOMER.value)
                if model is Shift:
                    query = query.where(table.c.ends_at >= since)
                rows = [dict(row) for row in real.execute(query).mappings()]
                if rows:
                    dry.execute(insert(table), rows)
            dry.commit()

    def _start(self) -> None:
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
            raise _Stop
        if time.monotonic() > self.deadline:
            self.notes.append(
                Message(
                    "dry_run_stopped_seconds",
                    f"stopped after {MAX_SECONDS:.0f} seconds (the limit of a dry run)",
                    num=round(MAX_SECONDS),
                )
            )
            raise _Stop
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
        raise _Stop

    def _case(self) -> Any:
        return self.rt.get_case(self.number, history_limit=1)

    def _do(self, index: int, step: Step) -> None:
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
            raise _Stop
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
