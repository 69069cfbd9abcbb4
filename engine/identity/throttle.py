"""Limits against guessing (sign-in, the customer portal's lookups) that every server process
shares and a restart keeps: the counts live in the `throttle` table, one row per scope and key.

Two kinds of count, each a small class bound to a scope by `Throttle`:
- `RateLimiter`: at most `limit` attempts per key in any `window_s` seconds (a sliding window).
  The row keeps the times of the key's latest `limit` attempts, a sliding log cut to the limit
  rather than a window counter: that is all "is there room?" and "how long until there is?"
  need, the answer is exact (Retry-After says when the oldest counted attempt leaves the
  window, as a single process's in-memory limiter said), and a row never holds more than
  `limit` times. A fixed-window counter would be smaller but lets twice the limit through
  around a window's edge; an estimated sliding counter cannot say exactly when to come back.
- `Backoff`: growing delays after repeated failures (the count, the latest failure and the
  time the key may try again).

Keys name people (addresses, user names, booking numbers): only an HMAC-SHA256 of scope and
key under the installation's secret is stored, so a copy of the database does not tell who
tried what. Changing the secret starts every count afresh.

Each write is one short transaction. It first upserts the key's row (INSERT … ON CONFLICT DO
UPDATE), which on PostgreSQL takes the row's lock, so concurrent attempts on one key queue
instead of both seeing room for one more; on SQLite the write transaction (BEGIN IMMEDIATE)
already runs alone. Then it decides, writes the row and deletes at most PRUNE_BATCH rows that
no longer count (`expires_at` passed; SKIP LOCKED on PostgreSQL, so pruning never waits for
another attempt). Asking how long to wait reads without a lock. Times come from the runtime's
clock, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, not_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.core.clock import Clock
from engine.store.database import Database
from engine.store.tables import ThrottleState

PRUNE_BATCH = 50
# 2**40 s is far beyond any cap: keeps the delay arithmetic finite after very many failures.
MAX_EXPONENT = 40

_T = ThrottleState.__table__


def _ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)


class Throttle:
    """The shared counts of one installation: the database, the clock and the secret that keys
    are hashed with. `rate_limiter` and `backoff` give the counts of one scope."""

    def __init__(self, db: Database, clock: Clock, secret: str | bytes):
        self.db = db
        self.clock = clock
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        # A key of its own, so these hashes say nothing about what else the secret signs.
        self._key = hmac.new(raw, b"caseflow throttle keys", hashlib.sha256).digest()

    def rate_limiter(self, scope: str, limit: int, window_s: float) -> RateLimiter:
        return RateLimiter(self, scope, limit, window_s)

    def backoff(
        self, scope: str, free: int = 5, cap_s: float = 300, forget_s: float = 900
    ) -> Backoff:
        return Backoff(self, scope, free, cap_s, forget_s)

    def key_hash(self, scope: str, key: str) -> str:
        """What the table stores for `key` in `scope`."""
        message = f"{scope}\x00{key}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # ----- rows

    def _read(self, scope: str, key: str) -> dict[str, Any] | None:
        with self.db.read() as session:
            row = session.execute(
                select(_T).where(_T.c.scope == scope, _T.c.key_hash == self.key_hash(scope, key))
            ).first()
        return None if row is None else dict(row._mapping)

    def _lock(self, session: Session, scope: str, key_hash: str, now: datetime) -> dict[str, Any]:
        """The key's row, created if missing and locked until the transaction ends."""
        dialect = postgresql if self.db.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_T).values(
            scope=scope, key_hash=key_hash, hits=[], failures=0, expires_at=now
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[_T.c.scope, _T.c.key_hash], set_={"failures": _T.c.failures}
        ).returning(*_T.c)
        return dict(session.execute(upsert).one()._mapping)

    def _write(
        self, session: Session, scope: str, key_hash: str, now: datetime, **values: Any
    ) -> None:
        mine = and_(_T.c.scope == scope, _T.c.key_hash == key_hash)
        session.execute(update(_T).where(mine).values(**values))
        expired = (
            select(_T.c.scope, _T.c.key_hash)
            .where(_T.c.expires_at < now, not_(mine))
            .order_by(_T.c.expires_at)
            .limit(PRUNE_BATCH)
            .with_for_update(skip_locked=True)
        )
        session.execute(delete(_T).where(tuple_(_T.c.scope, _T.c.key_hash).in_(expired)))

    def _forget(self, scope: str, key: str) -> None:
        # Every successful sign-in and lookup forgets its key: most have nothing to forget,
        # and a read costs less than a write transaction (on SQLite, the writer's turn).
        if self._read(scope, key) is None:
            return
        with self.db.write() as session:
            session.execute(
                delete(_T).where(_T.c.scope == scope, _T.c.key_hash == self.key_hash(scope, key))
            )
            session.commit()


