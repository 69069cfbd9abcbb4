"""The KPI rollup (table kpi_day): what each task and case adds to it, in one place.

The step that completes or cancels a task, or starts or ends a case, adds that fact's items in
its own transaction (through engine.store.rows.Rows.kpi_add), and `rebuild` recomputes the
table from the case and task rows with the same functions, so the two cannot drift apart.
Each item is (process_key, company-local day, staff or '', metric, count, total); the figures
(engine.casework.metrics) are sums of counts and totals over days.

Metrics:
- `started`: a case started (the day it started);
- `outcome:<outcome>` (`outcome:none` when its end event declares none): a case ended;
- `service_hours`: a served case, total = hours from its start to the service (served_at);
- `satisfaction`: an ended case with a score, total = the score; also under each staff member
  who completed a task of the case;
- `tasks_done`: a task completed (also under the staff member who completed it);
- `task_due`: a task with a due time that was completed, or cancelled (escalated, the case
  cancelled) after its due time; total = how many of them were late. Under the staff member
  who completed it, or held it when it was cancelled;
- `promise`: an ended case with both a promised and an actual time; total = 1 when late.

What the daily and weekly summaries of seed 003 count (每周受理督辦、反饋、回訪; 日報、週報),
by what the diagram declares the task as (its `summary` property, engine.core.summaries),
process-wide rows only:
- `followup_due`: a follow-up (回訪) that ended, on the day it was due (its due time, else the
  day it opened: day 3's follow-up is due on day 3); total = 1 when it was missed (done after
  that, or cancelled after that). A follow-up cancelled before it was due is not counted;
- `followup_done`: a follow-up completed (the day it was completed);
- `escalation`: a supervisor's task opened because a deadline was missed or a customer was not
  satisfied (督辦, the day it opened);
- `placement`: a three-party contract signed for a nurse or nanny (上單, the day);
- `reply`: a reply to a customer's question or feedback completed (反饋, the day);
- `category:<category>`: a case classified (the process's `categoryField`), on the day the case
  started; a case classified again moves from its old category to the new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from engine.core.instants import parse_when
from engine.core.outcomes import Outcome
from engine.core.status import TaskStatus
from engine.core.summaries import SUMMARIES, Summary

Item = tuple[str, str, str, str, int, float]


def summary_of(task_meta: Mapping[str, Any] | None, element_id: str | None) -> str | None:
    """What the summaries count a task as: the `summary` its version's diagram declares on
    the element (engine.core.summaries; a called process's tasks are part of the calling
    version and count under the case's process)."""
    meta = (task_meta or {}).get(element_id or "") or {}
    value = meta.get("summary")
    return value if value in SUMMARIES else None


# A category is kept on the case row and in the rollup's metric name (60 characters).
CATEGORY_LIMIT = 50


def local_day(when: datetime, zone: tzinfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d")


def _both(process: str, day: str, staff: str | None, metric: str, count: int, total: float):
    yield (process, day, "", metric, count, total)
    if staff:
        yield (process, day, staff, metric, count, total)


def followup_deadline(due_at: datetime | None, created_at: datetime, zone: tzinfo) -> datetime:
    """When a follow-up is missed: its due time, else the end of the company-local day it
    opened on."""
    if due_at is not None:
        return due_at
    day = created_at.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(0), zone)


def followup_day(due_at: datetime | None, created_at: datetime, zone: tzinfo) -> str:
    """The local day a follow-up is due: that of its due time, else the day it opened."""
    return local_day(due_at if due_at is not None else created_at, zone)


def task_items(
    process: str,
    status: str,
    due_at: datetime | None,
    ended_at: datetime | None,
    staff: str | None,
    zone: tzinfo,
    summary: str | None = None,
    created_at: datetime | None = None,
) -> list[Item]:
    """What a task that was completed (`done`, by `staff`) or cancelled (held by `staff`)
    adds. A cancelled task counts only when it was cancelled after its due time: then its
    deadline was missed. With what the summaries count it as (`summary_of`) and its opening
    time, also the follow-ups, placements and replies."""
    if ended_at is None:
        return []
    day = local_day(ended_at, zone)
    items: list[Item] = []
    done = status == TaskStatus.DONE
    if done:
        items.extend(_both(process, day, staff, "tasks_done", 1, 0.0))
        if due_at is not None:
            late = 1.0 if ended_at > due_at else 0.0
            items.extend(_both(process, day, staff, "task_due", 1, late))
    elif status == TaskStatus.CANCELLED and due_at is not None and ended_at > due_at:
        items.extend(_both(process, day, staff, "task_due", 1, 1.0))
    if summary == Summary.FOLLOWUP and created_at is not None:
        missed = ended_at > followup_deadline(due_at, created_at, zone)
        if done or missed:
            due_day = followup_day(due_at, created_at, zone)
            items.append((process, due_day, "", "followup_due", 1, 1.0 if missed else 0.0))
        if done:
            items.append((process, day, "", "followup_done", 1, 0.0))
    if done and summary == Summary.PLACEMENT:
        items.append((process, day, "", "placement", 1, 0.0))
    if done and summary == Summary.REPLY:
        items.append((process, day, "", "reply", 1, 0.0))
    return items


def opened_items(
    process: str, summary: str | None, created_at: datetime, zone: tzinfo
) -> list[Item]:
    """What a task adds when it opens: an escalation (督辦) on the day it opened."""
    if summary == Summary.ESCALATION:
        return [(process, local_day(created_at, zone), "", "escalation", 1, 0.0)]
    return []


def category_of(value: Any) -> str | None:
    """A category as the case row and the rollup keep it (text, at most CATEGORY_LIMIT)."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value).strip()[:CATEGORY_LIMIT] or None


def category_items(
    process: str, started_at: datetime, old: str | None, new: str | None, zone: tzinfo
) -> list[Item]:
    """A case classified (or classified again): counted under its category on the day it
    started, and no longer under the one it had."""
    if old == new:
        return []
    day = local_day(started_at, zone)
    items: list[Item] = []
    if old:
        items.append((process, day, "", f"category:{old}", -1, 0.0))
    if new:
        items.append((process, day, "", f"category:{new}", 1, 0.0))
    return items


def started_items(process: str, started_at: datetime, zone: tzinfo) -> list[Item]:
    return [(process, local_day(started_at, zone), "", "started", 1, 0.0)]


def ended_items(case: Any, staff: Iterable[str], zone: tzinfo) -> list[Item]:
    """What an ended case adds (`case`: a store Case or CaseRecord with its outcome and the
    KPI values taken when it ended); `staff`: who completed its tasks."""
    if case.ended_at is None:
        return []
    process, day = case.process_key, local_day(case.ended_at, zone)
    items: list[Item] = [(process, day, "", f"outcome:{case.outcome or 'none'}", 1, 0.0)]
    if case.outcome == Outcome.SERVED and case.served_at is not None:
        hours = (case.served_at - case.started_at).total_seconds() / 3600
        items.append((process, day, "", "service_hours", 1, hours))
    if case.promised_at is not None and case.served_at is not None:
        late = 1.0 if case.served_at > case.promised_at else 0.0
        items.append((process, day, "", "promise", 1, late))
    if case.satisfaction is not None:
        items.append((process, day, "", "satisfaction", 1, float(case.satisfaction)))
        for name in sorted(set(staff)):
            items.append((process, day, name, "satisfaction", 1, float(case.satisfaction)))
    return items


# ----- the values a case's declared KPI fields hold when it ends ----------------------------


def score(value: Any) -> float | None:
    """A 1–5 score from form data (a number, or digits as text); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float) and 1 <= value <= 5:
        return float(value)
    return None


