"""10,000 due timers on PostgreSQL, fired by one, two and four worker PROCESSES (FOR UPDATE
SKIP LOCKED and a lease share the work): throughput and duplicates.

The server is the throw-away one of tests/pgserver.py, but crash-safe here (fsync and full page
writes on; the tests run with them off). Commits are not flushed one by one
(synchronous_commit off): the same promise as SQLite's WAL with synchronous=NORMAL that
Caseflow uses — a power cut may lose the last moments, never consistency.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from .common import ROOT, log
from .timers import DUE, duplicates, fired_report, prepare

WORKERS = (1, 2, 4)


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot (Linux /proc/stat)."""
    try:
        fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]  # noqa: SIM115
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _server() -> Any:
    sys.path.insert(0, str(ROOT))
    from tests import pgserver

    pgserver.SERVER_SETTINGS.update(
        {
            "fsync": "on",
            "synchronous_commit": "off",
            "full_page_writes": "on",
            "wal_level": "replica",
        }
    )
    pgserver.SERVER_SETTINGS.pop("max_wal_senders", None)
    server = pgserver.start_or_none()
    if server is None:
        raise RuntimeError(f"PostgreSQL is not available: {pgserver.UNAVAILABLE_REASON}")
    return server


def _run_workers(url: str, settings_path: str, count: int) -> tuple[float, list[dict[str, Any]]]:
    env = {**os.environ, "CASEFLOW_SETTINGS": settings_path, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.pgworker", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
            env=env,
        )
        for _ in range(count)
    ]
    try:
        for p in procs:
            line = p.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"worker did not start: {line!r}")
        t0 = time.perf_counter()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = [json.loads(p.stdout.readline()) for p in procs]
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.wait(timeout=60)
        return elapsed, reports
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()
            p.stdout.close()


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    import psycopg

    count = 1_000 if quick else DUE
    server = _server()
    try:
        t0 = time.perf_counter()
        template_url = server.create_database("bench_timers")
        db = prepare(ws, template_url, count)
        db.dispose()
        ws.databases.remove(db)
        log(f"  {count:,} due timers written on PostgreSQL in {time.perf_counter() - t0:.1f} s")
        rates, dups, detail = [], 0, {}
        for n in WORKERS:
            name = f"bench_timers_{n}"
            with psycopg.connect(**server.connect_kwargs(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "bench_timers"')
            url = server.database_url(name)
            busy0, total0 = _cpu_times()
            elapsed, reports = _run_workers(url, str(ws.settings_path), n)
            busy1, total1 = _cpu_times()
            busy_pct = round(100 * (busy1 - busy0) / max(1, total1 - total0), 1)
            from engine.store.database import Database

            check = Database(url)
            report = fired_report(check, count)
            check.dispose()
            rate = report["timer_rows_fired"] / elapsed
            rates.append(round(rate, 1))
            dups += duplicates(report)
            detail[str(n)] = {
                **report,
                "seconds": round(elapsed, 2),
                "per_worker_fired": [r["fired"] for r in reports],
                "conflicts": sum(r["conflicts"] for r in reports),
                "failures": sum(r["failures"] for r in reports),
                "machine_cpu_busy_pct": busy_pct,
            }
            log(
                f"  {n} worker process(es): {report['timer_rows_fired']:,} fired in {elapsed:.1f} s"
                f" ({rate:,.0f}/s; per worker {[r['fired'] for r in reports]}); twice:"
                f" {duplicates(report)}; still waiting: {report['timer_rows_waiting']};"
                f" CPUs {busy_pct:.0f}% busy (workers and PostgreSQL together)"
            )
        results["pg_timers_fired_per_s_1_2_4_workers"] = rates
        results["pg_timer_duplicates"] = dups
        results["pg_timer_detail"] = detail
    finally:
        server.stop()
