"""Message templates belong to a process version: a running case keeps its version's wording,
a new version (deployed with the template, or the template alone) changes it for new cases,
and a template a script names that exists nowhere, or does not parse, is refused at deploy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.definitions.sources import DefinitionError, SourceFile
from engine.store.tables import Outbox

# start → wait (a user task) → send a reminder → end: the message goes out after the wait.
FLOW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs_worded" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="worded_flow" name="提醒" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="wait" name="等待"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="send" name="發送提醒">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>notify("sms", "13800138000", "TEMPLATE", {"customer_name": "王小明"})</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="send" />
    <bpmn:sequenceFlow id="f3" sourceRef="send" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def flow(template: str = "worded_flow.reminder") -> SourceFile:
    return SourceFile("worded_flow.bpmn", FLOW.replace("TEMPLATE", template).encode())


def wording(text: str) -> SourceFile:
    return SourceFile("worded_flow.reminder.txt", text.encode())


def finish_wait(runtime, number: str) -> str:
    (task,) = runtime.get_case(number).open_tasks
    runtime.complete_task(task.id, {"confirmed": True}, "alice")
    return runtime.get_case(number).status


def bodies(db) -> list[str]:
    with db.read() as session:
        return [r.body for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def test_a_running_case_keeps_its_versions_wording(runtime, db, users):
    first = runtime.deploy([flow(), wording("{{ customer_name }} 您好，明天見。")])
    assert [(r.kind, r.key, r.version) for r in first] == [("process", "worded_flow", 1)]
    old_case = runtime.start_case("worded_flow", {}).number
    changed = runtime.deploy([wording("{{ customer_name }} 您好，請提前十分鐘到店。")])
    assert [(r.key, r.version, r.forms_changed) for r in changed if r.kind == "process"] == [
        ("worded_flow", 2, ("worded_flow.reminder.txt",))
    ]
    new_case = runtime.start_case("worded_flow", {}).number
    assert finish_wait(runtime, old_case) == "completed"
    assert finish_wait(runtime, new_case) == "completed"
    assert bodies(db) == ["王小明 您好，明天見。\n", "王小明 您好，請提前十分鐘到店。\n"]


def test_the_same_wording_again_makes_no_new_version(runtime, users):
    runtime.deploy([flow(), wording("{{ customer_name }} 您好。")])
    again = runtime.deploy([wording("{{ customer_name }} 您好。")])
    assert [r for r in again if r.kind == "process"] == []


def test_a_template_that_exists_nowhere_is_refused(runtime):
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy([flow("worded_flow.never_written")])
    (problem,) = refused.value.problems
    assert problem.element_id == "worded_flow"
    assert "'worded_flow.never_written'" in problem.message and "deploy" in problem.message


def test_a_template_that_does_not_parse_is_refused_and_nothing_deploys(runtime, db):
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy([flow(), wording("{{ customer_name 您好")])
    (problem,) = refused.value.problems
    assert problem.file == "worded_flow.reminder.txt"
    assert "not a valid message template" in problem.message
    from engine.store.tables import ProcessVersion

    with db.read() as session:
        assert session.scalars(select(ProcessVersion)).all() == []


def test_a_shipped_template_is_stored_with_the_version_that_sends_it(runtime, db, users):
    """notify_flow names test_reminder without deploying it: the version keeps the text it
    found in the notifications folder at deploy time."""
    from engine.store.tables import ProcessVersion
    from tests.conftest import fixture_files

    runtime.deploy(fixture_files("notify_flow.bpmn"))
    with db.read() as session:
        (sources,) = session.scalars(select(ProcessVersion.sources)).all()
    (kept,) = [s for s in sources if s["kind"] == "template"]
    assert kept["filename"] == "test_reminder.txt" and "{{ customer_name }}" in kept["text"]
