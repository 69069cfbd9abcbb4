"""A process that only other processes call (property startable="false") cannot be started on
its own; the processes that call it still do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import DefinitionError, SourceFile
from engine.errors import InvalidState

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
