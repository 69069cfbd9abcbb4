"""The supervisors' dashboard at 1,000,000 cases: 12 months of ended cases (and one completed
task each) written as rows with executemany (COPY on PostgreSQL), the kpi_day rollup filled by
`rebuild_kpis` (what `caseflow kpi rebuild` runs on existing data), then the reads the
dashboard page makes — the 6-month series of the 8 KPIs, the month, its quarter and the staff
ranking — 20 times; p95 of those page reads. Then the report pages' reads (consultations by
category for the month against the one before, a week's daily summary, eight weeks' weekly
summary), 20 times: p95. Consultations carry a category and every tenth task is a follow-up.
On SQLite, and on PostgreSQL when a server can be started (tests/pgserver.py)."""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from .common import ROOT, log, new_database, percentile

CASES = 1_000_000
QUICK_CASES = 50_000
READS = 20
MONTHS = 12
BATCH = 20_000
PROCESSES = (
    "store_appointment",
    "signed_service_booking",
    "consultation",
    "home_cleaning_dispatch",
    "repair_dispatch",
    "infant_massage_booking",
    "maternity_nurse_placement",
    "complaint_handling",
)
OUTCOMES = (
    ["served"] * 14
    + ["cancelled_by_customer"] * 2
    + ["cancelled_by_company", "no_show", "withdrawn", "unfulfilled"]
)
STAFF = [f"staff{n:02d}" for n in range(40)]
CATEGORIES = ("產品信息咨詢", "業務辦理咨詢", "技術支持咨詢", "費用相關咨詢", "其他咨詢")
START = datetime(2025, 12, 1, tzinfo=UTC)  # 12 months: 2025-12 … 2026-11
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _rows(count: int, version_id: int, sqlite: bool):
    """(case row, task row) pairs for `count` ended cases spread over 12 months."""
    rng = random.Random(7)
    span = (NOW - START).total_seconds() - 3 * 86400

    def dt(value: datetime) -> Any:
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else naive

    for n in range(1, count + 1):
        started = START + timedelta(seconds=rng.random() * span)
        ended = started + timedelta(hours=rng.uniform(1, 60))
        outcome = rng.choice(OUTCOMES)
        served = started + timedelta(hours=rng.uniform(1, 48)) if outcome == "served" else None
        promised = served - timedelta(minutes=rng.uniform(-60, 240)) if served else None
        score = float(rng.randint(1, 5)) if served and rng.random() < 0.6 else None
        status = "cancelled" if outcome == "cancelled_by_company" else "completed"
        process = PROCESSES[n % len(PROCESSES)]
        category = rng.choice(CATEGORIES) if process == "consultation" else None
        case = (
            n,
            f"BM-{n:08d}",
            version_id,
            process,
            status,
            "{}",
            "1",
            dt(started),
            dt(ended),
            dt(ended),
            outcome,
            dt(promised) if promised else None,
            dt(served) if served else None,
            score,
            category,
            1,
        )
        due = started + timedelta(hours=8)
        done = started + timedelta(hours=rng.uniform(0.5, 10))
        who = STAFF[rng.randrange(len(STAFF))]
        element = "followup_day3" if n % 10 == 0 else "serve"
        task = (n, n, "x", element, "接待", "service_desk", "done", who, dt(started))
        task += (dt(due), dt(done), who, 1)
        yield case, task


CASE_COLUMNS = (
    "id, number, process_version_id, process_key, status, state, serializer_version,"
    " started_at, updated_at, ended_at, outcome, promised_at, served_at, satisfaction, category,"
    " version"
)
TASK_COLUMNS = (
    "id, case_id, spiff_task_id, element_id, name, role, status, assignee, created_at,"
    " due_at, completed_at, completed_by, version"
)


def _fill(db: Any, count: int) -> float:
    """Write the cases and tasks; returns seconds."""
    t0 = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        cur = conn.cursor()
        cur.execute("SELECT min(id) FROM process_version")
        version_id = cur.fetchone()[0]
        pairs = _rows(count, version_id, db.is_sqlite)
        if db.is_sqlite:
            cases_sql = f'INSERT INTO "case" ({CASE_COLUMNS}) VALUES ({", ".join("?" * 16)})'
            tasks_sql = f"INSERT INTO task ({TASK_COLUMNS}) VALUES ({', '.join('?' * 13)})"
            cur.execute("BEGIN")  # the driver runs in autocommit: one transaction, not 2M
            while batch := [p for _, p in zip(range(BATCH), pairs, strict=False)]:
                cur.executemany(cases_sql, [c for c, _ in batch])
                cur.executemany(tasks_sql, [t for _, t in batch])
            conn.commit()
        else:
            # Two passes over the same seeded rows: cases first, then their tasks.
            with cur.copy(f'COPY "case" ({CASE_COLUMNS}) FROM STDIN') as copy:
                for c, _ in pairs:
                    copy.write_row(c)
            with cur.copy(f"COPY task ({TASK_COLUMNS}) FROM STDIN") as copy:
                for _, t in _rows(count, version_id, False):
                    copy.write_row(t)
            cur.execute("SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), %s)", (count,))
            cur.execute("SELECT setval(pg_get_serial_sequence('task', 'id'), %s)", (count,))
            cur.execute('ANALYZE "case"')
            cur.execute("ANALYZE task")
            conn.commit()
    finally:
        raw.close()
    return time.perf_counter() - t0


