"""Fast bulk data: many cases with their task, timer and event rows, written with SQL
executemany (never through the engine).

Each bulk case is a copy of a real case: a case is started (and worked) through the engine once
per stage, and its saved state and rows are the template for the copies. So the copies load and
step like any other case; only numbers, customers, dates and ids differ.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.core.clock import FixedClock
from engine.runtime.verbs import Runtime

from .common import USERS


@dataclass
class Template:
    """One stage of one process, as a real case left it."""

    process_key: str
    process_version_id: int
    state: str
    serializer_version: str
    tasks: list[dict[str, Any]]  # task rows (open and done) without ids
    timers: list[dict[str, Any]]  # waiting timer rows
    status: str


def _rows(db: Any, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    raw = db.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        cur.execute(sql if db.is_sqlite else sql.replace("?", "%s"), params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        raw.close()


def capture(db: Any, number: str) -> Template:
    case = _rows(db, 'SELECT * FROM "case" WHERE number = ?', (number,))[0]
    tasks = _rows(db, "SELECT * FROM task WHERE case_id = ? ORDER BY id", (case["id"],))
    timers = _rows(
        db,
        "SELECT * FROM timer WHERE case_id = ? AND status = 'waiting' ORDER BY id",
        (case["id"],),
    )
    return Template(
        case["process_key"],
        case["process_version_id"],
        case["state"],
        case["serializer_version"],
        tasks,
        timers,
        case["status"],
    )


def deadline_templates(rt: Runtime) -> tuple[Template, Template]:
    """bench_deadline at its first task (a 2-day deadline) and at its second (5 days)."""
    first = rt.start_case("bench_deadline", {"customer_name": "模板"}, actor="desk")
    a = capture(rt.db, first.number)
    rt.complete_task(first.open_tasks[0].id, {"approve": True}, "desk")
    b = capture(rt.db, first.number)
    return a, b


def lifecycle_done_template(rt: Runtime) -> Template:
    case = rt.start_case("bench_lifecycle", {"customer_name": "模板"}, actor="desk")
    case = rt.complete_task(case.open_tasks[0].id, {"approve": True}, "desk")
    rt.complete_task(case.open_tasks[0].id, {"confirmed": True}, "senior")
    return capture(rt.db, case.number)


def timer_template(rt: Runtime, clock: FixedClock, due_ago: timedelta) -> tuple[Template, str]:
    """bench_timer waiting on its one-day timer, which fell due `due_ago` before the clock;
    returns the template and the number of the case it was taken from."""
    real_now = clock.now()
    clock.set(real_now - timedelta(days=1) - due_ago)
    try:
        case = rt.start_case("bench_timer", {}, actor="desk")
    finally:
        clock.set(real_now)
    return capture(rt.db, case.number), case.number


class Writer:
    """executemany on a raw connection in one transaction, ids assigned here."""

    def __init__(self, db: Any):
        self.db = db
        self.raw = db.engine.raw_connection()
        self.cur = self.raw.driver_connection.cursor()
        self.sqlite = db.is_sqlite
        if self.sqlite:
            self.raw.driver_connection.execute("BEGIN IMMEDIATE")

    def dt(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def js(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = json.loads(value)
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)

    def next_id(self, table: str) -> int:
        self.cur.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
        return self.cur.fetchone()[0] + 1

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        mark = "?" if self.sqlite else "%s"
        sql = (
            f'INSERT INTO "{table}" ({", ".join(columns)}) '
            f"VALUES ({', '.join([mark] * len(columns))})"
        )
        for start in range(0, len(rows), 5000):
            self.cur.executemany(sql, rows[start : start + 5000])

    def finish(self) -> None:
        if not self.sqlite:
            for table in ("case", "task", "timer", "event"):
                self.cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                    f' (SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
                )
        self.raw.commit()
        self.raw.close()


CASE_COLUMNS = [
    "id", "number", "process_version_id", "process_key", "status", "state", "serializer_version",
    "customer_name", "customer_phone", "service_item", "started_by", "started_at", "updated_at",
    "ended_at", "next_timer_at", "version",
]  # fmt: skip
TASK_COLUMNS = [
    "id", "case_id", "spiff_task_id", "element_id", "name", "role", "form_id", "instructions",
    "assignee", "status", "created_at", "due_at", "claimed_at", "completed_at", "completed_by",
    "data", "version",
]  # fmt: skip
TIMER_COLUMNS = [
    "id", "case_id", "spiff_task_id", "element_id", "name", "kind", "due_at", "status",
    "created_at", "attempts",
]  # fmt: skip
EVENT_COLUMNS = ["case_id", "at", "actor", "kind", "element_id", "detail"]


def _holders(role: str) -> list[str]:
    return [name for name, roles in USERS.items() if role in roles]


def add_cases(
    db: Any,
    plan: list[tuple[Template, int]],
    now: datetime,
    *,
    prefix: str,
    span: timedelta = timedelta(days=100),
    due: tuple[timedelta, timedelta] | None = (timedelta(hours=1), timedelta(days=30)),
    claimed_share: float = 0.1,
    overdue_share: float = 0.02,
    seed: int = 7,
) -> int:
    """Copy each template `count` times. Cases start spread over `span` before `now`; open
    tasks and waiting timers fall due at random between due[0] and due[1] after `now` (None:
    keep the template's due times); `overdue_share` of the open tasks are overdue by up to
    two days (their timer rows stay in the future, so no worker fires them). Returns how many
    cases were written."""
    rng = random.Random(seed)
    total = sum(count for _, count in plan)
    w = Writer(db)
    try:
        case_id, task_id, timer_id = w.next_id("case"), w.next_id("task"), w.next_id("timer")
        cases, tasks, timers, events = [], [], [], []
        kinds = [t for t, count in plan for _ in range(count)]
        rng.shuffle(kinds)
        step = span / max(total, 1)
        day_counts: dict[str, int] = {}
        for n, tpl in enumerate(kinds):
            started = now - span + step * n
            day = started.strftime("%Y%m%d")
            day_counts[day] = day_counts.get(day, 0) + 1
            number = f"{prefix}-{day}-{day_counts[day]:05d}"
            when = now + due[0] + (due[1] - due[0]) * rng.random() if due is not None else None
            finished = tpl.status == "completed"
            cases.append(
                (
                    case_id, number, tpl.process_version_id, tpl.process_key, tpl.status,
                    tpl.state, tpl.serializer_version, f"客戶{n:06d}", f"139{n:08d}",
                    rng.choice(["保潔", "維修", "月嫂", "育嬰"]), "desk", w.dt(started),
                    w.dt(started), w.dt(started) if finished else None,
                    w.dt(when if when is not None else tpl.timers[0]["due_at"])
                    if tpl.timers
                    else None,
                    2,
                )
            )  # fmt: skip
            events.append(
                (
                    case_id,
                    w.dt(started),
                    "desk",
                    "case_started",
                    None,
                    w.js({"process": tpl.process_key}),
                )
            )
            for t in tpl.tasks:
                status, assignee, claimed_at = t["status"], t["assignee"], None
                if status == "open" and rng.random() < claimed_share:
                    status, assignee, claimed_at = (
                        "claimed",
                        rng.choice(_holders(t["role"])),
                        started,
                    )
                task_due = t["due_at"]
                if status in ("open", "claimed") and t["due_at"] is not None and when is not None:
                    task_due = when
                    if rng.random() < overdue_share:
                        task_due = now - timedelta(days=2) * rng.random()
                tasks.append(
                    (
                        task_id, case_id, t["spiff_task_id"], t["element_id"], t["name"],
                        t["role"], t["form_id"], t["instructions"], assignee, status,
                        w.dt(started), w.dt(task_due), w.dt(claimed_at),
                        w.dt(started) if t["completed_at"] else None, t["completed_by"],
                        w.js(t["data"]), 1,
                    )
                )  # fmt: skip
                events.append(
                    (
                        case_id,
                        w.dt(started),
                        None,
                        "task_opened",
                        t["element_id"],
                        w.js({"task": task_id}),
                    )
                )
                if t["completed_at"]:
                    events.append(
                        (
                            case_id,
                            w.dt(started),
                            t["completed_by"],
                            "task_completed",
                            t["element_id"],
                            w.js({"task": task_id}),
                        )
                    )
                task_id += 1
            for t in tpl.timers:
                timers.append(
                    (
                        timer_id, case_id, t["spiff_task_id"], t["element_id"], t["name"],
                        t["kind"], w.dt(when if when is not None else t["due_at"]), "waiting",
                        w.dt(started), 0,
                    )
                )  # fmt: skip
                timer_id += 1
            case_id += 1
        w.insert("case", CASE_COLUMNS, cases)
        w.insert("task", TASK_COLUMNS, tasks)
        w.insert("timer", TIMER_COLUMNS, timers)
        w.insert("event", EVENT_COLUMNS, events)
        w.finish()
    except BaseException:
        w.raw.rollback()
        w.raw.close()
        raise
    return total
