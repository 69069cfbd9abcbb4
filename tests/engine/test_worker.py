"""The timer worker: fires what is due, leaves a timer due when firing fails, counts once."""

from __future__ import annotations

from engine.runtime import Runtime
from engine.timers import fire_due_timers
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