def instant(value: Any, zone: tzinfo) -> datetime | None:
    """A time from case data (ISO text, date or datetime; naive = company-local), or None."""
    if value is None or value == "":
        return None
    try:
        return parse_when(value, zone)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def take_case_values(
    case: Any, fields: dict[str, str] | None, data: dict[str, Any], zone: tzinfo
) -> None:
    """Set the case's promised_at, served_at and satisfaction from the variables its process
    declares (satisfactionField, promisedTimeField, actualTimeField). A served case whose
    process declares no actual time was served when it ended."""
    fields = fields or {}
    case.promised_at = instant(data.get(fields["promised"]), zone) if "promised" in fields else None
    case.served_at = instant(data.get(fields["actual"]), zone) if "actual" in fields else None
    if case.served_at is None and "actual" not in fields and case.outcome == Outcome.SERVED:
        case.served_at = case.ended_at
    case.satisfaction = (
        score(data.get(fields["satisfaction"])) if "satisfaction" in fields else None
    )


def case_staff(rows: Any, case_id: int) -> list[str]:
    """Who completed a task of the case (the people who served it)."""
    return [
        r[0]
        for r in rows.all(
            "SELECT DISTINCT completed_by FROM task WHERE case_id = ? AND status = ?"
            " AND completed_by IS NOT NULL",
            (case_id, TaskStatus.DONE.value),
        )
    ]


def case_ended(rows: Any, case: Any, zone: tzinfo) -> None:
    """Add an ended case to the rollup (in the step's transaction)."""
    rows.kpi_add(ended_items(case, case_staff(rows, case.id), zone))
