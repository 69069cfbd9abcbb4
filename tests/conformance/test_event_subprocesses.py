"""Event sub-processes started by a signal or a message keep working when the next step runs in
another process (a second web process, the CLI, the worker): each step below uses a new runtime,
so no spec object survives from the step that started the sub-process."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("users")

DIAGRAMS = Path(__file__).parent / "diagrams"
OK = {"confirmed": True}


def open_ids(view) -> list[str]:
    return sorted(t.element_id for t in view.open_tasks)


def task_id(view, element: str) -> int:
    return next(t.id for t in view.open_tasks if t.element_id == element)


def test_a_signal_event_subprocess_completes_after_a_reload(fresh_runtime):
    fresh_runtime().deploy([DIAGRAMS / "event_subprocesses.bpmn"])
    case = fresh_runtime().start_case("event_subs", {"urgent": True}, prevalidated=True)
    view = fresh_runtime().complete_task(task_id(case, "first"), OK, "alice")
    assert open_ids(view) == ["escalated_review", "wait"]
    view = fresh_runtime().complete_task(task_id(view, "escalated_review"), OK, "alice")
    assert view.status == "running" and open_ids(view) == ["wait"], (
        view.error_message,
        view.history[-1],
    )
    view = fresh_runtime().complete_task(task_id(view, "wait"), OK, "alice")
    assert view.status == "completed", (open_ids(view), view.history[-3:])
    assert {"escalated_review", "escalation_end", "end"} <= set(view.completed_elements)
    assert not any(e.kind == "error" for e in view.history)


def test_a_message_event_subprocess_completes_after_a_reload(fresh_runtime):
    fresh_runtime().deploy([DIAGRAMS / "event_subprocesses.bpmn"])
    case = fresh_runtime().start_case("event_subs", {"urgent": False}, prevalidated=True)
    assert "complaint" in case.waiting_messages
    view = fresh_runtime().send_message(case.number, "complaint", {"note": "遲到"})
    assert open_ids(view) == ["first", "handle_complaint"]
    view = fresh_runtime().complete_task(task_id(view, "handle_complaint"), OK, "alice")
    assert view.status == "running" and open_ids(view) == ["first"]
    view = fresh_runtime().complete_task(task_id(view, "first"), OK, "alice")
    view = fresh_runtime().complete_task(task_id(view, "wait"), OK, "alice")
    assert view.status == "completed", (open_ids(view), view.history[-3:])
    assert {"handle_complaint", "complaint_end", "end"} <= set(view.completed_elements)


def test_a_second_case_is_not_touched_by_the_first_ones_sub_process(runtime):
    """One runtime, two cases: the first case's signal must not start the sub-process of a case
    that never raised it (SpiffWorkflow connected the sub-process into the shared spec)."""
    runtime.deploy([DIAGRAMS / "event_subprocesses.bpmn"])
    one = runtime.start_case("event_subs", {"urgent": True}, prevalidated=True)
    runtime.complete_task(task_id(one, "first"), OK, "alice")
    two = runtime.start_case("event_subs", {"urgent": False}, prevalidated=True)
    assert open_ids(two) == ["first"]
    view = runtime.complete_task(task_id(two, "first"), OK, "alice")
    assert open_ids(view) == ["wait"]
    view = runtime.complete_task(task_id(view, "wait"), OK, "alice")
    assert view.status == "completed", (open_ids(view), view.history[-3:])
