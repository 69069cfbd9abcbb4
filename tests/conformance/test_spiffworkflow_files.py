"""SpiffWorkflow's own test diagrams (copied with their license in diagrams/spiffworkflow) deploy
and run in Caseflow as they do on SpiffWorkflow, or are refused with the message a process owner
needs. Each case names the outcome: completed (with elements that must have run), waiting (on
these messages and timers), or refused (with words of the message).

User tasks without a form show the confirmation form and are completed with {"confirmed": True}.
None of these diagrams has lanes: their tasks fall to the default role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.definitions.sources import DefinitionError

pytestmark = pytest.mark.usefixtures("users")

DIAGRAMS = Path(__file__).parent / "diagrams" / "spiffworkflow"
OK = {"confirmed": True}


@dataclass(frozen=True)
class Case:
    files: tuple[str, ...]
    process: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    completed: frozenset[str] = frozenset()  # elements that ran; the case completes
    waits: frozenset[str] = frozenset()  # messages and timers it waits on
    refused: str = ""  # words of the deploy refusal
    result: dict[str, Any] = field(default_factory=dict)  # values in the case data at the end


CASES = {
    "parallel gateway": Case(
        ("ParallelOrder.bpmn",),
        "ParallelOrder",
        completed=frozenset(
            {"Gateway_1n38bj5", "Gateway_1ocoth5", "Activity_0wjwnuk", "Activity_1spu8el"}
        ),
    ),
    "signal boundary event and exclusive gateway": Case(
        ("boundary_event_split.bpmn",),
        "Process_0ymnx41",
        completed=frozenset({"gw_1", "task_2"}),
    ),
    "timer boundary event on a user task": Case(
        ("boundary_timer_on_task.bpmn",),
        "test_timer",
        completed=frozenset({"user_task", "final_end_event"}),
        result={"timer_called": False},
    ),
    "call activity": Case(
        ("call_activity_end_event.bpmn", "call_activity_call_activity.bpmn"),
        "Process_8200379",
        completed=frozenset({"Activity_Call_Activity", "Sub_Bpmn_Task", "End_Called_Activity"}),
        result={"pre_var": "some string", "my_var": "World", "my_other_var": "Mike"},
    ),
    "signal event sub-process": Case(
        ("event-subprocess.bpmn",),
        "main",
        completed=frozenset({"task", "sub", "set_data"}),
    ),
    "escalation nobody catches": Case(
        ("uncaught_escalation.bpmn",),
        "top_level",
        completed=frozenset({"subprocess"}),
    ),
    "error end event caught by a boundary event, with payload": Case(
        ("error_event_payload.bpmn",),
        "event_test",
        data={"error": True, "payload": "late"},
        completed=frozenset({"throw", "catch", "Activity_1qrttpi"}),
        result={"result": "late"},
    ),
    "business rule task (DMN)": Case(
        ("business_rule_task.bpmn", "business_rules.dmn"),
        "Process_bd2e724",
        completed=frozenset({"Activity_0diq2z1", "Activity_10k4dgb"}),
        result={"question": "X", "answer": "Y"},
    ),
    "data objects, multi-instance and sub-process": Case(
        ("performance_test.bpmn",),
        "Process_3no3Cw9",
        completed=frozenset({"Activity_06pqwzi", "Activity_1vbjo1h"}),
    ),
    "intermediate timer": Case(("timer.bpmn",), "timer", waits=frozenset({"Event_0bxivgz"})),
    "event-based gateway: two messages and a timer": Case(
        ("event-gateway.bpmn",),
        "Process_0pvx19v",
        waits=frozenset({"message_1", "message_2", "timer_event"}),
    ),
    "message with correlation between two pools": Case(
        ("correlation.bpmn",),
        "proc_1",
        data={"task_num": 1, "task_name": "first"},
        waits=frozenset({"proc_2_response"}),
    ),
    "import in a script": Case(
        ("correlation_two_conversations.bpmn",), refused="import is not allowed"
    ),
    "locals() in a script": Case(
        ("script_task_with_unit_tests.bpmn",), refused="locals() is not allowed"
    ),
    "data store without an implementation": Case(
        ("data_store.bpmn",), refused="Data Store with name TestDataStore has no implementation"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_spiffworkflow_diagram(runtime, case: Case):
    paths = [DIAGRAMS / name for name in case.files]
    if case.refused:
        with pytest.raises(DefinitionError) as refused:
            runtime.deploy(paths)
        assert case.refused in str(refused.value)
        return
    runtime.deploy(paths)
    view = runtime.start_case(case.process, case.data, prevalidated=True)
    for _ in range(20):
        if view.status != "running" or not view.open_tasks:
            break
        task = view.open_tasks[0]
        assert set(runtime.get_task(task.id).form["properties"]) == {"confirmed", "comment"}
        view = runtime.complete_task(task.id, OK, "alice")
    assert view.error_message is None, (view.error_element, view.error_message)
    if case.waits:
        assert view.status == "running" and not view.open_tasks
        assert set(view.waiting_messages) | {t.element_id for t in view.timers} == case.waits
    else:
        assert view.status == "completed", (
            [t.element_id for t in view.open_tasks],
            view.history[-3:],
        )
        assert case.completed <= set(view.completed_elements)
    for key, value in case.result.items():
        assert view.data.get(key) == value, key


def test_every_copied_diagram_is_tested():
    tested = {name for case in CASES.values() for name in case.files}
    copied = {p.name for p in DIAGRAMS.iterdir() if p.suffix in {".bpmn", ".dmn"}}
    assert copied == tested
