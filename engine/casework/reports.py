"""The reports the documents ask supervisors for besides the KPIs, read from the kpi_day rollup
(engine.runtime.kpi keeps it) with one grouped query each, so they cost the same at a million
cases as at a hundred.

- The consultation categories with their month-on-month trend (seed 004 六、2: 「了解客戶咨詢
  的熱點問題、趨勢變化」; the categories of 三、1 問題分類): per category, the cases received this
  month and last month (counted on the day the case started, under the category its decision
  table gave it), the change in cases and in percent of last month, and the share of all the
  cases received this month; the most asked first. Cases received but not classified yet (or
  cancelled before) are one row of their own, so the shares add up to the month's total.
- The daily and weekly work summaries (seed 003: 「負責匯總統計每周受理督辦、反饋、回訪情況」;
  「每天日班值班長負責統計當天工作情況(…咨詢、查詢、主動服務工作量日報、周報)」), per
  company-local day and per ISO week (Monday to Sunday): cases received (受理) in all and of
  consultations, complaints and repairs; new placements (三方合同簽訂, 上單); escalations (督辦);
  replies to customers (反饋); follow-ups (回訪) due, done and missed.

A follow-up is due on the day of its due time, else on the day it opened (day 3's call is due
on day 3); it is missed when it is not done by then (the end of that day when it has no due
time). Follow-ups still open are read from the task table (an index of element and status):
they count as due on their day, and as missed once that has passed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.casework.kpi_periods import add_months, period_days
from engine.casework.kpi_rebuild import version_summaries
from engine.core.status import TaskStatus
from engine.core.summaries import Summary
from engine.runtime import kpi
from engine.store.database import Database
from engine.store.records import read_dt
from engine.store.rows import read as read_rows

CONSULTATION = "consultation"
COMPLAINTS = ("complaint_handling",)
REPAIRS = ("repair_dispatch",)
UNCLASSIFIED = ""  # the row of the cases received but not (yet) classified


# ----- consultation categories -----------------------------------------------------------------


@dataclass
class CategoryRow:
    """One category of one month against the month before."""

    category: str  # "" for the cases not classified
    this_month: int = 0
    last_month: int = 0
    change: int = 0
    change_rate: float | None = None  # of last month's count; None when last month had none
    share: float | None = None  # of all the cases received this month

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CategoryReport:
    process: str
    month: str
    previous_month: str
    rows: list[CategoryRow] = field(default_factory=list)
    total_this_month: int = 0
    total_last_month: int = 0


def previous_month(month: str) -> str:
    year, mon = add_months(int(month[:4]), int(month[5:7]), -1)
    return f"{year:04d}-{mon:02d}"


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def category_report(db: Database, month: str, process: str = CONSULTATION) -> CategoryReport:
    """The categories of `process`'s cases received in `month` (YYYY-MM) and the month before,
    most cases first (then most last month, then by name); the unclassified row last."""
    before = previous_month(month)
    first, _ = period_days(before)
    _, after = period_days(month)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with read_rows(db) as rows:
        for day_month, metric, count in rows.all(
            "SELECT substr(day, 1, 7), metric, SUM(count) FROM kpi_day"
            " WHERE staff = '' AND day >= ? AND day < ? AND process_key = ?"
            " AND (metric = 'started' OR metric LIKE ?)"
            " GROUP BY substr(day, 1, 7), metric",
            (first, after, process, "category:%"),
        ):
            counts[day_month][metric] += int(count)
    report = CategoryReport(process, month, before)
    report.total_this_month = counts[month].pop("started", 0)
    report.total_last_month = counts[before].pop("started", 0)
    names = {m.removeprefix("category:") for c in counts.values() for m in c}
    rows_out = []
    for name in names:
        now, then = counts[month][f"category:{name}"], counts[before][f"category:{name}"]
        if now or then:
            rows_out.append(_category_row(name, now, then, report.total_this_month))
    rows_out.sort(key=lambda r: (-r.this_month, -r.last_month, r.category))
    classified_now = sum(r.this_month for r in rows_out)
    classified_then = sum(r.last_month for r in rows_out)
    rest_now = report.total_this_month - classified_now
    rest_then = report.total_last_month - classified_then
    if rest_now or rest_then:
        rows_out.append(_category_row(UNCLASSIFIED, rest_now, rest_then, report.total_this_month))
    report.rows = rows_out
    return report


def _category_row(name: str, now: int, then: int, total: int) -> CategoryRow:
    return CategoryRow(
        category=name,
        this_month=now,
        last_month=then,
        change=now - then,
        change_rate=_ratio(now - then, then),
        share=_ratio(now, total),
    )


# ----- daily and weekly summaries --------------------------------------------------------------

SUMMARY_COLUMNS = (
    "received",
    "consultations",
    "complaints",
    "repairs",
    "placements",
    "escalations",
    "replies",
    "followups_due",
    "followups_done",
    "followups_missed",
)


@dataclass
class SummaryRow:
    """One day (YYYY-MM-DD) or ISO week (YYYY-Www) of work, or the total of several ("*")."""

    period: str
    received: int = 0
    consultations: int = 0
    complaints: int = 0
    repairs: int = 0
    placements: int = 0
    escalations: int = 0
    replies: int = 0
    followups_due: int = 0
    followups_done: int = 0
    followups_missed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: SummaryRow) -> None:
        for name in SUMMARY_COLUMNS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def week_days(week: str) -> list[date]:
    """The seven days, Monday first, of an ISO week written YYYY-Www."""
    monday = date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
    return [monday + timedelta(days=n) for n in range(7)]


def current_week(now: datetime, timezone: str) -> str:
    return iso_week(now.astimezone(ZoneInfo(timezone)).date())


def recent_weeks(week: str, count: int) -> list[str]:
    """`count` consecutive ISO weeks ending with `week`."""
    monday = week_days(week)[0]
    return [iso_week(monday - timedelta(weeks=back)) for back in range(count - 1, -1, -1)]


def _day_rows(
    db: Database, first: date, after: date, timezone: str, now: datetime
) -> dict[str, SummaryRow]:
    """One row per local day in [first, after)."""
    zone = ZoneInfo(timezone)
    out: dict[str, SummaryRow] = {}
    day = first
    while day < after:
        out[day.isoformat()] = SummaryRow(day.isoformat())
        day += timedelta(days=1)
    with read_rows(db) as rows:
        for day_text, process, metric, count, total in rows.all(
            "SELECT day, process_key, metric, SUM(count), SUM(total) FROM kpi_day"
            " WHERE staff = '' AND day >= ? AND day < ? AND metric IN"
            " ('started', 'placement', 'escalation', 'reply', 'followup_due', 'followup_done')"
            " GROUP BY day, process_key, metric",
            (first.isoformat(), after.isoformat()),
        ):
            row, count = out[day_text], int(count)
            if metric == "started":
                row.received += count
                if process == CONSULTATION:
                    row.consultations += count
                if process in COMPLAINTS:
                    row.complaints += count
                if process in REPAIRS:
                    row.repairs += count
            elif metric == "placement":
                row.placements += count
            elif metric == "escalation":
                row.escalations += count
            elif metric == "reply":
                row.replies += count
            elif metric == "followup_due":
                row.followups_due += count
                row.followups_missed += int(total or 0)
            elif metric == "followup_done":
                row.followups_done += count
        # Follow-ups still open: due on their day, missed once it has passed. What is a
        # follow-up is what each case's version declares (`summary`).
        metas = version_summaries(rows)
        elements = sorted(
            {
                element
                for meta in metas.values()
                for element in meta
                if kpi.summary_of(meta, element) == Summary.FOLLOWUP
            }
        )
        marks = ", ".join("?" for _ in elements)
        found = (
            rows.all(
                "SELECT t.due_at, t.created_at, t.element_id, c.process_version_id FROM task t"
                f' JOIN "case" c ON c.id = t.case_id WHERE t.element_id IN ({marks})'
                " AND t.status IN (?, ?)",
                (*elements, TaskStatus.OPEN.value, TaskStatus.CLAIMED.value),
            )
            if elements
            else []
        )
        for due_at, created_at, element, vid in found:
            if kpi.summary_of(metas.get(vid), element) != Summary.FOLLOWUP:
                continue
            due, created = read_dt(due_at), read_dt(created_at)
            row = out.get(kpi.followup_day(due, created, zone))
            if row is None:
                continue
            row.followups_due += 1
            if kpi.followup_deadline(due, created, zone) <= now:
                row.followups_missed += 1
    return out


def daily_summary(db: Database, week: str, timezone: str, now: datetime) -> list[SummaryRow]:
    """The seven days of an ISO week (YYYY-Www), Monday first, and their total ("*")."""
    days = week_days(week)
    rows = list(_day_rows(db, days[0], days[-1] + timedelta(days=1), timezone, now).values())
    total = SummaryRow("*")
    for row in rows:
        total.add(row)
    return [*rows, total]


def weekly_summary(
    db: Database, week: str, timezone: str, now: datetime, count: int = 8
) -> list[SummaryRow]:
    """`count` ISO weeks ending with `week`, one row each (the sum of its days), oldest first."""
    weeks = recent_weeks(week, count)
    first = week_days(weeks[0])[0]
    after = week_days(weeks[-1])[-1] + timedelta(days=1)
    out = {w: SummaryRow(w) for w in weeks}
    for day, row in _day_rows(db, first, after, timezone, now).items():
        out[iso_week(date.fromisoformat(day))].add(row)
    return list(out.values())
