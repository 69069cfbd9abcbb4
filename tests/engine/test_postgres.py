"""PostgreSQL: several timer workers share due timers with FOR UPDATE SKIP LOCKED and a lease;
concurrent completions of one task still give one winner."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.core.errors import Conflict
from engine.identity.users import add_user
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.tables import Event
from engine.worker.timers import claim_due_cases, fire_due_timers
from tests.conftest import fixture_files

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_runtime(pg_db_url, settings, clock):
    db = Database(pg_db_url)
    add_user(db, settings, "alice", ["service_desk"], clock.now())
    add_user(db, settings, "carol", ["service_desk"], clock.now())
    add_user(db, settings, "bob", ["senior_service"], clock.now())
    yield Runtime(db, settings, clock)
    db.dispose()


def waiting_cases(rt: Runtime, count: int) -> list[str]:
    rt.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    numbers = []
    for _ in range(count):
        number = rt.start_case("review_flow").number
        rt.complete_task(rt.get_case(number).open_tasks[0].id, {"approve": True}, "alice")
        numbers.append(number)
    return numbers


def test_two_workers_fire_each_timer_once(pg_runtime, clock):
    numbers = waiting_cases(pg_runtime, 40)
    clock.advance(days=3)
    reports = []

    def work() -> None:
        rt = Runtime(pg_runtime.db, pg_runtime.settings, clock)
        while True:
            report = fire_due_timers(rt, limit=5)
            reports.append(report)
            if report.cases == 0:
                return

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.fired for r in reports) == 40
    with pg_runtime.db.read() as session:
        fired = session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "timer_fired")
        )
    assert fired == 40
    assert {pg_runtime.get_case(n).timers[0].element_id for n in numbers} == {"wait_3_days"}


def test_skip_locked_lease_hides_claimed_timers_from_a_second_worker(pg_runtime, clock):
    waiting_cases(pg_runtime, 3)
    clock.advance(days=3)
    first = claim_due_cases(pg_runtime, limit=2, worker_id="w1")
    second = claim_due_cases(pg_runtime, limit=10, worker_id="w2")
    assert len(first) == 2 and len(second) == 1 and not set(first) & set(second)
    # A worker that died: after the lease its timers go to the others.
    clock.advance(minutes=2)
    assert sorted(claim_due_cases(pg_runtime, limit=10, worker_id="w3")) == sorted(first + second)


def test_concurrent_completion_on_postgres(pg_runtime):
    pg_runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = pg_runtime.start_case("review_flow").number
    task_id = pg_runtime.get_case(number).open_tasks[0].id
    barrier = threading.Barrier(2)
    outcomes = []

    def work(user: str) -> None:
        barrier.wait()
        try:
            pg_runtime.complete_task(task_id, {"approve": False}, user)
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=work, args=(u,)) for u in ("alice", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert any("already completed by" in o for o in outcomes if o != "ok"), outcomes
