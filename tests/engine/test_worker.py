"""The timer worker: fires what is due, leaves a timer due when firing fails, counts once."""

from __future__ import annotations

from engine.runtime.verbs import Runtime
from engine.worker.timers import fire_due_timers
from tests.conftest import fixture_files


def start_waiting_case(runtime, clock):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = runtime.start_case("review_flow").number
    task = runtime.get_case(number).open_tasks[0]
    runtime.complete_task(task.id, {"approve": True}, "alice")
    task_b = runtime.get_case(number).open_tasks[0]
    runtime.complete_task(task_b.id, {"confirmed": True}, "bob")
    return number


def test_failure_leaves_the_timer_due_and_a_later_run_fires_it_once(
    runtime, users, clock, monkeypatch
):
    number = start_waiting_case(runtime, clock)
    clock.advance(days=3, seconds=1)

    def broken(self, number):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Runtime, "fire_timers", broken)
    report = fire_due_timers(runtime)
    assert (report.fired, report.failures) == (0, 1)
    case = runtime.get_case(number)
    assert case.status == "running" and [t.element_id for t in case.timers] == ["wait_3_days"]

    monkeypatch.undo()
    # Backed off: not retried at once ...
    assert fire_due_timers(runtime).cases == 0
    # ... but a little later it fires, exactly once.
    clock.advance(minutes=1)
    assert fire_due_timers(runtime).fired == 1
    assert fire_due_timers(runtime).fired == 0
    case = runtime.get_case(number)
    assert case.status == "completed"
    assert [e.kind for e in case.history].count("timer_fired") == 1


def test_worker_with_nothing_due_does_nothing(runtime, users, clock):
    start_waiting_case(runtime, clock)
    assert fire_due_timers(runtime).to_dict() == {
        "cases": 0,
        "fired": 0,
        "conflicts": 0,
        "failures": 0,
    }


def test_worker_round_fires_timers_then_delivers_what_they_queued(runtime, clock, settings):
    """A timer-driven reminder is sent in the same round that fires it (dev senders write files)."""
    from engine.worker.timers import Worker

    runtime.deploy(fixture_files("notify_flow.bpmn"))
    runtime.start_case(
        "notify_flow",
        {"customer_name": "王", "phone": "13800000000", "email": "w@example.com"},
        prevalidated=True,
    )
    worker = Worker(runtime)
    fired, delivery = worker.round()
    assert (delivery.sent, delivery.failed) == (2, 0)
    assert worker.round()[1].sent == 0
    assert "王" in settings.sms.dev_log.read_text(encoding="utf-8")


def test_a_worker_notes_its_rounds_for_health_and_old_notes_go(runtime, clock):
    """Each worker process notes its last round (at most every HEARTBEAT_S) so /health of any
    web process can see it; notes of workers gone for a week are removed."""
    import threading
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from engine.store.tables import WorkerHeartbeat
    from engine.worker import timers

    gone = WorkerHeartbeat(
        worker_id="old-host:1:1", last_run=datetime.now(UTC) - timedelta(days=8), report=None
    )
    with runtime.db.write() as session:
        session.add(gone)
        session.commit()
    worker = timers.Worker(runtime)
    worker.run(threading.Event(), once=True)
    with runtime.db.read() as session:
        (beat,) = session.scalars(select(WorkerHeartbeat)).all()
    assert beat.worker_id == worker.worker_id and beat.report["last_error"] is None
    first = beat.last_run
    worker.run(threading.Event(), once=True)  # within HEARTBEAT_S: not written again
    with runtime.db.read() as session:
        assert session.scalars(select(WorkerHeartbeat.last_run)).one() == first
