"""KPIs the procedures ask for, per process, per month or quarter, and per staff member, read
from the kpi_day rollup (engine.runtime.kpi keeps it; engine.casework.kpi_rebuild recomputes
it). Periods are read as engine.casework.kpi_periods says.

As the documents define them (seeds 000, 001, 004):
- booking success rate (預約成功率): served cases of those that ended with an outcome,
  whatever it was (a cancellation, by either side, a no-show, a withdrawal: not a success);
  cases whose end event declares no outcome are not counted;
- on-time rate (準時率 / 咨詢響應及時率): of the deadlines that came due, those met. A deadline
  is a task with a due time that was completed (late when after it) or cancelled after it
  (escalated, or the case cancelled: late), and, for processes that declare
  `promisedTimeField` and `actualTimeField`, the time promised to the customer against the
  time the service or reply happened;
- time to service (服務效率): mean hours from a served case's start to the service (its
  `actualTimeField`, else its end when the process declares none); served cases only;
- satisfaction (客戶滿意度): mean of the 1–5 score in the process's `satisfactionField`;
- complaint rate (投訴率): complaint cases started per 100 cases started of the
  customer-facing processes (both lists below), on the total row;
- overdue count: missed deadlines, plus the tasks open and overdue now (current month).
Periods are company-local calendar months (YYYY-MM) and quarters (YYYY-Qn); a quarter is the
sum of its months' counts and totals.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.casework.kpi_periods import (
    month_bounds,
    period_days,
)
from engine.core.outcomes import Outcome
from engine.core.status import TaskStatus
from engine.store.database import Database
from engine.store.rows import read as read_rows

# The processes customers book or ask through: the base of the complaint rate, and of the
# total row's booking success rate.
CUSTOMER_FACING_PROCESSES = (
    "signed_service_booking",
    "store_appointment",
    "home_cleaning_dispatch",
    "repair_dispatch",
    "maternity_nurse_placement",
    "nanny_placement",
    "consultation",
    "infant_massage_booking",
)
COMPLAINT_PROCESSES = ("complaint_handling",)
CANCELLED = (Outcome.CANCELLED_BY_CUSTOMER.value, Outcome.CANCELLED_BY_COMPANY.value)


@dataclass
class MonthKpi:
    """The figures of one process (or "*" for all) in one period (a month or a quarter)."""

    process: str
    month: str  # the period: YYYY-MM, or YYYY-Qn for a quarter
    cases_started: int = 0
    cases_ended: int = 0
    cases_served: int = 0
    cases_cancelled: int = 0
    no_shows: int = 0
    on_time_rate: float | None = None
    booking_success_rate: float | None = None
    mean_hours_to_service: float | None = None
    satisfaction: float | None = None
    satisfaction_answers: int = 0
    complaint_rate: float | None = None
    overdue_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StaffKpi:
    """One staff member's month: tasks done, deadlines met, satisfaction of the cases they
    served, and their place in the ranking."""

    staff: str
    rank: int = 0
    tasks_done: int = 0
    on_time_rate: float | None = None
    satisfaction: float | None = None
    satisfaction_answers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----- the figures -----------------------------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 2) if count else None


Sums = dict[str, list[float]]  # metric -> [count, total]


def _figures(process: str, period: str, sums: Sums) -> MonthKpi:
    def count(metric: str) -> int:
        return int(sums.get(metric, (0, 0))[0])

    def total(metric: str) -> float:
        return float(sums.get(metric, (0, 0))[1])

    ended = sum(
        int(c) for m, (c, _) in sums.items() if m.startswith("outcome:") and m != "outcome:none"
    )
    served = count(f"outcome:{Outcome.SERVED}")
    deadlines = count("task_due") + count("promise")
    late = total("task_due") + total("promise")
    return MonthKpi(
        process=process,
        month=period,
        cases_started=count("started"),
        cases_ended=ended + count("outcome:none"),
        cases_served=served,
        cases_cancelled=sum(count(f"outcome:{o}") for o in CANCELLED),
        no_shows=count(f"outcome:{Outcome.NO_SHOW}"),
        on_time_rate=_ratio(deadlines - late, deadlines),
        booking_success_rate=_ratio(served, ended),
        mean_hours_to_service=_mean(total("service_hours"), count("service_hours")),
        satisfaction=_mean(total("satisfaction"), count("satisfaction")),
        satisfaction_answers=count("satisfaction"),
        overdue_count=int(late),
    )


def _sums(
    db: Database, first: str, after: str, *, staff: bool = False, by_month: bool = False
) -> dict[tuple[str, ...], Sums]:
    """metric sums per process (or per staff member), and per month when `by_month`, over
    local days [first, after): one grouped query on the rollup."""
    who = "staff" if staff else "process_key"
    month = ", substr(day, 1, 7)" if by_month else ""
    sql = (
        f"SELECT {who}{month}, metric, SUM(count), SUM(total) FROM kpi_day"
        f" WHERE staff {'<>' if staff else '='} '' AND day >= ? AND day < ?"
        f" GROUP BY {who}{month}, metric"
    )
    out: dict[tuple[str, ...], Sums] = defaultdict(dict)
    with read_rows(db) as rows:
        for row in rows.all(sql, (first, after)):
            key, metric, count, total = tuple(row[:-3]), row[-3], row[-2], row[-1]
            out[key][metric] = [int(count), float(total or 0)]
    return out


def _open_overdue(db: Database, now: datetime) -> dict[str, int]:
    with read_rows(db) as rows:
        return {
            key: n
            for key, n in rows.all(
                'SELECT c.process_key, COUNT(*) FROM task t JOIN "case" c ON c.id = t.case_id'
                " WHERE t.status IN (?, ?) AND t.due_at < ? GROUP BY c.process_key",
                (TaskStatus.OPEN.value, TaskStatus.CLAIMED.value, rows.dt(now)),
            )
        }


def _merge(into: Sums, sums: Sums) -> None:
    for metric, (count, total) in sums.items():
        pair = into.setdefault(metric, [0, 0.0])
        pair[0] += count
        pair[1] += total


def _rows_of(
    period: str, by_process: dict[str, Sums], overdue_now: dict[str, int]
) -> list[MonthKpi]:
    out = []
    for key in sorted(by_process):
        row = _figures(key, period, by_process[key])
        row.overdue_count += overdue_now.get(key, 0)
        out.append(row)
    everything: Sums = {}
    bookings: Sums = {}
    facing: Sums = {}
    for key, sums in by_process.items():
        _merge(everything, sums)
        if key not in COMPLAINT_PROCESSES:
            _merge(bookings, sums)
        if key in CUSTOMER_FACING_PROCESSES:
            _merge(facing, sums)
    total = _figures("*", period, everything)
    total.overdue_count += sum(overdue_now.values())
    # A complaint closed is no booking: the total success rate leaves complaints out.
    total.booking_success_rate = _figures("*", period, bookings).booking_success_rate
    base = int(facing.get("started", (0, 0))[0])
    complaints = sum(
        int(by_process.get(k, {}).get("started", (0, 0))[0]) for k in COMPLAINT_PROCESSES
    )
    total.complaint_rate = round(100 * complaints / base, 2) if base else None
    return [*out, total]


def period_kpis(
    db: Database, period: str, timezone: str, now: datetime, process: str | None = None
) -> list[MonthKpi]:
    """One row per process and a total row (process "*") for a month (YYYY-MM) or a quarter
    (YYYY-Qn); with `process`, that process's row only."""
    first, after = period_days(period)
    by_process = {key[0]: sums for key, sums in _sums(db, first, after).items()}
    start, end = month_bounds(period, ZoneInfo(timezone))
    overdue_now = _open_overdue(db, now) if start <= now < end else {}
    rows = _rows_of(period, by_process, overdue_now)
    if process:
        return [r for r in rows if r.process == process]
    return rows