class RateLimiter:
    """At most `limit` attempts per key in any `window_s` seconds, counted in one scope.

    `allow(key)` counts an attempt and answers whether it is within the limit (every try
    counts). `wait(key)`, `add(key)` and `reset(key)` count only what the caller chooses (count
    failures, and refuse before checking anything once over the limit)."""

    def __init__(self, throttle: Throttle, scope: str, limit: int, window_s: float):
        self.throttle, self.scope = throttle, scope
        self.limit, self.window_s = limit, window_s

    def allow(self, key: str) -> bool:
        """Count one attempt for `key`; False (and nothing counted) when over the limit."""
        return self._count(key, only_within_limit=True)

    def add(self, key: str) -> None:
        """Count one attempt (e.g. a failed sign-in) for `key`."""
        self._count(key, only_within_limit=False)

    def wait(self, key: str) -> int:
        """Whole seconds until `key` may try again (0: it may try now); counts nothing."""
        now = self.throttle.clock.now()
        row = self.throttle._read(self.scope, key)
        hits = self._recent(row["hits"] if row else [], _ms(now))
        if len(hits) < self.limit:
            return 0
        # The oldest attempt that must leave the window before one more fits.
        oldest = hits[len(hits) - self.limit]
        return max(1, math.ceil((oldest + self.window_s * 1000 - _ms(now)) / 1000))

    def reset(self, key: str) -> None:
        self.throttle._forget(self.scope, key)

    def _recent(self, hits: list[int], now_ms: int) -> list[int]:
        return [hit for hit in hits if hit > now_ms - self.window_s * 1000]

    def _count(self, key: str, only_within_limit: bool) -> bool:
        throttle = self.throttle
        key_hash = throttle.key_hash(self.scope, key)
        with throttle.db.write() as session:
            now = throttle.clock.now()
            row = throttle._lock(session, self.scope, key_hash, now)
            hits = self._recent(row["hits"] or [], _ms(now))
            if only_within_limit and len(hits) >= self.limit:
                session.rollback()
                return False
            hits = [*hits, _ms(now)][-max(1, self.limit) :]
            throttle._write(
                session,
                self.scope,
                key_hash,
                now,
                hits=hits,
                expires_at=max(now + timedelta(seconds=self.window_s), row["expires_at"]),
            )
            session.commit()
        return True


class Backoff:
    """Growing delays per key after repeated failures: the first `free` failures cost nothing,
    then each further one makes the key wait 1, 2, 4 … seconds (at most `cap_s`) after it. A
    key with no failure for `forget_s` starts again from zero. Nothing is ever locked for
    longer than `cap_s`, and only the key that failed waits."""

    def __init__(self, throttle: Throttle, scope: str, free: int, cap_s: float, forget_s: float):
        self.throttle, self.scope = throttle, scope
        self.free, self.cap_s, self.forget_s = free, cap_s, forget_s

    def wait(self, key: str) -> int:
        """Whole seconds until `key` may try again (0: now)."""
        now = self.throttle.clock.now()
        row = self.throttle._read(self.scope, key)
        if row is None or self._failures(row, now) < self.free or row["next_allowed_at"] is None:
            return 0
        return max(0, math.ceil((row["next_allowed_at"] - now).total_seconds()))

    def add(self, key: str) -> None:
        """Count one failure for `key`."""
        throttle = self.throttle
        key_hash = throttle.key_hash(self.scope, key)
        with throttle.db.write() as session:
            now = throttle.clock.now()
            row = throttle._lock(session, self.scope, key_hash, now)
            failures = self._failures(row, now) + 1
            next_allowed = None
            if failures >= self.free:
                delay = min(self.cap_s, 2.0 ** min(failures - self.free, MAX_EXPONENT))
                next_allowed = now + timedelta(seconds=delay)
            forgotten = now + timedelta(seconds=self.forget_s)
            throttle._write(
                session,
                self.scope,
                key_hash,
                now,
                failures=failures,
                last_failure_at=now,
                next_allowed_at=next_allowed,
                expires_at=max(forgotten, next_allowed or forgotten, row["expires_at"]),
            )
            session.commit()

    def reset(self, key: str) -> None:
        self.throttle._forget(self.scope, key)

    def _failures(self, row: dict[str, Any], now: datetime) -> int:
        """The failures that still count: none once the latest is `forget_s` old."""
        last = row["last_failure_at"]
        if last is None or last < now - timedelta(seconds=self.forget_s):
            return 0
        return row["failures"]
