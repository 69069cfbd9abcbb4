"""Three levels of nested parallel gateways, each leaf a user task, run for three rounds: the
case's history passes 200 tasks, so SpiffWorkflow's tree is compacted between steps while
joins wait. Every join must still see the branches that arrived before compaction."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("users")

DIAGRAMS = Path(__file__).parent / "diagrams"
OK = {"confirmed": True}
LEAVES = 12


@pytest.mark.parametrize("order", ["first", "last", "spread"])
def test_nested_parallel_joins_complete_after_compaction(runtime, order):
    runtime.deploy([DIAGRAMS / "nested_parallel.bpmn"])
    view = runtime.start_case("nested_parallel", {"rounds": 3}, prevalidated=True)
    completed = 0
    while view.open_tasks:
        assert view.status == "running", view.error_message
        tasks = sorted(view.open_tasks, key=lambda t: t.element_id)
        pick = {"first": 0, "last": -1, "spread": (completed * 5) % len(tasks)}[order]
        view = runtime.complete_task(tasks[pick].id, OK, "alice")
        completed += 1
        assert completed <= 3 * LEAVES, "more user tasks than the diagram has"
    assert view.status == "completed", (view.status, view.error_message)
    assert completed == 3 * LEAVES and view.data["round"] == 3
    done = [e for e in runtime.get_case(view.number).history if e.kind == "task_completed"]
    assert len(done) == 3 * LEAVES
