"""Limits against guessing for the sign-in page and the customer portal.

The counts are the engine's (engine.identity.throttle): kept in the database, so every server
process of an installation counts the same attempts, a restart forgets nothing, and the clock
is the runtime's. The views name a scope and its limits; the app's `Throttle` (built by
create_app) gives the counter:

- `RateLimiter.allow(key)` counts an attempt and answers whether it is within the limit (the
  portal's link openings count every try). `wait(key)`, `add(key)` and `reset(key)` count only
  what the caller chooses (sign-in and lookups count failures, and refuse before checking
  anything once over the limit).
- `Backoff.wait(key)`, `add(key)`, `reset(key)`: growing delays after repeated failures.
"""

from __future__ import annotations

from flask import current_app

from engine import Backoff, RateLimiter, Throttle

__all__ = ["Backoff", "RateLimiter", "rate_limiter", "backoff", "throttle"]


def throttle() -> Throttle:
    return current_app.extensions["caseflow_throttle"]


def rate_limiter(scope: str, limit: int, window_s: float) -> RateLimiter:
    """The shared counter of `scope`: at most `limit` attempts per key in `window_s`."""
    return throttle().rate_limiter(scope, limit, window_s)


def backoff(scope: str, free: int, cap_s: float) -> Backoff:
    """The shared delays of `scope`: free failures, then 1, 2, 4 … seconds up to `cap_s`."""
    return throttle().backoff(scope, free, cap_s)
