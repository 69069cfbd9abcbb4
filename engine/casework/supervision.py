"""What supervisors ask besides the case list: where the running cases of a process version
wait (the heat map), which cases are in error (the incident list), who may take a task over,
and a case's history and data told with names instead of ids.

The counts are plain grouped queries on the task, timer, message wait and case tables;
nothing loads a workflow to count anything. `Supervision` answers these questions on one
runtime (the web layer keeps one per app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal, select, union_all

from engine.casework import privacy, queries
from engine.core.errors import NotFound
from engine.core.status import ACTIVE_CASE, ACTIVE_TASK, CaseStatus, TimerStatus
from engine.runtime import casedata
from engine.runtime.diagram import DiagramIndex
from engine.runtime.verbs import Runtime
from engine.runtime.views import CaseView, EventView
from engine.store.database import Database
from engine.store.tables import (
    Case,
    Event,
    MessageWait,
    ProcessVersion,
    Task,
    Timer,
    User,
    UserRole,
)

# Audit events that only say someone looked: one line per person and day on the timeline.
VIEW_KINDS = frozenset({privacy.VIEW_EVENT, privacy.EXPORT_EVENT, "case_viewed"})
INCIDENT_LIMIT = 500

# ----- the heat map ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatCount:
    """Running cases of one version waiting at one element, by how they wait."""

    element_id: str
    name: str
    tasks: int = 0  # with an open or claimed task there
    timers: int = 0  # with a waiting timer there
    errors: int = 0  # stopped there by an error
    messages: int = 0  # waiting there for a message

    @property
    def total(self) -> int:
        return self.tasks + self.timers + self.errors + self.messages


@dataclass(frozen=True)
class HeatMap:
    key: str
    version: int
    name: str
    version_id: int
    running: int  # cases of this version still running (or in error)
    counts: list[HeatCount]  # most cases first

    def by_element(self) -> dict[str, dict[str, int]]:
        return {
            c.element_id: {
                "tasks": c.tasks,
                "timers": c.timers,
                "messages": c.messages,
                "errors": c.errors,
            }
            for c in self.counts
        }


def heat_counts(db: Database, version_id: int) -> tuple[int, dict[tuple[str, str], int]]:
    """(running cases of the version,
    {(element id, "task" | "timer" | "message" | "error"): count}).

    One statement of grouped arms: open tasks and claimed tasks (each read in element order
    from the index on task status, element and case), waiting timers (likewise on timer),
    message waits (on message_wait's element and case), cases in error and the version's
    running cases (the index on case version and status); each task, timer and message wait
    is matched to its case's version through the index on the case's version. A case has one
    task or timer per element (no procedure has a multi-instance task), so the counts are
    cases; an element that waits for two messages at once has a row for each, so that arm
    counts distinct cases."""

    def task_arm(status: str) -> Any:
        return (
            select(Task.element_id, literal("task"), func.count())
            .join(Case, Case.id == Task.case_id)
            .where(Task.status == status, Case.process_version_id == version_id)
            .group_by(Task.element_id)
        )

    timers = (
        select(Timer.element_id, literal("timer"), func.count())
        .join(Case, Case.id == Timer.case_id)
        .where(Timer.status == TimerStatus.WAITING, Case.process_version_id == version_id)
        .group_by(Timer.element_id)
    )
    messages = (
        select(
            MessageWait.element_id, literal("message"), func.count(MessageWait.case_id.distinct())
        )
        .join(Case, Case.id == MessageWait.case_id)
        .where(Case.process_version_id == version_id)
        .group_by(MessageWait.element_id)
    )
    errors = (
        select(Case.error_element, literal("error"), func.count())
        .where(Case.process_version_id == version_id, Case.status == CaseStatus.ERROR)
        .group_by(Case.error_element)
    )
    running = select(literal(""), literal("case"), func.count()).where(
        Case.process_version_id == version_id, Case.status.in_(ACTIVE_CASE)
    )
    query = union_all(*(task_arm(s) for s in ACTIVE_TASK), timers, messages, errors, running)
    counts: dict[tuple[str, str], int] = {}
    total = 0
    with db.read() as session:
        for element, kind, count in session.execute(query):
            if kind == "case":
                total = count
            elif count:
                key = (element or "", kind)
                counts[key] = counts.get(key, 0) + count
    return total, counts


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


# ----- a case told with names -----------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    actor: str | None
    element: str | None  # the element's name
    text: str | None = None  # the reason, the note, the message, "from → to" …
    count: int = 1  # views folded into this line
    first_at: datetime | None = None  # the earliest of the folded views


def _detail_text(event: EventView, diagram: DiagramIndex) -> str | None:
    detail = event.detail if isinstance(event.detail, dict) else {}
    if event.kind == "case_cancelled":
        return str(detail.get("reason") or "") or None
    if event.kind == "task_reassigned":
        return f"{detail.get('from') or '—'} → {detail.get('to') or '—'}"
    if event.kind in ("script_output", "error"):
        return str(detail.get("text") or detail.get("message") or "") or None
    if event.kind == "message_received":
        data = detail.get("data") if isinstance(detail.get("data"), dict) else {}
        note = data.get("note") if isinstance(data.get("note"), str) else None
        if event.element_id:  # the line names what caught it; the note is what it says
            return note
        label = diagram.message_label(str(detail.get("message") or ""))
        return f"{label}: {note}" if note else label or None
    if event.kind == "case_migrated":
        return str(detail.get("to_version") or detail.get("version") or "") or None
    return None


def timeline(case: CaseView, diagram: DiagramIndex, zone: str) -> list[TimelineEntry]:
    """The case's history newest first, elements by name; views of personal data folded into
    one line per person and (company) day."""
    tz = ZoneInfo(zone)
    out: list[TimelineEntry] = []
    folded: dict[tuple[str | None, Any], int] = {}
    # Newest first; events of the same instant in the reverse of the order they happened.
    for event in sorted(reversed(case.history), key=lambda e: e.at, reverse=True):
        if event.kind in VIEW_KINDS:
            key = (event.actor, event.at.astimezone(tz).date())
            index = folded.get(key)
            if index is not None:
                entry = out[index]
                out[index] = TimelineEntry(
                    entry.at,
                    entry.kind,
                    entry.actor,
                    None,
                    None,
                    entry.count + 1,
                    event.at,
                )
                continue
            folded[key] = len(out)
            out.append(TimelineEntry(event.at, privacy.VIEW_EVENT, event.actor, None))
            continue
        out.append(
            TimelineEntry(
                event.at,
                event.kind,
                event.actor,
                diagram.name(event.element_id),
                _detail_text(event, diagram),
            )
        )
    return out


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
        self, flt: queries.CaseFilter, after: str | None = None, before: str | None = None
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
        self, flt: queries.CaseFilter, limit: int = queries.COUNT_CAP
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
        return queries.process_names(self._db)

    def process_steps(self, key: str | None = None) -> list[queries.ProcessSteps]:
        return queries.process_steps(self._db, key)

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
        name = queries.process_names(self._db).get(key, (key, 0))[0]
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
        names = queries.process_names(self._db)
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
