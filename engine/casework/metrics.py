"""KPIs the procedures ask for, per process and month, from the case and task tables.

- on-time response rate: tasks with a due time completed by it, of those completed;
- booking success rate: cases that ended completed, of those that ended (completed + cancelled);
- time from request to service: mean hours from a case's start to its end, for completed cases;
- satisfaction: mean of the 1–5 score submitted in a task form field named `satisfaction`,
  `rating` or `score` (the surveys of the procedures use these names);
- complaint rate: complaint cases started in the month per 100 cases of all processes;
- overdue count: tasks completed after their due time in the month, plus those open and overdue
  now (for the current month).
Months are company-local calendar months.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.core.status import ACTIVE_TASK, CaseStatus, TaskStatus
from engine.store.database import Database
from engine.store.tables import Case, Task

SCORE_FIELDS = ("satisfaction", "satisfaction_score", "rating", "score")
COMPLAINT_PROCESSES = ("complaint_handling",)


@dataclass
class MonthKpi:
    process: str
    month: str  # YYYY-MM
    cases_started: int = 0
    cases_completed: int = 0
    cases_cancelled: int = 0
    on_time_rate: float | None = None
    booking_success_rate: float | None = None
    mean_hours_to_service: float | None = None
    satisfaction: float | None = None
    satisfaction_answers: int = 0
    complaint_rate: float | None = None
    overdue_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    year, mon = (int(p) for p in month.split("-"))
    start = datetime.combine(date(year, mon, 1), time(0), zone)
    end = datetime.combine(date(year + (mon == 12), mon % 12 + 1, 1), time(0), zone)
    return start, end


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _score(data: dict[str, Any] | None) -> float | None:
    for name in SCORE_FIELDS:
        value = (data or {}).get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value <= 5:
            return float(value)
        if isinstance(value, str) and value.strip().isdigit() and 1 <= int(value) <= 5:
            return float(value)
    return None


def monthly_kpis(
    db: Database, month: str, timezone: str, now: datetime, process: str | None = None
) -> list[MonthKpi]:
    """One row per process (and a total row, process "*") for the month."""
    zone = ZoneInfo(timezone)
    start, end = month_bounds(month, zone)
    rows: dict[str, MonthKpi] = defaultdict(lambda: MonthKpi("", month))
    with db.read() as session:
        started = session.execute(
            select(Case.process_key, Case.status).where(
                Case.started_at >= start, Case.started_at < end
            )
        ).all()
        ended = session.execute(
            select(Case.process_key, Case.status, Case.started_at, Case.ended_at).where(
                Case.ended_at >= start, Case.ended_at < end
            )
        ).all()
        done_tasks = session.execute(
            select(Case.process_key, Task.due_at, Task.completed_at, Task.data)
            .join(Case, Case.id == Task.case_id)
            .where(
                Task.status == TaskStatus.DONE, Task.completed_at >= start, Task.completed_at < end
            )
        ).all()
        open_overdue = []
        if start <= now < end:
            open_overdue = session.execute(
                select(Case.process_key)
                .join(Task, Task.case_id == Case.id)
                .where(Task.status.in_(ACTIVE_TASK), Task.due_at < now)
            ).all()
    for key, _status in started:
        rows[key].cases_started += 1
    hours: dict[str, list[float]] = defaultdict(list)
    for key, status, began, finished in ended:
        if status == CaseStatus.COMPLETED:
            rows[key].cases_completed += 1
            hours[key].append((finished - began).total_seconds() / 3600)
        elif status == CaseStatus.CANCELLED:
            rows[key].cases_cancelled += 1
    due_total: dict[str, int] = defaultdict(int)
    due_ok: dict[str, int] = defaultdict(int)
    scores: dict[str, list[float]] = defaultdict(list)
    for key, due_at, completed_at, data in done_tasks:
        if due_at is not None:
            due_total[key] += 1
            if completed_at <= due_at:
                due_ok[key] += 1
            else:
                rows[key].overdue_count += 1
        score = _score(data)
        if score is not None:
            scores[key].append(score)
    for (key,) in open_overdue:
        rows[key].overdue_count += 1
    total_started = sum(r.cases_started for r in rows.values())
    complaints = sum(rows[k].cases_started for k in COMPLAINT_PROCESSES if k in rows)
    out = []
    for key, row in sorted(rows.items()):
        row.process = key
        row.on_time_rate = _ratio(due_ok[key], due_total[key])
        row.booking_success_rate = _ratio(
            row.cases_completed, row.cases_completed + row.cases_cancelled
        )
        row.mean_hours_to_service = (
            round(sum(hours[key]) / len(hours[key]), 2) if hours[key] else None
        )
        row.satisfaction = round(sum(scores[key]) / len(scores[key]), 2) if scores[key] else None
        row.satisfaction_answers = len(scores[key])
        out.append(row)
    total = MonthKpi("*", month)
    for row in out:
        for name in (
            "cases_started",
            "cases_completed",
            "cases_cancelled",
            "overdue_count",
            "satisfaction_answers",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    total.on_time_rate = _ratio(sum(due_ok.values()), sum(due_total.values()))
    total.booking_success_rate = _ratio(
        total.cases_completed, total.cases_completed + total.cases_cancelled
    )
    all_hours = [h for v in hours.values() for h in v]
    total.mean_hours_to_service = round(sum(all_hours) / len(all_hours), 2) if all_hours else None
    all_scores = [s for v in scores.values() for s in v]
    total.satisfaction = round(sum(all_scores) / len(all_scores), 2) if all_scores else None
    total.complaint_rate = round(100 * complaints / total_started, 2) if total_started else None
    if process:
        return [r for r in out if r.process == process]
    return [*out, total]


def recent_months(now: datetime, timezone: str, count: int = 6) -> list[str]:
    local = now.astimezone(ZoneInfo(timezone))
    year, month = local.year, local.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(months))
