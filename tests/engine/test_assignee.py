"""A user task may name its person (assigneeExpression): the task opens claimed by that user
when they are active and hold the task's role, else it stays open to the role and the case's
history says why."""

from __future__ import annotations

import pytest

from engine.core.errors import Conflict
from engine.definitions.sources import DefinitionError, SourceFile


def _flow(expression: str) -> SourceFile:
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs_handover" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="handover" name="交接" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="receive" name="受理"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="review" name="覆核">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="assigneeExpression" value="{expression}"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="receive" />
    <bpmn:sequenceFlow id="f2" sourceRef="receive" targetRef="review" />
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""
    return SourceFile("handover.bpmn", text.encode())


OK = {"confirmed": True}


def test_the_receiving_agent_gets_the_review(runtime, users):
    runtime.deploy([_flow("completed_by(&quot;receive&quot;)")])
    case = runtime.start_case("handover", {})
    case = runtime.complete_task(case.open_tasks[0].id, OK, "carol")
    (review,) = case.open_tasks
    assert (review.status, review.assignee) == ("claimed", "carol")
    assert review.id in [t.id for t in runtime.inbox("carol")]
    assert review.id not in [t.id for t in runtime.inbox("alice")]  # same role, not theirs
    with pytest.raises(Conflict, match="claimed by carol"):
        runtime.complete_task(review.id, OK, "alice")
    assert runtime.complete_task(review.id, OK, "carol").status == "completed"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("&quot;bob&quot;", "does not hold the role"),  # bob is senior_service only
        ("&quot;nobody&quot;", "is not an active user"),
        ("None", "gave no one"),
        ("missing_name", "failed"),
    ],
)
def test_no_suitable_person_leaves_the_task_to_the_role(runtime, users, expression, reason):
    runtime.deploy([_flow(expression)])
    case = runtime.start_case("handover", {})
    case = runtime.complete_task(case.open_tasks[0].id, OK, "carol")
    (review,) = case.open_tasks
    assert (review.status, review.assignee) == ("open", None)
    refused = [e for e in case.history if e.kind == "task_not_assigned"]
    assert len(refused) == 1 and reason in refused[0].detail["reason"]
    assert case.status == "running"


def test_an_unsafe_assignee_expression_is_refused_at_deploy(runtime):
    with pytest.raises(DefinitionError, match="assigneeExpression"):
        runtime.deploy([_flow("__import__(&quot;os&quot;)")])
