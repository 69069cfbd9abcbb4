"""A small in-process rate limiter (per key, sliding window) against guessing.

One web process keeps its own counts; several processes each allow the limit, which still
bounds guessing to a handful of tries per minute per address.
"""

from __future__ import annotations

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
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle keys
                for stale in [
                    k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s
                ]:
                    del self._hits[stale]
            return True
