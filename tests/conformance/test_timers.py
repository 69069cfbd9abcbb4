"""Timers as other modelers write them: bare ISO text (checked in test_camunda), a date or a
duration held in a case variable, and a cycle beside a later boundary timer."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from engine.worker.timers import fire_due_timers

pytestmark = pytest.mark.usefixtures("users")

DIAGRAM = Path(__file__).parent / "diagrams" / "timer_from_variable.bpmn"


def fired(runtime, number):
    return sum(1 for e in runtime.get_case(number).history if e.kind == "timer_fired")


@pytest.mark.parametrize("kind", ["text", "date-time", "date"])
def test_a_timer_reads_its_date_and_duration_from_case_variables(runtime, clock, kind):
    runtime.deploy([DIAGRAM])
    start = clock.now()
    visit = start + timedelta(days=2)
    value = {
        "text": visit.isoformat(),
        "date-time": visit,
        "date": date(2026, 11, 25),  # midnight in the company's zone: 24 Nov 16:00 UTC
    }[kind]
    due = visit if kind != "date" else datetime.fromisoformat("2026-11-24T16:00:00+00:00")
    case = runtime.start_case(
        "timer_vars", {"visit_at": value, "pause_for": "PT2H", "reminders": 0}, prevalidated=True
    )
    (timer,) = runtime.get_case(case.number).timers
    assert timer.due_at == due
    clock.set(due)
    fire_due_timers(runtime)
    (timer,) = runtime.get_case(case.number).timers
    assert timer.due_at == due + timedelta(hours=2)


def test_a_cycle_fires_three_times_and_a_later_boundary_timer_still_fires(runtime, clock):
    runtime.deploy([DIAGRAM])
    t0 = clock.now()
    case = runtime.start_case(
        "timer_vars",
        {"visit_at": t0.isoformat(), "pause_for": "PT0S", "reminders": 0},
        prevalidated=True,
    )
    fire_due_timers(runtime)
    assert [t.element_id for t in runtime.get_case(case.number).open_tasks] == ["work"]
    base = clock.now()
    for hour in (1, 2, 3, 4):
        clock.set(base + timedelta(hours=hour))
        fire_due_timers(runtime)
    view = runtime.get_case(case.number)
    assert [t.element_id for t in view.open_tasks] == ["work"]
    assert sum(1 for e in view.history if e.kind == "timer_fired" and e.element_id == "hourly") == 3
    clock.set(base + timedelta(days=1))
    fire_due_timers(runtime)
    view = runtime.get_case(case.number)
    assert [t.element_id for t in view.open_tasks] == ["escalate"]
    assert view.status == "running"


@pytest.mark.parametrize("value", ["next tuesday", 42, "P3D"])
def test_a_variable_that_is_not_a_date_puts_the_case_in_error_naming_the_timer(runtime, value):
    runtime.deploy([DIAGRAM])
    case = runtime.start_case(
        "timer_vars", {"visit_at": value, "pause_for": "PT1H", "reminders": 0}, prevalidated=True
    )
    assert case.status == "error" and case.error_element == "until_visit"
    assert "visit_at" in case.error_message and "not an ISO 8601 date" in case.error_message
