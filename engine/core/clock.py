"""The one source of "now". Tests and drills move a FixedClock instead of sleeping."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; a time without an offset is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Clock:
    def now(self) -> datetime:
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that stands still until moved."""

    def __init__(self, start: datetime | str):
        self._now = parse_instant(start) if isinstance(start, str) else start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime | str) -> None:
        with self._lock:
            self._now = parse_instant(when) if isinstance(when, str) else when.astimezone(UTC)

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


def clock_from_env() -> Clock:
    """`CASEFLOW_NOW` fixes the clock for drills and tests."""
    fixed = os.environ.get("CASEFLOW_NOW")
    return FixedClock(fixed) if fixed else SystemClock()
