"""A small in-process rate limiter (per key, sliding window) against guessing.

One web process keeps its own counts; several processes each allow the limit, which still
bounds guessing to a handful of tries per minute per address.

`allow(key)` counts an attempt and answers whether it is within the limit (the portal's
lookups count every try). `wait(key)`, `add(key)` and `reset(key)` count only what the caller
chooses (sign-in counts failures, and refuses before checking a password once over the limit).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self, limit: int, window_s: float, clock=time.monotonic):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one attempt for `key`; False when over the limit in the window."""
        with self._lock:
            now = self.clock()
            hits = self._recent(key, now)
            if len(hits) >= self.limit:
                return False
            self._append(key, hits, now)
            return True

    def wait(self, key: str) -> int:
        """Whole seconds until `key` may try again (0: it may try now); counts nothing."""
        with self._lock:
            now = self.clock()
            hits = self._recent(key, now)
            if len(hits) < self.limit:
                return 0
            # The oldest hit that must leave the window before one more fits.
            return max(1, math.ceil(hits[len(hits) - self.limit] + self.window_s - now))

    def add(self, key: str) -> None:
        """Count one attempt (e.g. a failed sign-in) for `key`."""
        with self._lock:
            now = self.clock()
            self._append(key, self._recent(key, now), now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def _append(self, key: str, hits: deque[float], now: float) -> None:
        hits.append(now)
        self._hits[key] = hits
        if len(self._hits) > 10_000:  # forget idle keys
            for stale in [
                k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s
            ]:
                del self._hits[stale]


class Backoff:
    """Growing delays per key after repeated failures: the first `free` failures cost nothing,
    then each further one makes the key wait 1, 2, 4 … seconds (at most `cap_s`) after it. A
    key with no failure for `forget_s` starts again from zero. Nothing is ever locked for
    longer than `cap_s`, and only the key that failed waits."""

    def __init__(
        self, free: int = 5, cap_s: float = 300, forget_s: float = 900, clock=time.monotonic
    ):
        self.free, self.cap_s, self.forget_s, self.clock = free, cap_s, forget_s, clock
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> int:
        """Whole seconds until `key` may try again (0: now)."""
        with self._lock:
            entry = self._current(key, self.clock())
            if entry is None or entry[0] < self.free:
                return 0
            count, last = entry
            delay = min(self.cap_s, 2.0 ** (count - self.free))
            return max(0, math.ceil(last + delay - self.clock()))

    def add(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            entry = self._current(key, now)
            self._failures[key] = ((entry[0] if entry else 0) + 1, now)
            if len(self._failures) > 10_000:  # forget idle keys
                for stale in [k for k, (_, t) in self._failures.items() if t < now - self.forget_s]:
                    del self._failures[stale]

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _current(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._failures.get(key)
        if entry is not None and entry[1] < now - self.forget_s:
            del self._failures[key]
            return None
        return entry
