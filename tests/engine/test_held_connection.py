"""A worker's batch of steps on one held connection: each step still its own transaction, a
failed step leaves the connection clean for the next."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from engine.core.errors import Conflict, InvalidState
from engine.runtime.verbs import Runtime
from tests.conftest import fixture_files


@pytest.fixture
def review(runtime, users):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    return runtime


def _checkouts(db) -> list[int]:
    count = [0]
    event.listen(db.engine, "checkout", lambda *_: count.__setitem__(0, count[0] + 1))
    return count


def test_steps_share_one_connection_and_each_commits(review, db, settings, clock):
    cases = [review.start_case("review_flow", {"customer_name": "陳"}, "alice") for _ in range(5)]
    review.complete_task(cases.pop().open_tasks[0].id, {"approve": False}, "alice")  # warm caches
    count = _checkouts(db)
    with review.held_connection():
        for case in cases:
            review.complete_task(case.open_tasks[0].id, {"approve": False}, "alice")
    assert count[0] == 1
    fresh = Runtime(db, settings, clock)  # another runtime, other connections: all committed
    assert {fresh.get_case(c.number).status for c in cases} == {"completed"}


def test_a_failed_step_leaves_the_held_connection_clean(review, db, settings, clock):
    first = review.start_case("review_flow", {"customer_name": "陳"}, "alice")
    second = review.start_case("review_flow", {"customer_name": "林"}, "alice")
    task = first.open_tasks[0].id
    with review.held_connection():
        review.complete_task(task, {"approve": False}, "alice")
        with pytest.raises((Conflict, InvalidState)):
            review.complete_task(task, {"approve": False}, "alice")  # done already
        with pytest.raises(Exception):  # noqa: B017 - any refusal; the next step must work
            review.complete_task(second.open_tasks[0].id, {"approve": "not a boolean"}, "alice")
        review.complete_task(second.open_tasks[0].id, {"approve": False}, "alice")
    fresh = Runtime(db, settings, clock)
    assert fresh.get_case(first.number).status == "completed"
    assert fresh.get_case(second.number).status == "completed"
    history = [e.kind for e in fresh.get_case(first.number).history]
    assert history.count("task_completed") == 1
