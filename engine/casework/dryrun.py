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

What the report holds is in DryRunReport; the scenario's format in engine.casework.scenario;
how the case is driven through the scenario's steps in engine.casework.dryrun_steps. A run
stops by itself after MAX_ACTIONS engine steps or MAX_SECONDS of wall time (both there), or
when the clock would pass MAX_SPAN from the start, and says so in its notes. Notes, failed
steps and scenario problems are Messages (a code, its params and the English text; the codes
start with "dry_run_" or "scenario_"), so the web layer says them in the reader's language.
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
from engine.casework.dryrun_draft import DiagramIndex
from engine.casework.dryrun_report import DryRunReport, Failure, build_report
from engine.casework.dryrun_steps import USER, ScenarioRun, Stop
from engine.casework.resources import Resource, ServiceItem, Shift, Store
from engine.casework.scenario import Scenario, ScenarioError, Step, read_scenario
from engine.core.calendar import BusinessCalendar
from engine.core.errors import Conflict
from engine.core.messages import Message
from engine.core.settings import Settings
from engine.definitions.deploy import latest_forms
from engine.definitions.sources import SourceFile
from engine.identity.users import add_user
from engine.runtime.verbs import Runtime
from engine.runtime.versions import companion_files
from engine.store.database import Database
from engine.store.migrate import upgrade
from engine.store.tables import Form

MAX_RUNNING = 2  # dry runs at once in one server process
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
                return _run(db, source, settings, plan, index, process_key, files)
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


def _run(
    db: Database,
    source: Runtime | None,
    settings: Settings,
    plan: Scenario,
    index: DiagramIndex,
    key: str,
    files: Sequence[SourceFile],
) -> DryRunReport:
    """Set up the throw-away database `db`, run the case through the scenario and report."""
    case = ScenarioRun(db, settings, plan, index, key)
    began = time.monotonic()
    upgrade(db)
    if source is not None:
        _copy_company(source.db, db, plan.start)
    rt = case.rt
    rt.deploy(files, actor=USER)  # DefinitionError: the deploy's problems, nothing ran
    add_user(db, settings, USER, sorted(settings.roles), case.clock.now())
    try:
        case.start()
    except Stop:  # out of time before the case started: the note says so
        steps: Sequence[Step] = ()
    else:
        steps = plan.steps
    for number, step in enumerate(steps):
        try:
            case.do(number, step)
        except Stop:
            break
        except Exception as exc:  # noqa: BLE001 - reported, never an error page
            log.exception("dry run of %s: step %s failed", key, number)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            case.failures.append(
                Failure(
                    number,
                    step.describe(),
                    None,
                    Message(
                        "dry_run_step_crashed",
                        f"this step could not be done: {error}",
                        error=error,
                    ),
                    case.clock.now(),
                )
            )
            break
    return build_report(
        rt,
        case.number,
        index,
        start=plan.start,
        start_data=case.start_data,
        clock=case.clock.now(),
        failures=case.failures,
        notes=case.notes,
        actions=case.actions,
        seconds=time.monotonic() - began,
    )


def _copy_company(real_db: Database, dry_db: Database, start: datetime) -> None:
    """The deployed forms and the company's reference data, read from the real database."""
    since = start - timedelta(days=1)
    with real_db.read() as real, dry_db.write() as dry:
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
