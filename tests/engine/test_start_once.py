"""One start per request key: a reloaded booking page, a double click that reaches another
server process, an API client's retry. The repeat finds the case the first start made, the
case counter does not move, and a key reused for a different request is refused."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.core.errors import Conflict, ValidationFailed
from engine.runtime.verbs import Runtime
from engine.store.tables import Case, StartRequest
from tests.conftest import fixture_files


@pytest.fixture
def review(runtime):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    return runtime


def cases(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Case))


def test_a_repeated_start_returns_the_first_case_and_starts_nothing(review, db):
    first = review.start_case("review_flow", {"customer_name": "王小明"}, request_key="k1")
    again = review.start_case("review_flow", {"customer_name": "王小明"}, request_key="k1")
    assert (first.repeated, again.repeated) == (False, True)
    assert again.number == first.number and cases(db) == 1
    assert [t.element_id for t in again.open_tasks] == [t.element_id for t in first.open_tasks]
    # The counter did not move: the next case is the day's second.
    other = review.start_case("review_flow", {"customer_name": "李小華"}, request_key="k2")
    assert other.number.endswith("-0002") and first.number.endswith("-0001")
    # Without a key every start is a new case.
    review.start_case("review_flow", {"customer_name": "李小華"})
    review.start_case("review_flow", {"customer_name": "李小華"})
    assert cases(db) == 4


def test_a_key_used_for_a_different_request_is_refused(review, db):
    first = review.start_case(
        "review_flow", {"customer_name": "王小明"}, request_key="api:x", request_digest="d1"
    )
    with pytest.raises(Conflict) as refused:
        review.start_case(
            "review_flow", {"customer_name": "王大明"}, request_key="api:x", request_digest="d2"
        )
    assert refused.value.reason == "request_key_reused"
    assert cases(db) == 1
    same = review.start_case(
        "review_flow", {"customer_name": "王小明"}, request_key="api:x", request_digest="d1"
    )
    assert same.number == first.number and same.repeated


def test_a_refused_start_keeps_no_key(review, db):
    with pytest.raises(ValidationFailed):
        review.start_case("review_flow", {"nope": 1}, request_key="k-bad")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(StartRequest)) == 0
    started = review.start_case("review_flow", {"customer_name": "王小明"}, request_key="k-bad")
    assert not started.repeated and cases(db) == 1


def test_an_overlong_key_is_refused(review, db):
    with pytest.raises(ValidationFailed):
        review.start_case("review_flow", {"customer_name": "王"}, request_key="k" * 201)
    assert cases(db) == 0


def test_two_server_processes_starting_with_one_key_make_one_case(review, db, settings, clock):
    """Two runtimes on one database stand for two server processes (each its own writer
    lock and connections); three rounds, each with a fresh key sent by both at once."""
    runtimes = [Runtime(db, settings, clock), Runtime(db, settings, clock)]
    for round_ in range(3):
        barrier = threading.Barrier(2)
        results: list[object] = [None, None]

        def go(
            i: int,
            key: str = f"race-{round_}",
            barrier: threading.Barrier = barrier,
            results: list[object] = results,
        ) -> None:
            barrier.wait(timeout=30)
            try:
                results[i] = runtimes[i].start_case(
                    "review_flow", {"customer_name": "王小明"}, request_key=key
                )
            except Exception as exc:  # noqa: BLE001 - shown by the assertion below
                results[i] = exc

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert all(hasattr(r, "number") for r in results), results
        assert results[0].number == results[1].number  # type: ignore[union-attr]
        assert sorted([results[0].repeated, results[1].repeated]) == [False, True]  # type: ignore[union-attr]
        assert cases(db) == round_ + 1
