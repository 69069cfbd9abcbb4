"""Limits against guessing counted in the database (engine.identity.throttle): the window follows
the runtime's clock, concurrent attempts never slip past the limit, keys are stored hashed and
rows that no longer count are deleted as others are written."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from engine.identity.throttle import Throttle
from engine.store.tables import ThrottleState

ADDRESS = "198.51.100.7"


def rows(db) -> list[ThrottleState]:
    with db.read() as session:
        return list(session.scalars(select(ThrottleState)))


def test_a_key_over_its_limit_waits_until_the_oldest_attempt_leaves_the_window(db, clock):
    limiter = Throttle(db, clock, "secret").rate_limiter("lookups", limit=3, window_s=600)
    answers = []
    for _ in range(4):
        answers.append(limiter.allow(ADDRESS))
        clock.advance(seconds=60)
    assert answers == [True, True, True, False]
    # The first attempt leaves the window 600 s after it, 360 s from now.
    assert limiter.wait(ADDRESS) == 360
    assert limiter.wait("203.0.113.9") == 0  # another key counts on its own
    clock.advance(seconds=359)
    assert not limiter.allow(ADDRESS) and limiter.wait(ADDRESS) == 1
    clock.advance(seconds=1)
    assert limiter.wait(ADDRESS) == 0 and limiter.allow(ADDRESS)
    limiter.reset(ADDRESS)
    assert [limiter.allow(ADDRESS) for _ in range(4)] == [True, True, True, False]


def test_counted_failures_and_the_wait_they_cause(db, clock):
    limiter = Throttle(db, clock, "secret").rate_limiter("failures", limit=2, window_s=600)
    limiter.add(ADDRESS)
    assert limiter.wait(ADDRESS) == 0
    clock.advance(seconds=100)
    limiter.add(ADDRESS)
    limiter.add(ADDRESS)  # counting beyond the limit keeps only the latest attempts
    assert limiter.wait(ADDRESS) == 600
    clock.advance(seconds=600)
    assert limiter.wait(ADDRESS) == 0


def test_backoff_doubles_up_to_its_cap_and_forgets(db, clock):
    backoff = Throttle(db, clock, "secret").backoff("sign_in", free=2, cap_s=8, forget_s=900)
    waits = []
    for _ in range(7):
        backoff.add("alice|" + ADDRESS)
        waits.append(backoff.wait("alice|" + ADDRESS))
    assert waits == [0, 1, 2, 4, 8, 8, 8]
    clock.advance(seconds=5)
    assert backoff.wait("alice|" + ADDRESS) == 3
    clock.advance(seconds=900)  # no failure for forget_s: counted from zero again
    backoff.add("alice|" + ADDRESS)
    assert backoff.wait("alice|" + ADDRESS) == 0
    backoff.add("alice|" + ADDRESS)
    backoff.reset("alice|" + ADDRESS)
    assert backoff.wait("alice|" + ADDRESS) == 0 and rows(db) == []


def test_a_new_throttle_on_the_same_database_sees_the_counts(db, clock):
    Throttle(db, clock, "secret").backoff("sign_in", free=1).add("alice")
    assert Throttle(db, clock, "secret").backoff("sign_in", free=1).wait("alice") == 1
    # Hashed under another secret, the key is another row: the counts start afresh.
    assert Throttle(db, clock, "rotated").backoff("sign_in", free=1).wait("alice") == 0


def test_keys_are_stored_only_as_keyed_hashes(db, clock):
    throttle = Throttle(db, clock, "secret")
    throttle.rate_limiter("address", 5, 600).add(ADDRESS)
    throttle.backoff("name", free=1).add(f"alice|{ADDRESS}")
    keys = {"address": ADDRESS, "name": f"alice|{ADDRESS}"}
    stored = rows(db)
    assert {row.scope for row in stored} == set(keys)
    for row in stored:
        text = repr(vars(row))
        assert ADDRESS not in text and "alice" not in text
        assert row.key_hash == throttle.key_hash(row.scope, keys[row.scope])
        assert len(row.key_hash) == 64


def test_rows_that_no_longer_count_are_deleted_as_others_are_written(db, clock, monkeypatch):
    monkeypatch.setattr("engine.identity.throttle.PRUNE_BATCH", 2)
    throttle = Throttle(db, clock, "secret")
    limiter = throttle.rate_limiter("lookups", 5, 600)
    for i in range(5):
        limiter.add(f"192.0.2.{i}")
    clock.advance(seconds=601)
    limiter.add("203.0.113.1")  # deletes two of the five stale rows: bounded work per write
    assert len(rows(db)) == 4
    limiter.add("203.0.113.1")
    limiter.add("203.0.113.2")
    assert sorted(r.key_hash for r in rows(db)) == sorted(
        throttle.key_hash("lookups", k) for k in ("203.0.113.1", "203.0.113.2")
    )


def test_concurrent_attempts_never_let_more_than_the_limit_through(db, clock):
    """Every thread asks at once (several server processes on one database behave alike: each
    attempt is its own transaction on its own connection)."""
    limit, threads = 5, 16
    throttle = Throttle(db, clock, "secret")
    start = threading.Barrier(threads)

    def attempt(key: str) -> bool:
        limiter = throttle.rate_limiter("lookups", limit, 600)
        start.wait()
        return limiter.allow(key)

    def at_once() -> list[bool]:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(attempt, [ADDRESS] * threads))

    assert at_once().count(True) == limit  # the key's row is made by one of them
    assert at_once().count(True) == 0
    clock.advance(seconds=600)
    assert at_once().count(True) == limit  # the row exists: they queue on its lock
    # Failures counted at once are all counted: none is lost to a concurrent write.
    backoff = throttle.backoff("sign_in", free=1, cap_s=10_000)
    start = threading.Barrier(threads)

    def fail(_: int) -> None:
        start.wait()
        backoff.add("alice")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fail, range(threads)))
    with db.read() as session:
        failures = session.scalar(
            select(func.max(ThrottleState.failures)).where(ThrottleState.scope == "sign_in")
        )
    assert failures == threads
