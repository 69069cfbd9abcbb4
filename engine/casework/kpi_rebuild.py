"""Rebuilding the kpi_day rollup from the case and task rows, with the rules the steps use when
they keep it (engine.runtime.kpi): for data from before the rollup existed, and to check the
rollup against. The KPIs are read from the rollup by engine.casework.metrics."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.core.status import TaskStatus
from engine.runtime import kpi
from engine.runtime.steptxn import write_step
from engine.store.database import Database
from engine.store.records import read_dt

BATCH = 5000


def version_summaries(rows: Any) -> dict[int, dict[str, Any]]:
    """Each process version's task metadata (what `kpi.summary_of` reads), by version id."""
    out: dict[int, dict[str, Any]] = {}
    for version_id, meta in rows.all("SELECT id, task_meta FROM process_version"):
        if isinstance(meta, str):
            meta = json.loads(meta)
        out[int(version_id)] = meta if isinstance(meta, dict) else {}
    return out


def rebuild_kpis(db: Database, timezone: str) -> int:
    """Recompute the kpi_day rollup from the case and task rows, with the rules the steps
    use (engine.runtime.kpi), in one transaction; returns the number of rollup rows. For data
    from before the rollup existed, and to check the rollup against."""
    zone = ZoneInfo(timezone)
    sums: dict[tuple[str, str, str, str], list[float]] = {}

    def add(items: list[kpi.Item]) -> None:
        for process, day, staff, metric, count, total in items:
            pair = sums.setdefault((process, day, staff, metric), [0, 0.0])
            pair[0] += count
            pair[1] += total

    with write_step(db, lambda: "the KPIs are being rebuilt elsewhere; try again") as txn:
        rows = txn.rows
        rows.run("DELETE FROM kpi_day")
        staff: dict[int, set[str]] = defaultdict(set)
        cursor = rows.run(
            'SELECT t.case_id, t.completed_by FROM task t JOIN "case" c ON c.id = t.case_id'
            " WHERE t.status = ? AND t.completed_by IS NOT NULL AND c.satisfaction IS NOT NULL",
            (TaskStatus.DONE.value,),
        )
        while batch := cursor.fetchmany(BATCH):
            for case_id, name in batch:
                staff[case_id].add(name)
        cursor = rows.run(
            "SELECT id, process_key, started_at, ended_at, outcome, promised_at, served_at,"
            ' satisfaction, category FROM "case"'
        )
        while batch := cursor.fetchmany(BATCH):
            for r in batch:
                if r[8]:
                    add(kpi.category_items(r[1], read_dt(r[2]), None, r[8], zone))
                case = _EndedCase(
                    r[0],
                    r[1],
                    read_dt(r[2]),
                    read_dt(r[3]),
                    r[4],
                    read_dt(r[5]),
                    read_dt(r[6]),
                    r[7],
                )
                add(kpi.started_items(case.process_key, case.started_at, zone))
                if case.ended_at is not None:
                    add(kpi.ended_items(case, staff.get(case.id, ()), zone))
        metas = version_summaries(rows)
        cursor = rows.run(
            "SELECT c.process_key, t.status, t.due_at, t.completed_at,"
            " CASE WHEN t.status = ? THEN t.completed_by ELSE t.assignee END,"
            " t.element_id, t.created_at, c.process_version_id"
            ' FROM task t JOIN "case" c ON c.id = t.case_id',
            (TaskStatus.DONE.value,),
        )
        ended = (TaskStatus.DONE.value, TaskStatus.CANCELLED.value)
        while batch := cursor.fetchmany(BATCH):
            for process, status, due_at, ended_at, who, element, created_at, vid in batch:
                created = read_dt(created_at)
                summary = kpi.summary_of(metas.get(vid), element)
                add(kpi.opened_items(process, summary, created, zone))
                if status in ended:
                    add(
                        kpi.task_items(
                            process,
                            status,
                            read_dt(due_at),
                            read_dt(ended_at),
                            who,
                            zone,
                            summary,
                            created,
                        )
                    )
        items = [(*key, int(c), float(t)) for key, (c, t) in sums.items()]
        for i in range(0, len(items), BATCH):
            rows.kpi_add(items[i : i + BATCH])
    return len(items)


@dataclass
class _EndedCase:
    id: int
    process_key: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    promised_at: datetime | None
    served_at: datetime | None
    satisfaction: float | None