def monthly_kpis(
    db: Database, month: str, timezone: str, now: datetime, process: str | None = None
) -> list[MonthKpi]:
    """period_kpis of one month (kept under its old name for callers)."""
    return period_kpis(db, month, timezone, now, process)


def kpi_series(
    db: Database, months: list[str], timezone: str, now: datetime
) -> dict[str, MonthKpi]:
    """The total row ("*") of each month in `months` (consecutive), from one query."""
    first, _ = period_days(months[0])
    _, after = period_days(months[-1])
    per_month: dict[str, dict[str, Sums]] = defaultdict(dict)
    for (key, month), sums in _sums(db, first, after, by_month=True).items():
        per_month[month][key] = sums
    zone = ZoneInfo(timezone)
    out = {}
    for month in months:
        start, end = month_bounds(month, zone)
        overdue_now = _open_overdue(db, now) if start <= now < end else {}
        out[month] = _rows_of(month, per_month.get(month, {}), overdue_now)[-1]
    return out


def staff_kpis(db: Database, period: str) -> list[StaffKpi]:
    """Per staff member in the period: tasks done, on-time rate of their deadlines, mean
    satisfaction of the cases they served (completed a task of), ranked: higher satisfaction
    first, then higher on-time rate, then more tasks done (no figure counts as lowest)."""
    first, after = period_days(period)
    out = []
    for (name,), sums in _sums(db, first, after, staff=True).items():
        due = sums.get("task_due", [0, 0.0])
        sat = sums.get("satisfaction", [0, 0.0])
        out.append(
            StaffKpi(
                staff=name,
                tasks_done=int(sums.get("tasks_done", [0, 0])[0]),
                on_time_rate=_ratio(due[0] - due[1], due[0]),
                satisfaction=_mean(sat[1], int(sat[0])),
                satisfaction_answers=int(sat[0]),
            )
        )
    out.sort(
        key=lambda s: (
            -(s.satisfaction if s.satisfaction is not None else -1),
            -(s.on_time_rate if s.on_time_rate is not None else -1),
            -s.tasks_done,
            s.staff,
        )
    )
    for place, row in enumerate(out, 1):
        row.rank = place
    return out
