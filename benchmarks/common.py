"""What every benchmark section shares: a scratch folder, databases, a runtime, timing and
printing."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Users of the benchmark database: staff of the two roles the diagrams use, and a supervisor.
USERS: dict[str, list[str]] = {
    "desk": ["service_desk"],
    "senior": ["senior_service"],
    "both": ["service_desk", "senior_service"],
    "boss": ["supervisor"],
    **{f"client{n}": ["service_desk", "senior_service"] for n in range(1, 9)},
}


def log(text: str) -> None:
    print(text, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Workspace:
    """A scratch folder with a copy of the settings file (its mail/SMS folders stay inside)."""

    path: Path
    keep: bool = False
    databases: list[Any] = field(default_factory=list)

    @property
    def settings_path(self) -> Path:
        return self.path / "settings.toml"

    def settings(self):
        from engine.core.settings import load_settings

        return load_settings(self.settings_path)

    def sqlite_url(self, name: str) -> str:
        return f"sqlite:///{self.path / name}"

    def close(self) -> None:
        for db in self.databases:
            try:
                db.dispose()
            except Exception:  # noqa: BLE001 - cleaning up
                pass
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def workspace(keep: bool = False) -> Iterator[Workspace]:
    from engine.core.settings import REPO_SETTINGS

    path = Path(tempfile.mkdtemp(prefix="caseflow-bench-", dir=os.environ.get("BENCH_TMP")))
    shutil.copy(REPO_SETTINGS, path / "settings.toml")
    ws = Workspace(path, keep)
    try:
        yield ws
    finally:
        ws.close()


def new_database(ws: Workspace, url: str, users: bool = True):
    """A migrated database with the benchmark diagrams deployed and the benchmark users."""
    from engine.core.clock import SystemClock
    from engine.identity.users import add_user, sync_roles
    from engine.runtime.verbs import Runtime
    from engine.store.database import Database
    from engine.store.migrate import upgrade

    db = Database(url)
    ws.databases.append(db)
    upgrade(db)
    settings = ws.settings()
    with db.write() as session:
        sync_roles(session, settings)
        session.commit()
    now = SystemClock().now()
    if users:
        for name, roles in USERS.items():
            add_user(db, settings, name, roles, now)
    Runtime(db, settings).deploy(sorted(FIXTURES.glob("*.bpmn")) + sorted(FIXTURES.glob("*.json")))
    return db


def runtime(ws: Workspace, db: Any, clock: Any = None):
    from engine.runtime.verbs import Runtime

    return Runtime(db, ws.settings(), clock)


def checkpoint(db: Any) -> None:
    """Fold SQLite's write-ahead log into the file (before copying it)."""
    if db.is_sqlite:
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def utc_now() -> datetime:
    return datetime.now(UTC)


# ----- results, goals, the table ---------------------------------------------------------------


@dataclass
class Goal:
    key: str
    text: str
    check: Callable[[dict[str, Any]], bool | None]


def _num(results: dict[str, Any], key: str) -> float | None:
    value = results.get(key)
    return value if isinstance(value, int | float) else None


def _cmp(key: str, op: str, limit: float) -> Callable[[dict[str, Any]], bool | None]:
    def check(results: dict[str, Any]) -> bool | None:
        value = _num(results, key)
        if value is None:
            return None
        if op == "<":
            return value < limit
        return value >= limit if op == ">=" else value <= limit if op == "<=" else value == limit

    return check


def _rising(results: dict[str, Any]) -> bool | None:
    values = results.get("pg_timers_fired_per_s_1_2_4_workers")
    dups = results.get("pg_timer_duplicates")
    if not isinstance(values, list) or len(values) != 3 or any(v is None for v in values):
        return None
    return values[0] < values[1] < values[2] and dups == 0


GOALS = [
    Goal(
        "lifecycle_ratio_vs_memory",
        "lifecycle ≥ 0.5 × in-memory SpiffWorkflow",
        _cmp("lifecycle_ratio_vs_memory", ">=", 0.5),
    ),
    Goal(
        "lifecycle_ratio_vs_blob",
        "lifecycle ≥ 2 × whole-JSON save/load",
        _cmp("lifecycle_ratio_vs_blob", ">=", 2.0),
    ),
    Goal(
        "loop_cost_ratio_1000_vs_10",
        "round 1,000 ≤ 2 × round 10",
        _cmp("loop_cost_ratio_1000_vs_10", "<=", 2.0),
    ),
    Goal(
        "inbox_p95_ms_100k",
        "inbox p95 ≤ 20 ms at 100k open cases",
        _cmp("inbox_p95_ms_100k", "<=", 20),
    ),
    Goal(
        "case_list_p95_ms_100k",
        "case list p95 ≤ 20 ms at 100k open cases",
        _cmp("case_list_p95_ms_100k", "<=", 20),
    ),
    Goal(
        "timer_scan_ms_100k_waiting",
        "due-timer scan ≤ 5 ms with 100k waiting",
        _cmp("timer_scan_ms_100k_waiting", "<=", 5),
    ),
    Goal(
        "timers_fired_per_s", "≥ 500 timers/s fired (SQLite)", _cmp("timers_fired_per_s", ">=", 500)
    ),
    Goal("timer_duplicates", "0 timers fired twice (SQLite)", _cmp("timer_duplicates", "==", 0)),
    Goal(
        "pg_timers_fired_per_s_1_2_4_workers",
        "PostgreSQL: rising with 1→2→4 worker processes, 0 duplicates",
        _rising,
    ),
    Goal(
        "http_complete_p95_ms",
        "HTTP complete p95 ≤ 50 ms (8 clients)",
        _cmp("http_complete_p95_ms", "<=", 50),
    ),
    Goal(
        "http_inbox_p95_ms",
        "HTTP inbox p95 ≤ 50 ms (8 clients)",
        _cmp("http_inbox_p95_ms", "<=", 50),
    ),
    Goal(
        "http_lifecycle_cases_per_s",
        "HTTP lifecycle ≥ 60 cases/s (1 client)",
        _cmp("http_lifecycle_cases_per_s", ">=", 60),
    ),
    Goal(
        "dashboard_p95_ms_1m",
        "dashboard page reads p95 ≤ 300 ms at 1M cases (SQLite)",
        _cmp("dashboard_p95_ms_1m", "<=", 300),
    ),
    *(
        Goal(
            f"pageload_{page}_p95_ms_100k",
            f"{words} page load p95 < 300 ms at 100k cases (Chromium)",
            _cmp(f"pageload_{page}_p95_ms_100k", "<", 300),
        )
        for page, words in (
            ("inbox", "inbox"),
            ("task", "task"),
            ("case_list", "case list"),
            ("case", "case"),
        )
    ),
]


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, list):
        return " / ".join(fmt(v) for v in value)
    return str(value)


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def goal_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = [("goal", "metric", "value", "")]
    for goal in GOALS:
        verdict = goal.check(results)
        mark = "PASS" if verdict else "MISS" if verdict is False else "n/a"
        rows.append((goal.text, goal.key, fmt(results.get(goal.key)), mark))
    return rows


def python_info() -> str:
    return f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)"
