"""Plain SQL for the paths that run on every step: the case row, its event rows, the KPI
rollup, a user's roles; its task, timer and message wait rows are in engine.store.waitrows.

On a 2-core machine SQLAlchemy costs 0.1–0.3 ms per Core statement and 0.3–0.6 ms per ORM
query or flush, while the statement itself takes 10–30 µs; a case step needs about ten of
them. So the hot paths use the DBAPI cursor of the step's own connection (engine.runtime.steptxn):
the statements run inside the step's transaction (BEGIN IMMEDIATE on SQLite) and commit or roll
back with it, together with whatever service helpers wrote through the ORM Session that is
joined to the same connection when a helper first needs one. While there is such a Session it
is flushed before every statement (free when nothing is pending), so rows are written in the
order the step made them and ORM writes are visible to these reads.

Values are stored exactly as the ORM stores them: naive UTC datetimes (on SQLite the text
'YYYY-MM-DD HH:MM:SS.ffffff'), JSON columns as JSON, version counters incremented by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.store.database import Database
from engine.store.records import (
    CASE_SELECT,
    CaseRecord,
    EventRecord,
    NotificationRecord,
    read_dt,
    read_json,
)
from engine.store.waitrows import WaitRows

_PG_SQL: dict[str, str] = {}

KPI_UPSERT = (
    "INSERT INTO kpi_day (process_key, day, staff, metric, count, total)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (staff, day, process_key, metric)"
    " DO UPDATE SET count = kpi_day.count + excluded.count,"
    " total = kpi_day.total + excluded.total"
)


def _pg(sql: str) -> str:
    out = _PG_SQL.get(sql)
    if out is None:
        out = _PG_SQL[sql] = sql.replace("?", "%s")
    return out


class Rows(WaitRows):
    """Statements on a connection inside a transaction (a Session's, or a plain read)."""

    __slots__ = ("session", "sqlite", "cursor", "_error", "_dialect", "_json", "_kpi")

    def __init__(self, session: Session | None, dbapi_connection: Any, dialect: Any):
        self.session = session
        self._kpi: list[tuple[str, str, str, str, int, float]] = []
        self._dialect = dialect
        self.sqlite = dialect.name == "sqlite"
        self.cursor = dbapi_connection.cursor()
        self._error = dialect.loaded_dbapi.Error
        self._json = None
        if not self.sqlite:
            from psycopg.types.json import Json

            self._json = Json

    @classmethod
    def of(cls, session: Session) -> Rows:
        """Rows on the connection of `session` (begins its transaction if need be)."""
        conn = session.connection()
        return cls(session, conn.connection.driver_connection, conn.dialect)

    # ----- running statements -------------------------------------------------------------

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.session is not None:
            self.session.flush()
        cursor = self.cursor
        try:
            cursor.execute(sql if self.sqlite else _pg(sql), params)
        except self._error as exc:
            raise sa_exc.DBAPIError.instance(
                sql, params, exc, self._error, dialect=self._dialect
            ) from exc
        return cursor

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.run(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self.run(sql, params).fetchone()

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.session is not None:
            self.session.flush()
        try:
            self.cursor.executemany(sql if self.sqlite else _pg(sql), rows)
        except self._error as exc:
            raise sa_exc.DBAPIError.instance(
                sql, rows, exc, self._error, dialect=self._dialect
            ) from exc

    # ----- values -------------------------------------------------------------------------

    def dt(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def js(self, value: Any) -> Any:
        if value is None:
            return None
        return json.dumps(value) if self.sqlite else self._json(value)

    # ----- cases ----------------------------------------------------------------------------

    def case_by_number(self, number: str) -> CaseRecord | None:
        row = self.one(CASE_SELECT + " WHERE number = ?", (number,))
        return CaseRecord.from_row(row) if row else None

    def case_by_id(self, case_id: int) -> CaseRecord | None:
        row = self.one(CASE_SELECT + " WHERE id = ?", (case_id,))
        return CaseRecord.from_row(row) if row else None

    def insert_case(self, case: CaseRecord) -> int:
        case.version = 1
        case.id = self.one(
            'INSERT INTO "case" (number, process_version_id, process_key, status, state,'
            " serializer_version, customer_name, customer_phone, service_item, started_by,"
            " started_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            (
                case.number,
                case.process_version_id,
                case.process_key,
                case.status,
                case.state,
                case.serializer_version,
                case.customer_name,
                case.customer_phone,
                case.service_item,
                case.started_by,
                self.dt(case.started_at),
                self.dt(case.updated_at),
                1,
            ),
        )[0]
        return case.id

    def save_case(self, case: CaseRecord) -> None:
        """Write what a step changes on the case row; a concurrent change raises
        StaleDataError (as the ORM's version counter does)."""
        cursor = self.run(
            'UPDATE "case" SET status = ?, state = ?, serializer_version = ?, customer_name = ?,'
            " customer_phone = ?, service_item = ?, next_timer_at = ?, error_element = ?,"
            " error_message = ?, ended_at = ?, outcome = ?, promised_at = ?, served_at = ?,"
            " satisfaction = ?, category = ?, updated_at = ?, version = ?"
            " WHERE id = ? AND version = ?",
            (
                case.status,
                case.state,
                case.serializer_version,
                case.customer_name,
                case.customer_phone,
                case.service_item,
                self.dt(case.next_timer_at),
                case.error_element,
                case.error_message,
                self.dt(case.ended_at),
                case.outcome,
                self.dt(case.promised_at),
                self.dt(case.served_at),
                case.satisfaction,
                case.category,
                self.dt(case.updated_at),
                case.version + 1,
                case.id,
                case.version,
            ),
        )
        if cursor.rowcount != 1:
            raise StaleDataError(f"case {case.number} was changed by another transaction")
        case.version += 1

    # ----- events ---------------------------------------------------------------------------

    def event(
        self,
        kind: str,
        *,
        at: datetime,
        actor: str | None = None,
        case_id: int | None = None,
        element_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.run(
            "INSERT INTO event (case_id, at, actor, kind, element_id, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (case_id, self.dt(at), actor, kind, element_id, self.js(detail)),
        )

    def latest_events(self, case_id: int, limit: int | None) -> list[EventRecord]:
        sql = (
            "SELECT at, kind, actor, element_id, detail FROM event WHERE case_id = ?"
            " ORDER BY id DESC"
        )
        rows = self.all(sql + " LIMIT ?", (case_id, limit)) if limit is not None else None
        if rows is None:
            rows = self.all(sql, (case_id,))
        return [
            EventRecord(read_dt(r[0]), r[1], r[2], r[3], read_json(r[4])) for r in reversed(rows)
        ]

    def notifications(self, case_id: int) -> list[NotificationRecord]:
        return [
            NotificationRecord(r[0], r[1], r[2], r[3], r[4], read_dt(r[5]), read_dt(r[6]), r[7])
            for r in self.all(
                "SELECT channel, recipient, subject, status, attempts, created_at, sent_at,"
                " last_error FROM outbox WHERE case_id = ? ORDER BY id",
                (case_id,),
            )
        ]

    # ----- KPI rollup -----------------------------------------------------------------------

    def kpi_add(self, items: Sequence[tuple[str, str, str, str, int, float]]) -> None:
        """Add (process_key, day, staff, metric, count, total) to the kpi_day rollup: kept until
        `flush_kpi` (called by the step's commit), so the rollup's rows, which every step of a
        process on one day shares, are locked only for the moment before the commit and not
        for the rest of the step (on PostgreSQL two steps would otherwise queue behind each
        other's rollup row for their whole length)."""
        self._kpi.extend(items)

    def kpi_mark(self) -> int:
        """Where the rollup additions stand (a savepoint notes it, to undo what it rolls back)."""
        return len(self._kpi)

    def kpi_undo(self, mark: int) -> None:
        del self._kpi[mark:]

    def flush_kpi(self) -> None:
        """Write the step's rollup additions, summed per row and in key order (two steps
        always lock shared rows in the same order, so they cannot deadlock)."""
        if not self._kpi:
            return
        sums: dict[tuple[str, str, str, str], list[float]] = {}
        for process, day, staff, metric, count, total in self._kpi:
            entry = sums.setdefault((process, day, staff, metric), [0, 0.0])
            entry[0] += count
            entry[1] += total
        self._kpi = []
        self.many(
            KPI_UPSERT,
            [(*key, int(count), float(total)) for key, (count, total) in sorted(sums.items())],
        )

    # ----- users ----------------------------------------------------------------------------

    def user_roles(self, name: str) -> set[str] | None:
        """The roles of an active user; None for an unknown or inactive one."""
        rows = self.all(
            'SELECT r.role_id FROM "user" u LEFT JOIN user_role r ON r.user_id = u.id'
            " WHERE u.name = ? AND u.active = ?",
            (name, True),
        )
        if not rows:
            return None
        return {r[0] for r in rows if r[0] is not None}


@contextmanager
def read(db: Database) -> Iterator[Rows]:
    """A read-only transaction straight on a pooled connection (no Session, no ORM)."""
    raw = db.engine.raw_connection()
    try:
        rows = Rows(None, raw.driver_connection, db.engine.dialect)
        if rows.sqlite:
            raw.driver_connection.execute("BEGIN")
        yield rows
    finally:
        try:
            raw.rollback()
        finally:
            raw.close()
