"""The periods the KPIs are read by: company-local calendar months (YYYY-MM) and quarters
(YYYY-Qn), their first days and bounds, and the months before now. A quarter is the sum of its
months (engine.casework.metrics)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def _period_months(period: str) -> tuple[int, int, int]:
    """(year, first month, number of months) of YYYY-MM or YYYY-Qn."""
    year, part = period.split("-")
    if part.upper().startswith("Q"):
        quarter = int(part[1:])
        if not 1 <= quarter <= 4:
            raise ValueError(f"no quarter {period!r}")
        return int(year), 3 * quarter - 2, 3
    return int(year), int(part), 1


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    """(year, month) `n` months after (before, when negative) `month` of `year`."""
    index = year * 12 + month - 1 + n
    return index // 12, index % 12 + 1


def period_days(period: str) -> tuple[str, str]:
    """The first local day of the period and the first day after it, as YYYY-MM-DD."""
    year, month, count = _period_months(period)
    end_year, end_month = add_months(year, month, count)
    return f"{year:04d}-{month:02d}-01", f"{end_year:04d}-{end_month:02d}-01"


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period's start and end as instants in the company's zone."""
    first, after = period_days(month)
    return (
        datetime.combine(date.fromisoformat(first), time(0), zone),
        datetime.combine(date.fromisoformat(after), time(0), zone),
    )


def quarter_of(month: str) -> str:
    year, mon = month.split("-")
    return f"{year}-Q{(int(mon) - 1) // 3 + 1}"


def quarter_months(quarter: str) -> list[str]:
    year, first, _ = _period_months(quarter)
    return [f"{year:04d}-{m:02d}" for m in range(first, first + 3)]


def recent_months(now: datetime, timezone: str, count: int = 6) -> list[str]:
    local = now.astimezone(ZoneInfo(timezone))
    months = []
    for back in range(count - 1, -1, -1):
        year, month = add_months(local.year, local.month, -back)
        months.append(f"{year:04d}-{month:02d}")
    return months
