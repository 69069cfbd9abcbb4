"""Lists at production scale: the staff inbox, the supervisor's case list and the timer
worker's scan, with 100,000 open cases (and 100,000 waiting timers) in a SQLite database.

The data: 100,000 open cases of a two-step process with a deadline on each step (half at the
first step, half at the second; 10% of the open tasks claimed), plus 20,000 finished cases of
another process. Every open task has a deadline within the next 30 days and a waiting timer.
"""

from __future__ import annotations

import random
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from .bulk import add_cases, deadline_templates, lifecycle_done_template
from .common import checkpoint, log, median, new_database, percentile, runtime, utc_now

OPEN_CASES = 100_000
DONE_CASES = 20_000


def build_dataset(ws: Any, name: str = "big.db", open_cases: int = OPEN_CASES) -> Path:
    """The 100k database (made once per run; other sections copy the file)."""
    path = ws.path / name
    if path.exists():
        return path
    t0 = time.perf_counter()
    db = new_database(ws, ws.sqlite_url(name))
    rt = runtime(ws, db)
    first, second = deadline_templates(rt)
    done = lifecycle_done_template(rt)
    now = utc_now()
    add_cases(
        db, [(first, open_cases // 2), (second, open_cases - open_cases // 2)], now, prefix="BX"
    )
    add_cases(db, [(done, DONE_CASES)], now, prefix="BY", due=None, seed=11)
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.execute("ANALYZE")
    finally:
        raw.close()
    checkpoint(db)
    db.dispose()
    log(
        f"  built {open_cases:,} open + {DONE_CASES:,} finished cases in"
        f" {time.perf_counter() - t0:.1f} s ({path.stat().st_size / 1e6:.0f} MB)"
    )
    return path


def copy_dataset(ws: Any, source: Path, name: str) -> str:
    """A copy of the dataset (checkpointed, so the file alone is the database)."""
    target = ws.path / name
    for leftover in (target.with_name(name + "-wal"), target.with_name(name + "-shm")):
        leftover.unlink(missing_ok=True)  # a stale log would be replayed into the copy
    shutil.copy(source, target)
    return ws.sqlite_url(name)


def _sample(fn: Any, count: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    from engine.casework.case_filter import CaseFilter
    from engine.casework.queries import list_cases
    from engine.store.database import Database
    from engine.worker.timers import claim_due_cases

    source = build_dataset(ws, open_cases=20_000 if quick else OPEN_CASES)
    db = Database(copy_dataset(ws, source, "lists.db"))
    ws.databases.append(db)
    rt = runtime(ws, db)
    count = 50 if quick else 200
    now = utc_now()

    # The inbox: a desk clerk, a senior, someone with both roles (as the web page asks for it).
    inbox: dict[str, list[float]] = {}
    for user in ("desk", "senior", "both", "client3"):
        found = rt.inbox(user)
        assert len(found) == 200, (user, len(found))
        inbox[user] = _sample(lambda u=user: rt.inbox(u), count)
    api_inbox = _sample(
        lambda: rt.list_tasks(roles=["service_desk"], status="open", limit=50), count
    )
    all_inbox = [v for values in inbox.values() for v in values]
    results["inbox_p95_ms_100k"] = round(percentile(all_inbox, 95), 2)
    results["inbox_median_ms_100k"] = round(median(all_inbox), 2)
    results["api_task_list_p95_ms_100k"] = round(percentile(api_inbox, 95), 2)
    log(
        "  inbox (200 tasks, earliest due first): "
        + ", ".join(f"{u} p95 {percentile(v, 95):.1f} ms" for u, v in inbox.items())
        + f"; API list (50) p95 {percentile(api_inbox, 95):.1f} ms"
    )

    # The supervisor's case list: newest first, 50 a page, with the filters of the page.
    first = list_cases(db, CaseFilter(), now)
    rng = random.Random(3)
    filters = {
        "all": (CaseFilter(), None),
        "page 20": (CaseFilter(), "deep"),
        "running": (CaseFilter(status="running"), None),
        "process": (CaseFilter(process="bench_deadline"), None),
        "step": (CaseFilter(step="task_b"), None),
        "assignee": (CaseFilter(assignee="client3"), None),
        "customer": (CaseFilter(customer="客戶01234"), None),
        "phone": (CaseFilter(customer="13900012345"), None),
        "overdue": (CaseFilter(overdue=True), None),
        "started": (
            CaseFilter(started_from=now - timedelta(days=30), started_to=now - timedelta(days=29)),
            None,
        ),
    }
    cursor = first.next_cursor
    deep = None
    page = first
    for _ in range(19):
        page = list_cases(db, CaseFilter(), now, after=cursor)
        cursor = page.next_cursor
    deep = cursor
    case_list: dict[str, list[float]] = {}
    for name, (flt, after) in filters.items():
        after = deep if after == "deep" else None
        case_list[name] = _sample(
            lambda f=flt, a=after: list_cases(db, f, now, after=a), count // 2
        )
    all_cases = [v for values in case_list.values() for v in values]
    results["case_list_p95_ms_100k"] = round(percentile(all_cases, 95), 2)
    results["case_list_p95_ms_by_filter"] = {
        k: round(percentile(v, 95), 2) for k, v in case_list.items()
    }
    log(
        "  case list (50 a page): "
        + ", ".join(f"{k} {percentile(v, 95):.1f}" for k, v in case_list.items())
        + " ms p95"
    )

    # The timer scan: 100 timers due among the 100,000 waiting (the lease reset between runs).
    raw = db.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        ids = [r[0] for r in cur.execute("SELECT id FROM timer WHERE status = 'waiting'")]
        due = rng.sample(ids, 100)
        past = (now - timedelta(minutes=5)).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        cur.execute("BEGIN")
        cur.executemany("UPDATE timer SET due_at = ? WHERE id = ?", [(past, i) for i in due])
        cur.execute("COMMIT")
    finally:
        raw.close()

    def reset() -> None:
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.execute(
                "UPDATE timer SET locked_by = NULL, locked_until = NULL WHERE locked_by IS NOT NULL"
            )
        finally:
            raw.close()

    scans, idle = [], []
    for _ in range(count // 2):
        reset()
        t0 = time.perf_counter()
        claimed = claim_due_cases(rt, limit=200, worker_id="bench")
        scans.append((time.perf_counter() - t0) * 1000)
        assert len(claimed) == 100, len(claimed)
        t0 = time.perf_counter()
        assert claim_due_cases(rt, limit=200, worker_id="bench") == []
        idle.append((time.perf_counter() - t0) * 1000)
    results["timer_scan_ms_100k_waiting"] = round(median(scans), 2)
    results["timer_scan_p95_ms_100k_waiting"] = round(percentile(scans, 95), 2)
    results["timer_scan_idle_ms_100k_waiting"] = round(median(idle), 2)
    log(
        f"  timer scan: 100 due among {len(ids):,} waiting, claimed in {median(scans):.2f} ms"
        f" (median; p95 {percentile(scans, 95):.2f}); nothing due: {median(idle):.2f} ms"
    )
