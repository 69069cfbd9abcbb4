"""The tables (SQLAlchemy 2 models). Connections and sessions are in engine.store.database.

The `version` counters of case and task detect a concurrent change to a row (SQLAlchemy's
version_id_col for ORM writes, the same check in engine.store.rows for the step's SQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, hands back aware UTC datetimes on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class ProcessVersion(Base):
    """One immutable deployed version of a process."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    case_prefix: Mapped[str] = mapped_column(String(10))
    # [{"filename", "kind" (bpmn|dmn), "text"}] — what was deployed, for the diagram viewer.
    sources: Mapped[list[Any]]
    spec_json: Mapped[str] = mapped_column(Text)
    # element id -> {"name", "role", "form", "form_id", "instructions"} for every user task.
    task_meta: Mapped[dict[str, Any]]
    # Case data defaults from process properties "default:<name>" (the documents' blanks).
    defaults: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Customer booking page: {"title", "start_form", "start_form_id"}; None = not bookable online.
    portal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # False for a process only other processes call (property startable="false").
    startable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Called process key -> its "default:" properties, applied when a call activity starts it.
    called_defaults: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The case variables the KPIs read: {"satisfaction", "promised", "actual"} -> name.
    kpi_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    serializer_version: Mapped[str] = mapped_column(String(20))
    deployed_by: Mapped[str | None] = mapped_column(String(100))
    deployed_at: Mapped[datetime]


class Form(Base):
    """One immutable deployed version of a form (a JSON Schema file)."""

    __tablename__ = "form"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    schema: Mapped[dict[str, Any]]
    deployed_by: Mapped[str | None] = mapped_column(String(100))
    deployed_at: Mapped[datetime]


class Case(Base):
    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_status_started", "status", "started_at"),
        Index("ix_case_process_status", "process_key", "status"),
        # The supervisors' list: newest first, all or by process (migration 0006).
        Index("ix_case_started", "started_at", "id"),
        Index("ix_case_process_started", "process_key", "started_at", "id"),
        # Where a version's running cases are, and how many (the heat map, migration 0014).
        Index("ix_case_version_status", "process_version_id", "status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)  # SpiffWorkflow instance without its spec
    serializer_version: Mapped[str] = mapped_column(String(20))
    customer_name: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_phone: Mapped[str | None] = mapped_column(String(40), index=True)
    service_item: Mapped[str | None] = mapped_column(String(200))
    appointment_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    error_element: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # How the case ended (engine.core.outcomes), and what its process's KPI fields held then:
    # the time promised to the customer, the time the service happened, the 1–5 score.
    outcome: Mapped[str | None] = mapped_column(String(40))
    promised_at: Mapped[datetime | None]
    served_at: Mapped[datetime | None]
    satisfaction: Mapped[float | None] = mapped_column(Float)
    # The category its process's `categoryField` holds (a consultation's 咨詢分類), kept for
    # `caseflow kpi rebuild`; the reports read the rollup (migration 0011).
    category: Mapped[str | None] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class StartRequest(Base):
    """One start of a case per request key (a booking form's key, an API client's
    Idempotency-Key): a repeated request, whichever server process it reaches, finds the case
    the first one started instead of starting another (migration 0015)."""

    __tablename__ = "start_request"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    digest: Mapped[str] = mapped_column(
        String(64)
    )  # of the request, to refuse another with the key
    created_at: Mapped[datetime]


class Task(Base):
    """Projection of a human task; inboxes and KPIs query this table only."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_role_status_due", "role", "status", "due_at"),
        # Claimed tasks of a user in due order, overdue tasks; with case_id they answer "which
        # cases" from the index alone (migration 0006).
        Index("ix_task_assignee_status_due", "assignee", "status", "due_at", "case_id"),
        Index("ix_task_status_due", "status", "due_at", "case_id"),
        Index("ix_task_case_status", "case_id", "status"),
        # The open follow-ups of the daily and weekly summaries (migration 0011).
        Index("ix_task_element_status", "element_id", "status"),
        # Open tasks per element in element order, with their case (the heat map, 0014).
        Index("ix_task_status_element", "status", "element_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(60))
    form_id: Mapped[int | None] = mapped_column(ForeignKey("form.id"))
    instructions: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class Timer(Base):
    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_status_due", "status", "due_at"),
        # Waiting timers per element with their case (the heat map, migration 0014).
        Index("ix_timer_status_element", "status", "element_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]


class MessageWait(Base):
    """Where a case waits for a message: one row per element and message name (a message
    catch event, a receive task, a message event after an event-based gateway or on a
    boundary). Written by the step with the task and timer rows (engine.runtime.projection),
    gone when the case no longer waits there; the heat map counts them (migration 0015)."""

    __tablename__ = "message_wait"
    __table_args__ = (
        # The waiting cases per element in element order (the heat map); the key serves a
        # case's own rows.
        Index("ix_message_wait_element", "element_id", "case_id"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), primary_key=True)
    element_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    message: Mapped[str] = mapped_column(String(300), primary_key=True)


class Event(Base):
    """Append-only audit trail."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(60), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class WorkerHeartbeat(Base):
    """A worker process's last round (written every HEARTBEAT_S at most), so that /health of
    any web process can tell whether the workers beside it are alive."""

    __tablename__ = "worker_heartbeat"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_run: Mapped[datetime]
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Outbox(Base):
    """Messages to send, written in the transaction of the step that caused them."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # [{"filename", "content_type", "text"}], e.g. a calendar invitation (.ics).
    attachments: Mapped[list[Any] | None] = mapped_column(JSON)


class Role(Base):
    __tablename__ = "role"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(300))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    api_token_hash: Mapped[str | None] = mapped_column(String(128), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # Raised by sign-out and a password change: every session signed in before is ended.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("role.id"), primary_key=True)


class Blob(Base):
    """Attachment content, addressed by its SHA-256."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime]


class KpiDay(Base):
    """The KPIs' rollup: per process, company-local day, staff member ('' for the process as a
    whole) and metric, a count and a total. Written in the transaction of the step that
    completes or cancels a task or starts or ends a case (engine.runtime.kpi), rebuilt from
    the case and task rows by `caseflow kpi rebuild`; the dashboard reads only this table."""

    __tablename__ = "kpi_day"
    # The key leads with staff and day: the figures of the processes (staff '') over a range
    # of days are one range of it. The staff ranking reads a month of every staff member's
    # rows from the second index alone.
    # On SQLite the rows are stored in key order (WITHOUT ROWID), so a range of the key is read
    # without a second lookup per row.
    __table_args__ = (
        Index("ix_kpi_day_day_staff", "day", "staff", "metric", "count", "total"),
        {"sqlite_with_rowid": False},
    )

    staff: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, local
    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[float] = mapped_column(Float)


class CaseCounter(Base):
    """Per-prefix, per-day counter behind human case numbers such as BK-20261122-0042."""

    __tablename__ = "case_counter"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class ThrottleState(Base):
    """The counts against guessing of one key in one scope (engine.identity.throttle), shared
    by every server process. The key is stored only as a keyed hash (migration 0017)."""

    __tablename__ = "throttle"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Rate limit: the times (UTC epoch milliseconds, oldest first) of the key's latest attempts,
    # at most the limit's number of them.
    hits: Mapped[list[Any]] = mapped_column(JSON)
    # Backoff: failures since the count was last forgotten, the latest, and when the key may try
    # again.
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime | None]
    next_allowed_at: Mapped[datetime | None]
    # After this the row counts for nothing and may be deleted.
    expires_at: Mapped[datetime] = mapped_column(index=True)
