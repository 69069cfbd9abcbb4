"""The calendar functions BPMN expressions, scripts and timer expressions may call (now, today,
working_days_from_now, add_working_days, hours_before, next_holiday, local_time, ...), built
for one BusinessCalendar and the engine's clock by `script_helpers`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from engine.core.instants import When, finite_number, iso_utc, parse_when

if TYPE_CHECKING:
    from engine.core.calendar import BusinessCalendar


def script_helpers(
    calendar: BusinessCalendar, now: Callable[[], datetime]
) -> dict[str, Callable[..., Any]]:
    """The calendar functions BPMN expressions, scripts and timer expressions may call.

    `now` is the engine's clock (fixed in tests and drills), called on every use, so the
    helpers never read the system clock. Instants come back as ISO 8601 strings with a
    +00:00 offset: they sit in JSON task data as they are and serve directly as a
    timeDate timer expression. Instants going in may be ISO strings (naive = company
    local time), dates or datetimes.
    """
    zone = calendar.zone

    def current() -> datetime:
        value = now()
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"the engine clock must give an aware datetime, got {value!r}")
        return value.astimezone(UTC)

    def read(value: When) -> datetime:
        return parse_when(value, zone)

    def now_() -> str:
        """The current instant."""
        return iso_utc(current())

    def today() -> str:
        """The company's local date, YYYY-MM-DD."""
        return current().astimezone(zone).date().isoformat()

    def working_days_from_now(n: int) -> str:
        """n working days from now (counting from the next office opening)."""
        return iso_utc(calendar.add_working_days(current(), n))

    def days_from_now(n: float) -> str:
        """n calendar days from now, same local wall-clock time."""
        return iso_utc(current().astimezone(zone) + timedelta(days=finite_number(n)))

    def add_working_days(when: When, n: int) -> str:
        """n working days from `when` (negative: before it)."""
        return iso_utc(calendar.add_working_days(read(when), n))

    def hours_before(when: When, n: float) -> str:
        """n clock hours before `when`."""
        return iso_utc(calendar.hours_before(read(when), n))

    def hours_after(when: When, n: float) -> str:
        """n clock hours after `when`."""
        return iso_utc(calendar.hours_after(read(when), n))

    def is_working_day(when: When) -> bool:
        """Whether the local day of `when` is a working day."""
        return calendar.is_working_day(read(when))

    def working_days_between(a: When, b: When) -> int:
        """Working days from a's local date to b's (a's day not counted)."""
        return calendar.working_days_between(read(a), read(b))

    def is_office_time(when: When) -> bool:
        """Whether the office is open at `when`."""
        return calendar.is_office_time(read(when))

    def days_after(when: When, n: float) -> str:
        """n calendar days after `when`, same local wall-clock time (follow-ups on day 3,
        day 8, day 15 after a start date)."""
        return iso_utc(read(when).astimezone(zone) + timedelta(days=finite_number(n)))

    def days_before(when: When, n: float) -> str:
        """n calendar days before `when`, same local wall-clock time."""
        return iso_utc(read(when).astimezone(zone) - timedelta(days=finite_number(n)))

    def next_holiday(after: When | None = None, at: str = "09:00") -> str:
        """The next public holiday strictly after `after` (default: now), at local time `at`."""
        start = read(after) if after is not None else current()
        day = start.astimezone(zone).date()
        hour, minute = (int(p) for p in str(at).split(":"))
        for _ in range(400):
            day += timedelta(days=1)
            if calendar.holiday_name(day):
                return iso_utc(datetime.combine(day, time(hour, minute), zone))
        raise ValueError("no public holiday in the next 400 days")

    def local_time(when: When, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """`when` as the company's local wall-clock time, formatted (for messages)."""
        fmt = str(fmt)
        if len(fmt) > 40 or "%" not in fmt:
            raise ValueError(
                "local_time format: up to 40 characters with % codes, e.g. '%m月%d日 %H:%M'"
            )
        return read(when).astimezone(zone).strftime(fmt)

    now_.__name__ = now_.__qualname__ = "now"
    return {
        "now": now_,
        "today": today,
        "working_days_from_now": working_days_from_now,
        "days_from_now": days_from_now,
        "add_working_days": add_working_days,
        "hours_before": hours_before,
        "hours_after": hours_after,
        "is_working_day": is_working_day,
        "working_days_between": working_days_between,
        "is_office_time": is_office_time,
        "days_after": days_after,
        "days_before": days_before,
        "next_holiday": next_holiday,
        "local_time": local_time,
    }
