"""A process that only other processes call (property startable="false") cannot be started on
its own; the processes that call it still do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import InvalidState
from engine.definitions.sources import DefinitionError, SourceFile

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def _flow(startable: str) -> SourceFile:
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs_shared" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="shared_step" name="共用步驟" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="startable" value="{startable}"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""
    return SourceFile("shared_step.bpmn", text.encode())


def test_a_called_only_process_is_refused_with_the_reason(runtime):
    runtime.deploy([_flow("false")])
    with pytest.raises(InvalidState, match="only called from other processes"):
        runtime.start_case("shared_step", {})
    runtime.deploy([_flow("true")])  # a new version that may be started
    assert runtime.start_case("shared_step", {}).status == "completed"


def test_a_bad_value_is_refused_at_deploy(runtime):
    with pytest.raises(DefinitionError, match="startable must be true or false"):
        runtime.deploy([_flow("sometimes")])


def test_the_shared_caregiver_steps_are_called_not_started(runtime, users):
    runtime.deploy(
        [PROCESSES / f"{k}.bpmn" for k in ("caregiver_matching", "caregiver_service")]
        + sorted((PROCESSES.parent / "forms").glob("caregiver_*.json"))
    )
    for key in ("caregiver_matching", "caregiver_service"):
        with pytest.raises(InvalidState, match=key):
            runtime.start_case(key, {})


CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs_caller" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="caller" name="主流程" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call_fee" name="計費" calledElement="fee_step">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call_fee" />
    <bpmn:sequenceFlow id="f2" sourceRef="call_fee" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""

CALLED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs_fee" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="fee_step" name="計費步驟" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="startable" value="false"/>
      <spiffworkflow:property name="default:fee_rate" value="0.1"/>
      <spiffworkflow:property name="default:currency" value="&quot;CNY&quot;"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:startEvent id="s"><bpmn:outgoing>g1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute" name="計算">
      <bpmn:incoming>g1</bpmn:incoming><bpmn:outgoing>g2</bpmn:outgoing>
      <bpmn:script>fee = amount * fee_rate</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="e"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="g1" sourceRef="s" targetRef="compute" />
    <bpmn:sequenceFlow id="g2" sourceRef="compute" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_called_process_applies_its_own_defaults(runtime, fresh_runtime):
    """What the caller gives wins; what it does not give comes from the called process's own
    defaults (as when it is started alone), also after a restart (a new runtime)."""
    runtime.deploy(
        [SourceFile("caller.bpmn", CALLER.encode()), SourceFile("fee_step.bpmn", CALLED.encode())]
    )
    plain = fresh_runtime().start_case("caller", {"amount": 200}, prevalidated=True)
    assert plain.status == "completed", plain.error_message
    assert (plain.data["fee"], plain.data["currency"]) == (20.0, "CNY")
    given = fresh_runtime().start_case(
        "caller", {"amount": 200, "fee_rate": 0.5}, prevalidated=True
    )
    assert given.data["fee"] == 100.0 and given.data["fee_rate"] == 0.5
