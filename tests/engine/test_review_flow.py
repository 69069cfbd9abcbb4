"""The acceptance diagram: user task in lane A → gateway → user task in lane B with an
interrupting boundary timer of 2 working days → intermediate timer P3D → end.

Every step uses a new Runtime (no objects carried over), so each step also proves that the case
was saved and loads again.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.core.errors import Conflict, Forbidden, ValidationFailed
from engine.worker.timers import fire_due_timers
from tests.conftest import fixture_files


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def deployed(runtime, users):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"), actor="owner")
    return runtime


def open_task(rt, number, element_id):
    tasks = [t for t in rt.get_case(number).open_tasks if t.element_id == element_id]
    assert len(tasks) == 1, rt.get_case(number).open_tasks
    return tasks[0]


def test_rejected_branch_ends_at_once(deployed, fresh_runtime, clock):
    case = fresh_runtime().start_case("review_flow", {"customer_name": "王小明"}, actor="alice")
    assert case.number.startswith("RV-20261123-")
    assert case.status == "running"
    task_a = open_task(fresh_runtime(), case.number, "task_a")
    assert (task_a.role, task_a.status, task_a.name) == ("service_desk", "open", "受理審核")

    clock.set("2026-11-23T02:00:00+00:00")
    done = fresh_runtime().complete_task(task_a.id, {"approve": False, "note": "資料不全"}, "alice")

    assert done.status == "completed"
    assert done.open_tasks == [] and done.timers == []
    assert "end_rejected" not in done.active_elements
    kinds = [e.kind for e in done.history]
    assert kinds[:2] == ["case_started", "task_opened"]
    assert "task_completed" in kinds and kinds[-1] == "case_completed"


def test_approved_and_done_in_time_waits_three_days(deployed, fresh_runtime, clock):
    number = fresh_runtime().start_case("review_flow", {"customer_name": "陳大文"}).number
    task_a = open_task(fresh_runtime(), number, "task_a")
    clock.set("2026-11-23T02:00:00+00:00")  # Monday 10:00 in Shanghai
    fresh_runtime().complete_task(task_a.id, {"approve": True}, "alice")

    task_b = open_task(fresh_runtime(), number, "task_b")
    assert task_b.role == "senior_service"
    # Two working days after Monday 10:00 is Wednesday 10:00 (02:00 UTC).
    assert task_b.due_at == utc("2026-11-25T02:00:00+00:00")
    assert [t.element_id for t in fresh_runtime().get_case(number).timers] == ["deadline"]

    clock.set("2026-11-24T03:00:00+00:00")  # Tuesday, in time
    case = fresh_runtime().complete_task(task_b.id, {"confirmed": True}, "bob")
    assert case.status == "running"
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("wait_3_days", utc("2026-11-27T03:00:00+00:00"))
    ]

    clock.set("2026-11-27T02:59:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 0
    assert fresh_runtime().get_case(number).status == "running"

    clock.set("2026-11-27T03:00:00+00:00")
    report = fire_due_timers(fresh_runtime())
    assert report.fired == 1
    case = fresh_runtime().get_case(number)
    assert case.status == "completed"
    assert "timer_fired" in [e.kind for e in case.history]


def test_deadline_escalates_and_a_late_worker_does_not_shift_the_next_timer(
    deployed, fresh_runtime, clock
):
    number = fresh_runtime().start_case("review_flow").number
    clock.set("2026-11-23T02:00:00+00:00")
    fresh_runtime().complete_task(
        open_task(fresh_runtime(), number, "task_a").id, {"approve": True}, "alice"
    )
    task_b = open_task(fresh_runtime(), number, "task_b")

    # The worker runs six hours after the deadline (Wednesday 16:00 in Shanghai).
    clock.set("2026-11-25T08:00:00+00:00")
    report = fire_due_timers(fresh_runtime())
    assert report.fired == 1

    case = fresh_runtime().get_case(number)
    assert case.open_tasks == []  # task B was interrupted by its deadline
    assert case.data["escalated"] is True
    # P3D counts from the deadline (Wednesday 02:00 UTC), not from when the worker got to it.
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("wait_3_days", utc("2026-11-28T02:00:00+00:00"))
    ]
    with pytest.raises(Conflict, match="cancelled"):
        fresh_runtime().complete_task(task_b.id, {"confirmed": True}, "bob")

    clock.set("2026-11-28T02:00:00.500000+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    assert fresh_runtime().get_case(number).status == "completed"


def test_overdue_deadline_fires_before_a_late_completion(deployed, fresh_runtime, clock):
    """A completion after the deadline loses to the deadline even if the worker has not run."""
    number = fresh_runtime().start_case("review_flow").number
    clock.set("2026-11-23T02:00:00+00:00")
    fresh_runtime().complete_task(
        open_task(fresh_runtime(), number, "task_a").id, {"approve": True}, "alice"
    )
    task_b = open_task(fresh_runtime(), number, "task_b")
    clock.set("2026-11-26T01:00:00+00:00")
    with pytest.raises(Conflict):
        fresh_runtime().complete_task(task_b.id, {"confirmed": True}, "bob")
    # Nothing was saved by the refused completion: the worker still fires the deadline.
    assert fire_due_timers(fresh_runtime()).fired == 1
    assert fresh_runtime().get_case(number).data["escalated"] is True


def test_bad_form_data_changes_nothing(deployed, fresh_runtime):
    number = fresh_runtime().start_case("review_flow").number
    task_a = open_task(fresh_runtime(), number, "task_a")
    before = fresh_runtime().get_case(number)
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(task_a.id, {"approve": "maybe", "note": "x" * 501}, "alice")
    assert set(failure.value.errors) == {"approve", "note"}
    after = fresh_runtime().get_case(number)
    assert after.history == before.history
    assert open_task(fresh_runtime(), number, "task_a").status == "open"


def test_only_holders_of_the_role_may_work_a_task(deployed, fresh_runtime):
    number = fresh_runtime().start_case("review_flow").number
    task_a = open_task(fresh_runtime(), number, "task_a")
    with pytest.raises(Forbidden, match="service_desk"):
        fresh_runtime().complete_task(task_a.id, {"approve": True}, "bob")
    with pytest.raises(Forbidden):
        fresh_runtime().claim(task_a.id, "bob")
    assert open_task(fresh_runtime(), number, "task_a").status == "open"


def test_claim_unclaim_and_someone_elses_claim(deployed, fresh_runtime):
    number = fresh_runtime().start_case("review_flow").number
    task_a = open_task(fresh_runtime(), number, "task_a")
    claimed = fresh_runtime().claim(task_a.id, "alice")
    assert (claimed.status, claimed.assignee) == ("claimed", "alice")
    assert [t.id for t in fresh_runtime().inbox("carol")] == []
    assert [t.id for t in fresh_runtime().inbox("alice")] == [task_a.id]
    with pytest.raises(Conflict, match="claimed by alice"):
        fresh_runtime().complete_task(task_a.id, {"approve": True}, "carol")
    with pytest.raises(Conflict, match="claimed by alice"):
        fresh_runtime().claim(task_a.id, "carol")
    fresh_runtime().unclaim(task_a.id, "alice")
    assert [t.id for t in fresh_runtime().inbox("carol")] == [task_a.id]
    fresh_runtime().complete_task(task_a.id, {"approve": False}, "carol")
    with pytest.raises(Conflict, match="already completed by carol"):
        fresh_runtime().complete_task(task_a.id, {"approve": False}, "alice")


def test_list_tasks_filters(deployed, fresh_runtime):
    rt = fresh_runtime()
    first = rt.start_case("review_flow").number
    second = rt.start_case("review_flow").number
    assert {t.case_number for t in rt.list_tasks(role="service_desk")} == {first, second}
    assert [t.case_number for t in rt.list_tasks(case=second)] == [second]
    assert rt.list_tasks(role="senior_service") == []
    assert rt.list_tasks(status="done") == []
    with pytest.raises(ValidationFailed):
        rt.list_tasks(status="finished")


def test_supervisor_reassigns_a_task(deployed, fresh_runtime):
    number = fresh_runtime().start_case("review_flow").number
    task_a = open_task(fresh_runtime(), number, "task_a")
    with pytest.raises(Forbidden, match="supervisor"):
        fresh_runtime().reassign(task_a.id, "carol", actor="alice")
    with pytest.raises(Forbidden, match="bob does not hold"):
        fresh_runtime().reassign(task_a.id, "bob", actor="sue")
    moved = fresh_runtime().reassign(task_a.id, "carol", actor="sue")
    assert (moved.status, moved.assignee) == ("claimed", "carol")
    assert [t.id for t in fresh_runtime().inbox("carol")] == [task_a.id]
    assert "task_reassigned" in [e.kind for e in fresh_runtime().get_case(number).history]
