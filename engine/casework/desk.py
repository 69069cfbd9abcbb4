"""What the web layer asks of the engine besides the verbs: sign-in and tokens, the case list,
process versions and forms, KPIs, attachments and the record of who saw a customer's details.

One `Desk` per runtime (webui builds it beside the runtime). Each method is one question or one
write with the runtime's own database and clock, so a caller never holds the database itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from engine.casework import (
    case_filter,
    kpi_periods,
    metrics,
    privacy,
    process_catalogue,
    queries,
    reports,
)
from engine.identity import tokens, users
from engine.runtime import attachments, compare, versions
from engine.runtime.verbs import Runtime
from engine.store.tables import WorkerHeartbeat


class Desk:
    """The engine's answers to the web layer, on one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def _db(self) -> Any:
        return self.runtime.db

    def now(self) -> datetime:
        return self.runtime.clock.now()

    # ----- health ----------------------------------------------------------------------------

    def database_ok(self) -> str:
        """ "ok", or the error that a trivial query met."""
        try:
            with self._db.read() as session:
                session.execute(text("select 1"))
        except Exception as exc:  # noqa: BLE001 - reported to the caller, not raised
            return f"error: {exc}"
        return "ok"

    def recent_workers(self, minutes: int = 10, limit: int = 20) -> list[dict[str, Any]]:
        """The timer workers (any process) that noted a round in the last `minutes`, newest
        first."""
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        with self._db.read() as session:
            rows = session.scalars(
                select(WorkerHeartbeat)
                .where(WorkerHeartbeat.last_run >= since)
                .order_by(WorkerHeartbeat.last_run.desc())
                .limit(limit)
            ).all()
            return [
                {
                    "id": row.worker_id,
                    "last_run": row.last_run.isoformat(),
                    "last_error": (row.report or {}).get("last_error"),
                }
                for row in rows
            ]

    # ----- identity --------------------------------------------------------------------------

    def user_for_token(self, token: str | None) -> users.UserInfo | None:
        return tokens.user_for_token(self._db, token)

    def get_user(self, name: str) -> users.UserInfo | None:
        return users.get_user(self._db, name)

    def authenticate(self, name: str, password: str) -> users.UserInfo | None:
        return users.authenticate(self._db, name, password)

    def end_sessions(self, name: str) -> None:
        users.end_sessions(self._db, name)

    # ----- who saw a customer's details ------------------------------------------------------

    def record_view(self, actor: str | None, case_number: str, what: str) -> None:
        privacy.record_view(self._db, actor, case_number, what, at=self.now())

    # ----- cases -----------------------------------------------------------------------------

    def list_cases(self, flt: case_filter.CaseFilter, after: str | None = None) -> queries.CasePage:
        return queries.list_cases(self._db, flt, self.now(), after=after)

    def process_keys(self) -> list[str]:
        return process_catalogue.process_keys(self._db)

    def version_source(self, key: str, version: int) -> dict[str, Any]:
        return process_catalogue.version_source(self._db, key, version)

    def monthly_kpis(self, month: str, process: str | None = None) -> list[metrics.MonthKpi]:
        return metrics.monthly_kpis(
            self._db, month, self.runtime.settings.timezone, self.now(), process
        )

    def period_kpis(self, period: str, process: str | None = None) -> list[metrics.MonthKpi]:
        """A month (YYYY-MM) or a quarter (YYYY-Qn)."""
        return metrics.period_kpis(
            self._db, period, self.runtime.settings.timezone, self.now(), process
        )

    def kpi_series(self, months: list[str]) -> dict[str, metrics.MonthKpi]:
        return metrics.kpi_series(self._db, months, self.runtime.settings.timezone, self.now())

    def staff_kpis(self, period: str) -> list[metrics.StaffKpi]:
        return metrics.staff_kpis(self._db, period)

    def category_report(self, month: str, process: str | None = None) -> reports.CategoryReport:
        """A month's cases per category against the month before (consultations by default)."""
        return reports.category_report(self._db, month, process or reports.CONSULTATION)

    def daily_summary(self, week: str) -> list[reports.SummaryRow]:
        """The days of an ISO week (YYYY-Www) and their total."""
        return reports.daily_summary(self._db, week, self.runtime.settings.timezone, self.now())

    def weekly_summary(self, week: str, count: int = 8) -> list[reports.SummaryRow]:
        """`count` ISO weeks ending with `week`."""
        return reports.weekly_summary(
            self._db, week, self.runtime.settings.timezone, self.now(), count
        )

    def current_week(self) -> str:
        return reports.current_week(self.now(), self.runtime.settings.timezone)

    def recent_months(self, count: int = 6) -> list[str]:
        return kpi_periods.recent_months(self.now(), self.runtime.settings.timezone, count)

    # ----- processes and forms ---------------------------------------------------------------

    def list_processes(self) -> list[versions.ProcessInfo]:
        return versions.list_processes(self._db)

    def get_process(self, key: str) -> versions.ProcessInfo:
        return versions.get_process(self._db, key)

    def compare_versions(self, key: str, a: int, b: int) -> dict[str, list[dict[str, Any]]]:
        return compare.compare_versions(self._db, key, a, b)

    def deployed_forms(self) -> dict[str, Any]:
        return versions.deployed_forms(self._db)

    def form_users(self, name: str) -> list[tuple[str, int, str]]:
        return versions.form_users(self._db, name)

    def form_text(self, name: str) -> str:
        return versions.form_text(self._db, name)

    # ----- attachments -----------------------------------------------------------------------

    def attachments_for_case(self, case_number: str) -> list[attachments.AttachmentInfo]:
        return attachments.for_case(self._db, case_number)

    def store_attachment(
        self,
        case_number: str,
        filename: str,
        data: bytes,
        actor: str | None,
        task_id: int | None = None,
    ) -> attachments.AttachmentInfo:
        return attachments.store(
            self._db, case_number, filename, data, actor, self.now(), task_id=task_id
        )

    def read_attachment(
        self, attachment_id: int, user: str
    ) -> tuple[attachments.AttachmentInfo, bytes]:
        return attachments.read(self._db, attachment_id, user)
