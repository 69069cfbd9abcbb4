"""10,000 timers due at once, fired by the timer worker (engine.worker.timers.Worker, as `caseflow
worker` runs it) on SQLite: how fast, and whether any fired twice."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from .bulk import add_cases, timer_template
from .common import log, new_database, runtime, utc_now

DUE = 10_000


def fired_report(db: Any, expected: int) -> dict[str, int]:
    """How the firing went, from the rows: timers fired, twice-fired, cases finished."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()

        def one(sql: str) -> int:
            cur.execute(sql)
            return cur.fetchone()[0]

        return {
            "expected": expected,
            "timer_rows_fired": one("SELECT COUNT(*) FROM timer WHERE status = 'fired'"),
            "timer_rows_waiting": one("SELECT COUNT(*) FROM timer WHERE status = 'waiting'"),
            "fired_events": one("SELECT COUNT(*) FROM event WHERE kind = 'timer_fired'"),
            "cases_fired_twice": one(
                "SELECT COUNT(*) FROM (SELECT case_id FROM event WHERE kind = 'timer_fired'"
                " GROUP BY case_id HAVING COUNT(*) > 1) AS twice"
            ),
            "cases_completed": one(
                "SELECT COUNT(*) FROM \"case\" WHERE status = 'completed' AND process_key = 'bench_timer'"
            ),
        }
    finally:
        raw.close()


def duplicates(report: dict[str, int]) -> int:
    """Firings beyond one per timer."""
    return max(0, report["fired_events"] - report["timer_rows_fired"]) + report["cases_fired_twice"]


def prepare(ws: Any, url: str, count: int) -> Any:
    """A database with `count` waiting cases whose one timer fell due a minute ago."""
    from engine.core.clock import FixedClock

    db = new_database(ws, url)
    clock = FixedClock(utc_now())
    rt = runtime(ws, db, clock)
    template, number = timer_template(rt, clock, timedelta(minutes=1))
    rt.cancel_case(number, "template only")  # so that exactly `count` timers are due
    add_cases(db, [(template, count)], utc_now(), prefix="BT", span=timedelta(days=2), due=None)
    return db


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    from engine.worker.timers import Worker

    count = 1_000 if quick else DUE
    t0 = time.perf_counter()
    db = prepare(ws, ws.sqlite_url("timers.db"), count)
    log(f"  {count:,} due timers written in {time.perf_counter() - t0:.1f} s")
    worker = Worker(runtime(ws, db))
    t0 = time.perf_counter()
    rounds = 0
    while True:
        fired, _ = worker.round()
        rounds += 1
        if fired.cases == 0:
            break
        if rounds % 10 == 0:
            log(f"  {worker.timers.fired:,} fired ({time.perf_counter() - t0:.1f} s)")
    elapsed = time.perf_counter() - t0
    report = fired_report(db, count)
    results["timers_fired_per_s"] = round(report["timer_rows_fired"] / elapsed, 1)
    results["timer_duplicates"] = duplicates(report)
    results["timer_fire_report"] = {
        **report,
        "seconds": round(elapsed, 2),
        **worker.timers.to_dict(),
    }
    log(
        f"  fired {report['timer_rows_fired']:,} of {count:,} in {elapsed:.1f} s"
        f" ({report['timer_rows_fired'] / elapsed:,.0f}/s); twice: {duplicates(report)};"
        f" still waiting: {report['timer_rows_waiting']}; cases completed: {report['cases_completed']:,}"
    )
