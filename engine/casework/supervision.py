"""What supervisors ask besides the case list: where the running cases of a process version
wait (the heat map, engine.casework.heat_map), which cases are in error (the incident list),
who may take a task over, and a case's history (engine.casework.case_timeline) and data told
with names instead of ids. `Supervision` answers these questions on one runtime (the web
layer keeps one per app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from engine.casework import case_filter, process_catalogue, queries
from engine.casework.case_timeline import TimelineEntry, timeline
from engine.casework.heat_map import HeatCount, HeatMap, heat_counts
from engine.core.errors import NotFound
from engine.core.status import CaseStatus
from engine.runtime import casedata
from engine.runtime.diagram import DiagramIndex
from engine.runtime.verbs import Runtime
from engine.runtime.views import CaseView
from engine.store.database import Database
from engine.store.tables import (
    Case,
    Event,
    MessageWait,
    ProcessVersion,
    User,
    UserRole,
)

INCIDENT_LIMIT = 500

# ----- incidents ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    number: str
    process: str
    process_name: str
    version: int
    element_id: str | None
    element_name: str | None
    message: str | None
    since: datetime


# ----- people ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    display_name: str | None


def role_holders(db: Database, role: str) -> list[Person]:
    """The active users who hold `role` (whom a task of that role can be given to)."""
    with db.read() as session:
        return [
            Person(name, display)
            for name, display in session.execute(
                select(User.name, User.display_name)
                .join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role_id == role, User.active.is_(True))
                .order_by(User.name)
            )
        ]


@dataclass(frozen=True)
class MessageChoice:
    name: str  # the message's name (what is sent)
    label: str  # what waits for it, by name


class Supervision:
    """The supervisor's questions on one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def _db(self) -> Database:
        return self.runtime.db

    # ----- lists -------------------------------------------------------------------------

    def list_cases(
        self, flt: case_filter.CaseFilter, after: str | None = None, before: str | None = None
    ) -> queries.CasePage:
        """A page of the case list with the number of matching cases (bounded)."""
        return queries.list_cases(
            self._db,
            flt,
            self.runtime.clock.now(),
            after=after,
            limit=queries.PAGE_SIZE,
            before=before,
            count=True,
        )

    def export_cases(
        self, flt: case_filter.CaseFilter, limit: int = queries.COUNT_CAP
    ) -> list[queries.CaseRow]:
        """The filtered cases, newest first, at most `limit` (for CSV and XLSX)."""
        rows: list[queries.CaseRow] = []
        after = None
        now = self.runtime.clock.now()
        while len(rows) < limit:
            page = queries.list_cases(
                self._db, flt, now, after=after, limit=min(500, limit - len(rows))
            )
            rows.extend(page.rows)
            after = page.next_cursor
            if not after:
                break
        return rows

    def process_names(self) -> dict[str, tuple[str, int]]:
        return process_catalogue.process_names(self._db)

    def process_steps(self, key: str | None = None) -> list[process_catalogue.ProcessSteps]:
        return process_catalogue.process_steps(self._db, key)

    def role_holders(self, role: str) -> list[Person]:
        return role_holders(self._db, role)

    # ----- versions ----------------------------------------------------------------------

    def version_id(self, key: str, version: int) -> int:
        with self._db.read() as session:
            found = session.scalar(
                select(ProcessVersion.id).where(
                    ProcessVersion.key == key, ProcessVersion.version == version
                )
            )
        if found is None:
            raise NotFound(
                f"no version {version} of process {key!r}",
                reason="version_not_found",
                version=version,
                process=key,
            )
        return found

    def versions_of(self, key: str) -> list[int]:
        with self._db.read() as session:
            found = list(
                session.scalars(
                    select(ProcessVersion.version)
                    .where(ProcessVersion.key == key)
                    .order_by(ProcessVersion.version.desc())
                )
            )
        if not found:
            raise NotFound(f"no process {key!r}", reason="process_not_found", process=key)
        return found

    def diagram(self, key: str, version: int) -> DiagramIndex:
        return self.runtime.version_diagram(self.version_id(key, version))

    # ----- the heat map ------------------------------------------------------------------

    def heat_map(self, key: str, version: int) -> HeatMap:
        """Where the running cases of one process version wait, element by element."""
        version_id = self.version_id(key, version)
        diagram = self.runtime.version_diagram(version_id)
        running, found = heat_counts(self._db, version_id)
        per: dict[str, dict[str, int]] = {}
        for (element, kind), count in found.items():
            per.setdefault(element, {})[kind] = count
        counts = [
            HeatCount(
                element,
                diagram.name(element) or element,
                kinds.get("task", 0),
                kinds.get("timer", 0),
                kinds.get("error", 0),
                kinds.get("message", 0),
            )
            for element, kinds in per.items()
        ]
        counts.sort(key=lambda c: (-c.total, c.name))
        name = process_catalogue.process_names(self._db).get(key, (key, 0))[0]
        return HeatMap(key, version, name, version_id, running, counts)

    # ----- incidents ---------------------------------------------------------------------

    def incidents(self, limit: int = INCIDENT_LIMIT) -> tuple[list[Incident], int]:
        """Cases in error, the longest-waiting first, with their process, the element that
        failed and its message; and how many there are in all."""
        since = (
            select(func.max(Event.at))
            .where(Event.case_id == Case.id, Event.kind == "error")
            .correlate(Case)
            .scalar_subquery()
        )
        query = (
            select(
                Case.number,
                Case.process_key,
                Case.process_version_id,
                Case.error_element,
                Case.error_message,
                Case.updated_at,
                since.label("since"),
                ProcessVersion.version,
            )
            .join(ProcessVersion, ProcessVersion.id == Case.process_version_id)
            .where(Case.status == CaseStatus.ERROR)
            .order_by(Case.updated_at, Case.id)
            .limit(limit)
        )
        with self._db.read() as session:
            rows = session.execute(query).all()
            total = session.scalar(
                select(func.count()).select_from(Case).where(Case.status == CaseStatus.ERROR)
            )
        names = process_catalogue.process_names(self._db)
        out = []
        for row in rows:
            diagram = self.runtime.version_diagram(row.process_version_id)
            out.append(
                Incident(
                    number=row.number,
                    process=row.process_key,
                    process_name=names.get(row.process_key, (row.process_key, 0))[0],
                    version=row.version,
                    element_id=row.error_element,
                    element_name=diagram.name(row.error_element),
                    message=row.error_message,
                    since=row.since or row.updated_at,
                )
            )
        out.sort(key=lambda i: i.since)
        return out, int(total or 0)

    # ----- one case ----------------------------------------------------------------------

    def case_version_id(self, case: CaseView) -> int:
        return self.version_id(case.process, case.version)

    def timeline(self, case: CaseView) -> list[TimelineEntry]:
        diagram = self.runtime.version_diagram(self.case_version_id(case))
        return timeline(case, diagram, self.runtime.settings.timezone)

    def data_groups(self, case: CaseView) -> tuple[list[casedata.DataGroup], int]:
        """The case's data under the titles of its version's forms (see engine.runtime.casedata)."""
        sources = self.runtime.version_forms(self.case_version_id(case))
        return casedata.labelled_groups(case.data, sources)

    def message_choices(self, case: CaseView) -> list[MessageChoice]:
        """The messages the case waits for, each with what waits for it, by name."""
        diagram = self.runtime.version_diagram(self.case_version_id(case))
        return [MessageChoice(m, diagram.message_label(m)) for m in case.waiting_messages]

    def message_waits(self, case: CaseView) -> list[tuple[str, str]]:
        """(element id, message name) for each message the case waits for where it stands: its
        message wait rows, which the heat map counts (not the messages that would start an
        event sub-process), by element."""
        with self._db.read() as session:
            rows = session.execute(
                select(MessageWait.element_id, MessageWait.message)
                .join(Case, Case.id == MessageWait.case_id)
                .where(Case.number == case.number)
                .order_by(MessageWait.element_id, MessageWait.message)
            ).all()
        return [(element, message) for element, message in rows]

    def element_names(self, case: CaseView) -> dict[str, str]:
        return dict(self.runtime.version_diagram(self.case_version_id(case)).names)
