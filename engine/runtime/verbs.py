"""The runtime: start cases, work tasks, deliver messages, cancel and retry — one transaction
per step.

Every verb loads the case, first fires any timer of that case that fell due (each at its own due
time), applies the change, runs the engine until it waits again, writes the new state with its
task, timer and event rows, and commits. A concurrent change to the same case is caught by the
case's version counter and reported as a Conflict; nothing of the losing request is saved.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow

from engine.core import stepcontext
from engine.core.calendar import BusinessCalendar
from engine.core.clock import Clock, SystemClock
from engine.core.errors import NotFound
from engine.core.settings import Settings, load_settings
from engine.definitions.deploy import Deployed
from engine.definitions.deploy import deploy as deploy_files
from engine.definitions.forms import (
    default_confirmation_schema,
)
from engine.definitions.sources import SourceFile, read_paths
from engine.definitions.templates import version_templates
from engine.runtime.cases import CaseVerbs
from engine.runtime.start import StartVerbs
from engine.runtime.step import (
    LIVE_CASES,
    StepVerbs,
    load_service_modules,
)
from engine.runtime.stepstate import VersionInfo
from engine.runtime.steptxn import (
    StepTransaction,
    committed,
    held_connection_var,
    sqlite_writer_lock,
)
from engine.runtime.taskreads import TaskReads
from engine.runtime.tasks import TaskVerbs
from engine.spiff import adapter as spiff
from engine.spiff.environment import make_script_engine
from engine.store.database import Database
from engine.store.tables import Form, ProcessVersion


class Runtime(StartVerbs, TaskReads, TaskVerbs, CaseVerbs, StepVerbs):
    """The engine's facade. Build one per process; it is safe to share between threads."""

    def __init__(self, db: Database, settings: Settings | None = None, clock: Clock | None = None):
        self.db = db
        self.settings = settings or load_settings()
        self.clock = clock or SystemClock()
        spiff.install()  # Caseflow's changes to SpiffWorkflow (engine.spiff.patches)
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
                    raise NotFound(
                        f"no process version {version_id}",
                        reason="process_version_not_found",
                        id=version_id,
                    )
                self._specs_for(row)
                info = VersionInfo(
                    id=row.id,
                    key=row.key,
                    version=row.version,
                    name=row.name,
                    case_prefix=row.case_prefix,
                    task_meta=row.task_meta or {},
                    defaults=row.defaults,
                    kpi_fields=row.kpi_fields,
                    templates=version_templates(row.sources),
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
                    raise NotFound(f"no form {form_id}", reason="form_id_not_found", id=form_id)
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
        with committed(self._transaction, conflict) as txn:
            yield txn

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
