"""Small processes for the staff desk tests: a start form with the customer's name and phone
(review_start.json), one user task in one lane (review_form.json, or another form), under any process key (so a
test can stand for a customer-facing process such as repair_dispatch)."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from engine.definitions.sources import SourceFile
from tests.conftest import fixture_files


def desk_process(
    key: str,
    name: str,
    lane: str,
    *,
    prefix: str = "DK",
    start_form: bool = True,
    startable: bool = True,
    task: str = "上門服務",
    form: str = "review_form.json",
) -> SourceFile:
    props = [("casePrefix", prefix)]
    if start_form:
        props.append(("startForm", "review_start.json"))
    if not startable:
        props.append(("startable", "false"))
    properties = "".join(
        f"<spiffworkflow:property name={quoteattr(n)} value={quoteattr(v)} />" for n, v in props
    )
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs_{key}" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="{key}" name={quoteattr(name)} isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>{properties}</spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="lanes_{key}">
      <bpmn:lane id="lane_{key}" name={quoteattr(lane)}>
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>work</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name={quoteattr(task)}>
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value={quoteattr(form)} />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
    return SourceFile(f"{key}.bpmn", xml.encode())


def deploy_desk(runtime, *processes: SourceFile) -> None:
    """review_flow (service desk, then senior service) and the given processes, with forms."""
    runtime.deploy(
        [*fixture_files("review_flow.bpmn", "review_form.json", "review_start.json"), *processes]
    )
