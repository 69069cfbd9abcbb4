"""A cycle timer (`R3/PT1H`, non-interrupting on a user task) fires at each of its due times
when the worker runs the case at exactly that time. SpiffWorkflow's own check is a strict "<"
against the wall clock, so a worker on time never saw it due: it was counted as fired and the
case never moved. Three times and no more; the task it is attached to stays open."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.worker.timers import fire_due_timers
from tests.conftest import fixture_files

pytestmark = pytest.mark.usefixtures("users")


def fired(runtime, number: str) -> int:
    return sum(1 for e in runtime.get_case(number).history if e.kind == "timer_fired")


def test_a_cycle_timer_fires_on_time_each_round_then_stops(runtime, clock):
    runtime.deploy(fixture_files("cycle_flow.bpmn"))
    case = runtime.start_case("cycle_flow", {"reminders": 0}, prevalidated=True)
    start = clock.now()
    for hour in (1, 2, 3):
        (timer,) = runtime.get_case(case.number).timers
        assert (timer.kind, timer.due_at) == ("cycle", start + timedelta(hours=hour))
        clock.set(start + timedelta(hours=hour))  # the worker runs at exactly the due time
        report = fire_due_timers(runtime)
        assert (report.fired, report.failures) == (1, 0)
        assert fired(runtime, case.number) == hour
    clock.set(start + timedelta(hours=10))
    assert fire_due_timers(runtime).fired == 0
    after = runtime.get_case(case.number)
    assert fired(runtime, case.number) == 3 and after.timers == []
    assert after.status == "running" and [t.element_id for t in after.open_tasks] == ["work"]
    assert not any(e.kind == "error" for e in after.history)


def test_a_late_worker_runs_the_missed_cycles_in_one_step(runtime, clock):
    """Every missed cycle runs, each at its own time, in the worker's one step on the case; the
    history notes the timer row that fell due (the later cycles had no row yet)."""
    runtime.deploy(fixture_files("cycle_flow.bpmn"))
    case = runtime.start_case("cycle_flow", {"reminders": 0}, prevalidated=True)
    clock.set(clock.now() + timedelta(hours=5))  # the worker was down for five hours
    assert fire_due_timers(runtime).fired == 3  # the three cycles ran
    after = runtime.get_case(case.number)
    assert after.timers == [] and fired(runtime, case.number) == 1
    assert [t.element_id for t in after.open_tasks] == ["work"]
