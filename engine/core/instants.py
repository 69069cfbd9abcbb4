"""Instants and numbers as BPMN scripts, forms and task data hand them to the business calendar:
`parse_when` reads an instant (ISO 8601 string, date or datetime; without an offset it is
company-local time) as aware UTC, `iso_utc` writes one back, and `whole_number` /
`finite_number` read counts of days and hours within sane bounds."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

# Scripts can pass any number; this bound keeps a typo ("2000000 working days") from looping
# for minutes or loading centuries of holiday tables.
MAX_WORKING_DAYS = 5000

When = datetime | date | str


def parse_when(value: When, tz: ZoneInfo | str) -> datetime:
    """Read an instant handed over by a script, a form or task data; return it as aware UTC.

    Accepts an aware or naive datetime, a date, or an ISO 8601 string with or without an
    offset ("2026-10-08T10:00:00+00:00", "2026-10-08 10:00", "2026-10-08"). A value without
    an offset is company-local time, because that is how people write times in procedures
    and forms; a bare date means local midnight. A trailing "Z" means UTC.
    """
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0))
    elif isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not an ISO 8601 date or time: {value!r}") from exc
    else:
        raise TypeError(f"expected an ISO 8601 string, a date or a datetime, got {value!r}")
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def iso_utc(when: datetime) -> str:
    """ISO 8601 with a +00:00 offset: fits JSON task data and is a valid BPMN timeDate
    (SpiffWorkflow reads timeDate with datetime.fromisoformat and would take a naive value
    as the *server's* zone, so the offset is always written)."""
    return when.astimezone(UTC).isoformat()


def whole_number(n: Any, what: str = "n") -> int:
    """A whole number from a script value (int, integral float or numeric string)."""
    if isinstance(n, bool):
        raise TypeError(f"{what} must be a whole number, got {n!r}")
    if isinstance(n, int):
        value = n
    elif isinstance(n, float):
        if not n.is_integer():
            raise ValueError(f"{what} must be a whole number, got {n!r}")
        value = int(n)
    elif isinstance(n, str):
        try:
            value = int(n.strip())
        except ValueError as exc:
            raise ValueError(f"{what} must be a whole number, got {n!r}") from exc
    else:
        raise TypeError(f"{what} must be a whole number, got {n!r}")
    if abs(value) > MAX_WORKING_DAYS:
        raise ValueError(f"{what}={value} is out of range (at most {MAX_WORKING_DAYS})")
    return value


def finite_number(n: Any, what: str = "n") -> float:
    """A finite number from a script value (int, float or numeric string)."""
    if isinstance(n, bool) or not isinstance(n, int | float | str):
        raise TypeError(f"{what} must be a number, got {n!r}")
    try:
        value = float(n)
    except ValueError as exc:
        raise ValueError(f"{what} must be a number, got {n!r}") from exc
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {n!r}")
    return value
