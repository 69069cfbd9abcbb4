"""The business calendar: working days, office hours, public holidays and the company time zone.

Procedures state their deadlines in working days ("review within 2 working days", "at least
1 working day ahead") and in clock hours ("reminder 24 hours before the appointment"). This
module turns those phrases into instants.

Conventions, so that nothing depends on the server's own zone:
* every instant going in or out is an aware datetime (or ISO 8601 string) in UTC;
* the company zone (Asia/Shanghai by default) is used only to decide which local day and which
  local hour an instant falls on;
* public holidays come from the `holidays` package (CN by default). For mainland China the
  package also knows the official make-up working days (调休, e.g. a Saturday that is worked to
  bridge a holiday week); those count as working days here.

Reading the instants and numbers scripts pass in is engine.core.instants; the functions BPMN
scripts call are built in engine.core.calendar_scripts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from engine.core import calendar_scripts
from engine.core.instants import finite_number, whole_number

if TYPE_CHECKING:
    from engine.core.settings import Settings

# Like MAX_WORKING_DAYS (engine.core.instants): a typo must not load centuries of holidays.
MAX_SPAN_DAYS = 366 * 25
# How far to look for the next working day before deciding the configuration has none.
_SEARCH_LIMIT_DAYS = 366


@dataclass(frozen=True)
class _YearData:
    holidays: dict[date, str]
    makeup_days: frozenset[date]


class BusinessCalendar:
    """Working days and office hours of the company, in its own time zone."""

    def __init__(
        self,
        timezone: str,
        holidays_country: str,
        holidays_subdiv: str = "",
        working_days: Iterable[int] = (0, 1, 2, 3, 4),
        office_start: time = time(9),
        office_end: time = time(17),
    ) -> None:
        """Check the configuration now, so a typo in settings.toml fails at start-up rather
        than at the first deadline a process computes."""
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {timezone!r} (use an IANA name such as Asia/Shanghai)"
            ) from exc
        self.timezone = timezone
        self.holidays_country = holidays_country
        self.holidays_subdiv = holidays_subdiv
        try:
            holidays.country_holidays(holidays_country, subdiv=holidays_subdiv or None)
        except NotImplementedError as exc:
            raise ValueError(f"holidays: {exc}") from exc
        days = tuple(sorted({int(d) for d in working_days}))
        if not days or any(d < 0 or d > 6 for d in days):
            raise ValueError(f"working_days must list weekdays 0 (Mon) to 6 (Sun), got {days}")
        self.working_days = days
        if office_start.tzinfo is not None or office_end.tzinfo is not None:
            raise ValueError("office hours are local wall-clock times; give them without a zone")
        if not office_start < office_end:
            raise ValueError(f"office_start {office_start} must be before office_end {office_end}")
        self.office_start = office_start
        self.office_end = office_end
        self._years: dict[int, _YearData] = {}
        self._named: dict[tuple[int, str], dict[date, str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> BusinessCalendar:
        """The calendar the company configured in settings.toml."""
        return cls(
            timezone=settings.timezone,
            holidays_country=settings.holidays_country,
            holidays_subdiv=settings.holidays_subdiv,
            working_days=settings.working_days,
            office_start=settings.office_start,
            office_end=settings.office_end,
        )

    def __repr__(self) -> str:
        subdiv = f"-{self.holidays_subdiv}" if self.holidays_subdiv else ""
        return (
            f"BusinessCalendar({self.timezone}, {self.holidays_country}{subdiv}, "
            f"days={self.working_days}, {self.office_start:%H:%M}-{self.office_end:%H:%M})"
        )

    # ---- holidays ---------------------------------------------------------------------------

    def _year(self, year: int) -> _YearData:
        """Holidays and make-up working days of one year, built once: the package computes
        lunar dates and observance rules on every construction, which is slow to repeat for
        each day looked at."""
        with self._lock:
            data = self._years.get(year)
            if data is None:
                table = holidays.country_holidays(
                    self.holidays_country, subdiv=self.holidays_subdiv or None, years=year
                )
                data = _YearData(
                    holidays={d: name for d, name in table.items() if d.year == year},
                    makeup_days=frozenset(getattr(table, "weekend_workdays", ())),
                )
                self._years[year] = data
            return data

    def is_makeup_working_day(self, day: date) -> bool:
        """True for an officially worked weekend day (调休), e.g. CN 2026-09-20 (Sunday).

        The package records a make-up day with the holiday it pays for, which may sit in the
        following year (a late-December Saturday worked for the New Year break), so both
        years are consulted."""
        day = self._local_date(day)
        return any(
            day in self._year(year).makeup_days
            for year in (day.year, day.year + 1)
            if year <= MAXYEAR
        )

    def holiday_name(self, day: date) -> str | None:
        """The public holiday on that local day, or None; handy for explaining a deadline."""
        day = self._local_date(day)
        return self._year(day.year).holidays.get(day)

    def holiday_name_in(self, day: date, language: str) -> str | None:
        """The public holiday on that local day named in `language` (one the holidays package
        offers for the country, e.g. "zh_TW" or "en_US"; otherwise its default name), or
        None; for telling a customer why a day is closed in their language."""
        day = self._local_date(day)
        name = self.holiday_name(day)
        if name is None:
            return None
        key = (day.year, language)
        with self._lock:
            names = self._named.get(key)
        if names is None:
            try:
                table = holidays.country_holidays(
                    self.holidays_country,
                    subdiv=self.holidays_subdiv or None,
                    years=day.year,
                    language=language,
                )
            except (NotImplementedError, ValueError):
                return name
            names = {d: n for d, n in table.items() if d.year == day.year}
            with self._lock:
                self._named[key] = names
        return names.get(day, name)

    def is_working_day(self, day: date) -> bool:
        """A weekday listed in working_days that is not a public holiday, or an official
        make-up working day. A datetime is first moved to its local date in the company zone."""
        day = self._local_date(day)
        if self.is_makeup_working_day(day):
            return True
        return day.weekday() in self.working_days and day not in self._year(day.year).holidays

    # ---- zones ------------------------------------------------------------------------------

    def local(self, when: datetime) -> datetime:
        """The instant on the company's wall clock (aware, in the company zone)."""
        return self._aware(when).astimezone(self.zone)

    def utc(self, value: datetime) -> datetime:
        """The instant in UTC, for storing. A naive value is a company wall-clock time."""
        if value.utcoffset() is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(UTC)

    def _aware(self, when: datetime) -> datetime:
        # A naive datetime here is almost always a bug (a UTC value from a database driver or a
        # local value from a form); guessing would shift deadlines by 8 hours, so refuse.
        if not isinstance(when, datetime):
            raise TypeError(f"expected a datetime, got {when!r}")
        if when.utcoffset() is None:
            raise ValueError(
                f"naive datetime {when.isoformat()}: use calendar.utc() or parse_when() first"
            )
        return when

    def _local_date(self, day: date) -> date:
        if isinstance(day, datetime):
            return self.local(day).date()
        if not isinstance(day, date):
            raise TypeError(f"expected a date, got {day!r}")
        return day

    def _at(self, day: date, clock: time) -> datetime:
        """The UTC instant of a local wall-clock time on a local day."""
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    # ---- working days and office hours ------------------------------------------------------

    def _step(self, day: date, direction: int) -> date:
        """The nearest working day strictly after (direction 1) or before (-1) `day`."""
        for _ in range(_SEARCH_LIMIT_DAYS):
            day += timedelta(days=direction)
            if self.is_working_day(day):
                return day
        raise ValueError(f"no working day within {_SEARCH_LIMIT_DAYS} days of {day}")

    def is_office_time(self, when: datetime) -> bool:
        """Inside office hours of a working day; office_end itself is already closed."""
        local = self.local(when)
        return (
            self.is_working_day(local.date())
            and self.office_start <= local.time() < self.office_end
        )

    def next_office_time(self, when: datetime) -> datetime:
        """`when` itself (in UTC) if the office is open then, else the next opening. Counting
        working days starts here: a request at night or on a weekend starts being handled
        when the office opens."""
        local = self.local(when)
        if self.is_working_day(local.date()):
            if local.time() < self.office_start:
                return self._at(local.date(), self.office_start)
            if local.time() < self.office_end:
                return when.astimezone(UTC)
        return self._at(self._step(local.date(), 1), self.office_start)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Move n working days on, keeping the local time of day.

        n >= 0 counts from next_office_time(start): Friday 10:00 + 2 is Tuesday 10:00, and a
        request on Saturday 20:00 + 1 is Tuesday 09:00 (counting starts Monday 09:00); n = 0
        is next_office_time(start).

        n < 0 ("N working days before an appointment") counts back from `start` itself, not
        from the next opening: an appointment on Wednesday at 18:00 minus 1 is Tuesday 18:00
        (the next opening would be Thursday and give Wednesday, the appointment's own day).
        The result keeps start's time of day and may lie outside office hours.
        """
        n = whole_number(n)
        base = self.local(self.next_office_time(start) if n >= 0 else start)
        day = base.date()
        direction = 1 if n >= 0 else -1
        for _ in range(abs(n)):
            day = self._step(day, direction)
        return self._at(day, base.time())

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Whole working days from start's local date to end's local date, for rules such as
        "at least 2 working days ahead".

        The start day is never counted: going forward, working days d with
        start < d <= end count; going backward the result is negative and counts d with
        end <= d < start. So working_days_between(s, add_working_days(s, n)) == n whenever s
        is in office time (always, for negative n).
        """
        first = self.local(start).date()
        last = self.local(end).date()
        span = (last - first).days
        if abs(span) > MAX_SPAN_DAYS:
            raise ValueError(f"span of {span} days is out of range (at most {MAX_SPAN_DAYS})")
        if span >= 0:
            days = (first + timedelta(days=i) for i in range(1, span + 1))
            return sum(1 for d in days if self.is_working_day(d))
        days = (last + timedelta(days=i) for i in range(-span))
        return -sum(1 for d in days if self.is_working_day(d))

    # ---- clock hours ------------------------------------------------------------------------

    def hours_before(self, when: datetime, n: float) -> datetime:
        """Plain clock hours earlier (UTC arithmetic, so DST changes do not bend it); for
        reminders such as "24 hours before the appointment"."""
        return self._aware(when).astimezone(UTC) - timedelta(hours=finite_number(n))

    def hours_after(self, when: datetime, n: float) -> datetime:
        """Plain clock hours later (UTC arithmetic)."""
        return self._aware(when).astimezone(UTC) + timedelta(hours=finite_number(n))

    # ---- for BPMN expressions, scripts and timers -------------------------------------------

    def script_helpers(self, now: Callable[[], datetime]) -> dict[str, Callable[..., Any]]:
        """The calendar functions BPMN expressions, scripts and timer expressions may call;
        `now` is the engine's clock (see engine.core.calendar_scripts)."""
        return calendar_scripts.script_helpers(self, now)