def _page_reads(db: Any, timezone: str) -> list[float]:
    """Seconds of each of READS dashboard page reads (as webui/dashboard.py's index makes
    them: the series, the month, its quarter, the staff ranking)."""
    from engine.casework import kpi_periods, metrics

    months = kpi_periods.recent_months(NOW, timezone, 6)
    month = months[-1]
    times = []
    for _ in range(READS + 2):
        t0 = time.perf_counter()
        series = metrics.kpi_series(db, months, timezone, NOW)
        rows = metrics.period_kpis(db, month, timezone, NOW)
        quarter = metrics.period_kpis(db, kpi_periods.quarter_of(month), timezone, NOW)
        staff = metrics.staff_kpis(db, month)
        times.append(time.perf_counter() - t0)
        assert len(series) == 6 and rows and quarter and staff
    return times[2:]  # the first two warm the caches


def _report_reads(db: Any, timezone: str) -> list[float]:
    """Seconds of each of READS reads of the report pages (webui/reports.py): the month's
    categories against the month before, the week's days, the last eight weeks."""
    from engine.casework import kpi_periods, reports

    month = kpi_periods.recent_months(NOW, timezone, 1)[0]
    week = reports.current_week(NOW, timezone)
    times = []
    for _ in range(READS + 2):
        t0 = time.perf_counter()
        categories = reports.category_report(db, month)
        days = reports.daily_summary(db, week, timezone, NOW)
        weeks = reports.weekly_summary(db, week, timezone, NOW)
        times.append(time.perf_counter() - t0)
        assert categories.rows and len(days) == 8 and len(weeks) == 8
        assert sum(w.followups_done for w in weeks) > 0
    return times[2:]


def _measure(ws: Any, url: str, count: int, label: str) -> dict[str, Any]:
    from engine.casework.kpi_rebuild import rebuild_kpis

    db = new_database(ws, url)
    timezone = ws.settings().timezone
    fill_s = _fill(db, count)
    log(f"  {label}: {count:,} cases and tasks written in {fill_s:.1f} s")
    t0 = time.perf_counter()
    rollup_rows = rebuild_kpis(db, timezone)
    rebuild_s = time.perf_counter() - t0
    log(f"  {label}: kpi rebuild {rebuild_s:.1f} s ({rollup_rows:,} rollup rows)")
    times = _page_reads(db, timezone)
    p95 = round(percentile(times, 95) * 1000, 2)
    log(
        f"  {label}: dashboard page reads p95 {p95} ms (median {sorted(times)[len(times) // 2] * 1000:.2f} ms)"
    )
    reports_p95 = round(percentile(_report_reads(db, timezone), 95) * 1000, 2)
    log(f"  {label}: report page reads p95 {reports_p95} ms")
    return {
        "p95_ms": p95,
        "reports_p95_ms": reports_p95,
        "rebuild_s": round(rebuild_s, 1),
        "rollup_rows": rollup_rows,
    }


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    count = QUICK_CASES if quick else CASES
    sqlite = _measure(ws, ws.sqlite_url("dashboard.db"), count, "SQLite")
    results["dashboard_p95_ms_1m"] = sqlite["p95_ms"]
    results["dashboard_kpi_rebuild_s_1m"] = sqlite["rebuild_s"]
    results["dashboard_rollup_rows_1m"] = sqlite["rollup_rows"]
    results["reports_p95_ms_1m"] = sqlite["reports_p95_ms"]
    sys.path.insert(0, str(ROOT))
    from tests import pgserver

    server = pgserver.start_or_none()
    if server is None:
        log(f"  PostgreSQL skipped: {pgserver.UNAVAILABLE_REASON}")
        results["pg_dashboard_p95_ms_1m"] = None
        return
    try:
        pg = _measure(ws, server.create_database("dashboard"), count, "PostgreSQL")
        results["pg_dashboard_p95_ms_1m"] = pg["p95_ms"]
        results["pg_dashboard_kpi_rebuild_s_1m"] = pg["rebuild_s"]
        results["pg_reports_p95_ms_1m"] = pg["reports_p95_ms"]
    finally:
        for db in ws.databases:
            db.dispose()
        ws.databases.clear()
        server.stop()
