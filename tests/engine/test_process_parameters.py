"""Process parameters (a default with its unit and description) and the field each deploy problem
belongs to, which the modeler shows the message on."""

from __future__ import annotations

import pytest
from lxml import etree

from engine.definitions.parameters import process_parameters
from engine.definitions.sources import DefinitionError, Problem, SourceFile
from engine.runtime.versions import check_diagram


def _flow(properties: str, middle: str = "") -> SourceFile:
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs_reminder" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="reminder" name="提醒" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      {properties}
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {middle or '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />'}
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"""
    return SourceFile("reminder.bpmn", text.encode())


def _problems(runtime, source: SourceFile) -> list[Problem]:
    return check_diagram(runtime, source.filename, source.data.decode())


HOURS = (
    '<spiffworkflow:property name="default:reminder_hours" value="24"/>'
    '<spiffworkflow:property name="parameter:reminder_hours"'
    ' value="{&quot;unit&quot;: &quot;小時&quot;, &quot;description&quot;:'
    ' &quot;預約前多久提醒&quot;}"/>'
)


def test_a_parameter_with_unit_and_description_deploys_and_reads_as_a_table(runtime):
    source = _flow(HOURS + '<spiffworkflow:property name="default:fee" value="100"/>')
    assert _problems(runtime, source) == []
    runtime.deploy([source])
    assert runtime.start_case("reminder").status == "completed"
    root = etree.fromstring(source.data)
    assert process_parameters(root, "reminder") == [
        {"name": "reminder_hours", "value": 24, "unit": "小時", "description": "預約前多久提醒"},
        {"name": "fee", "value": 100, "unit": "", "description": ""},
    ]


@pytest.mark.parametrize(
    ("about", "message"),
    [
        ("not json", "is not a JSON object"),
        ("[1, 2]", "is not a JSON object"),
        ('{"unit": "小時", "min": 1}', "unknown key(s) 'min'"),
        ('{"unit": 24}', "'unit' must be a text"),
    ],
)
def test_a_parameter_that_is_not_unit_and_description_is_refused(runtime, about, message):
    value = about.replace('"', "&quot;")
    source = _flow(
        '<spiffworkflow:property name="default:reminder_hours" value="24"/>'
        f'<spiffworkflow:property name="parameter:reminder_hours" value="{value}"/>'
    )
    problems = _problems(runtime, source)
    assert [(p.element_id, p.field) for p in problems] == [("reminder", "parameter:reminder_hours")]
    assert message in problems[0].message
    with pytest.raises(DefinitionError):
        runtime.deploy([source])


def test_a_parameter_without_a_default_is_refused_with_a_clear_message(runtime):
    source = _flow(
        '<spiffworkflow:property name="parameter:reminder_hours" value="{&quot;unit&quot;:'
        ' &quot;小時&quot;}"/>'
    )
    [problem] = _problems(runtime, source)
    assert problem.field == "parameter:reminder_hours"
    assert "has a unit or description but no value: add default:reminder_hours" in (problem.message)


def test_a_default_that_is_not_json_names_its_field(runtime):
    [problem] = _problems(
        runtime, _flow('<spiffworkflow:property name="default:reminder_hours" value="24h"/>')
    )
    assert (problem.element_id, problem.field) == ("reminder", "default:reminder_hours")
    assert problem.to_dict()["field"] == "default:reminder_hours"


FIELDS_IN_THE_DIAGRAM = """
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" default="f_no" />
    <bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="wait">
      <bpmn:conditionExpression>approved = = True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="calc" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"3 days"</bpmn:timeDuration>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="calc">
      <bpmn:extensionElements>
        <spiffworkflow:postScript>__import__('os')</spiffworkflow:postScript>
      </bpmn:extensionElements>
      <bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />
    <bpmn:sequenceFlow id="f3" sourceRef="calc" targetRef="done" />
    <bpmn:endEvent id="done">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="outcome" value="finished"/>
      </spiffworkflow:properties></bpmn:extensionElements></bpmn:endEvent>
"""


def test_problems_name_the_field_they_are_in(runtime):
    found = {(p.element_id, p.field) for p in _problems(runtime, _flow("", FIELDS_IN_THE_DIAGRAM))}
    assert found == {
        ("f_yes", "conditionExpression"),
        ("wait", "timeDuration"),
        ("calc", "postScript"),
        ("done", "outcome"),
    }


def test_process_property_problems_name_the_property(runtime):
    source = _flow(
        '<spiffworkflow:property name="startRoles" value="nobody"/>'
        '<spiffworkflow:property name="categoryField" value="no_such_field"/>'
    )
    found = {(p.element_id, p.field) for p in _problems(runtime, source)}
    assert found == {("reminder", "startRoles"), ("reminder", "categoryField")}


def test_problems_without_a_field_stay_as_they_were():
    problem = Problem("a.bpmn", "task", "wrong")
    assert problem.field is None
    assert problem.to_dict() == {"file": "a.bpmn", "element_id": "task", "message": "wrong"}
