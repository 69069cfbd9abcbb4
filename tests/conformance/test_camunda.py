"""Diagrams drawn for Camunda (7: `camunda:`, 8: `zeebe:`): what Caseflow honours runs as Camunda
would run it, and what it cannot honour is refused at deploy with a message on the element."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.definitions.sources import DefinitionError, SourceFile
from engine.identity.users import add_user
from engine.worker.timers import fire_due_timers

pytestmark = pytest.mark.usefixtures("users")

CAMUNDA = Path(__file__).parent / "diagrams" / "camunda"
EXPENSE = [
    CAMUNDA / n for n in ("expense_claim.bpmn", "approval_level.dmn", "expense_payment.json")
]


@pytest.fixture
def fiona(db, settings, clock):
    add_user(db, settings, "fiona", ["finance"], clock.now())


def only(view, element):
    (task,) = [t for t in view.open_tasks if t.element_id == element]
    return task


def test_camunda7_extensions_are_honoured(runtime, clock, fiona):
    runtime.deploy(EXPENSE)
    case = runtime.start_case(
        "expense_claim",
        {"claimant": "王小明", "amount": 1500, "category": "travel", "cashier": "fiona"},
    )
    assert case.data["level"] == "supervisor"  # decisionRef + resultVariable (singleEntry)
    review = only(case, "review")
    assert review.role == "supervisor"  # candidateGroups="Supervisor", any case
    assert case.data["review_hint"] == "請核對金額與發票"  # inputParameter
    view = runtime.complete_task(review.id, {"approved": True, "review_comment": "好"}, "sue")
    assert view.data["reviewed"] is True  # outputParameter ${approved}
    pay = only(view, "pay")
    # assignee="${cashier}": assigned as assigneeExpression would.
    assert (pay.role, pay.assignee, pay.status) == ("finance", "fiona", "claimed"), (
        view.data,
        [e.detail for e in view.history if e.kind == "task_not_assigned"],
    )
    done = runtime.complete_task(pay.id, {"paid_amount": 1500}, "fiona")
    assert done.status == "completed" and "paid" in done.completed_elements


def test_the_start_form_comes_from_formdata(runtime):
    runtime.deploy(EXPENSE)
    from engine.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        runtime.start_case("expense_claim", {"claimant": "王小明", "amount": 0})
    assert "amount" in refused.value.errors
    with pytest.raises(ValidationFailed):
        runtime.start_case("expense_claim", {"claimant": "王小明", "amount": 5, "boss": "me"})


def test_a_bare_iso_timer_runs_and_keeps_its_source_text(runtime, clock, fiona):
    runtime.deploy(EXPENSE)
    case = runtime.start_case("expense_claim", {"claimant": "陳", "amount": 2000})
    (timer,) = runtime.get_case(case.number).timers
    assert timer.due_at == clock.now() + timedelta(days=2)
    clock.set(clock.now() + timedelta(days=2))
    fire_due_timers(runtime)
    view = runtime.get_case(case.number)
    assert [t.element_id for t in view.open_tasks] == ["escalated"]


def test_the_stored_source_is_the_file_as_written(runtime, db):
    runtime.deploy(EXPENSE)
    from sqlalchemy import select

    from engine.store.tables import ProcessVersion

    with db.read() as session:
        version = session.scalars(select(ProcessVersion)).one()
        text = next(s["text"] for s in version.sources if s["filename"] == "expense_claim.bpmn")
    assert ">P2D</bpmn:timeDuration>" in text  # not '"P2D"'
    assert "calledDecisionId" not in text and "preScript" not in text


def refusals(runtime, xml: str, *extra: Path) -> list[tuple[str | None, str]]:
    files = [
        SourceFile("x.bpmn", xml.encode()),
        *(SourceFile(p.name, p.read_bytes()) for p in extra),
    ]
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy(files)
    return [(p.element_id, p.message) for p in refused.value.problems]


def variant(old: str, new: str) -> str:
    text = (CAMUNDA / "expense_claim.bpmn").read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "element", "words"),
    [
        (
            'camunda:candidateGroups="Supervisor"',
            'camunda:candidateGroups="accounting"',
            "review",
            "not a known role",
        ),
        (
            'camunda:candidateGroups="Supervisor"',
            'camunda:candidateGroups="supervisor,finance"',
            "review",
            "one role",
        ),
        (
            'camunda:assignee="${cashier}"',
            'camunda:assignee="${users.get(0)}"',
            "pay",
            "Camunda expression",
        ),
        ('camunda:asyncBefore="true"', 'camunda:class="com.example.Pay"', "pay", "Java"),
        (
            "<camunda:inputOutput>",
            '<camunda:executionListener event="start" class="x.Y" /><camunda:inputOutput>',
            "review",
            "listeners",
        ),
        ("${approved}", "${approved &amp;&amp; amount > 10}", "review", "expression"),
        (
            'camunda:formKey="embedded:deployment:expense_payment.json"',
            'camunda:formKey="embedded:app:forms/pay.html"',
            "pay",
            "HTML form",
        ),
        (
            'camunda:historyTimeToLive="180"',
            'camunda:historyTimeToLive="180" camunda:candidateStarterUsers="x"',
            "expense_claim",
            "not supported",
        ),
        (
            'camunda:historyTimeToLive="180"',
            'camunda:historyTimeToLive="180" camunda:candidateStarterGroups="accounting"',
            "expense_claim",
            "startRoles: 'accounting' is not a known role",
        ),
        (
            'id="start" name="提交報銷"',
            'id="start" name="提交報銷" camunda:initiator="starter"',
            "start",
            "initiator",
        ),
        (
            'level == "supervisor"',
            "${level == 'supervisor'}",
            "Flow_big",
            "write it as Python: level == 'supervisor'",
        ),
        (
            'level == "supervisor"',
            '= level = "supervisor"',
            "Flow_big",
            'write it as Python: level == "supervisor"',
        ),
        ('level == "supervisor"', "manager must approve it", "Flow_big", "reads as words"),
        ('<bpmn:sequenceFlow id="Flow_6" ', "<bpmn:sequenceFlow ", "pay", "has no id"),
    ],
)
def test_what_cannot_be_honoured_is_refused_on_its_element(runtime, old, new, element, words):
    problems = refusals(runtime, variant(old, new), *EXPENSE[1:])
    assert any(e == element and words in m for e, m in problems), problems


def test_a_script_in_another_language_or_without_a_body_is_refused(runtime):
    xml = variant(
        '<bpmn:endEvent id="paid" name="已付款">\n      <bpmn:incoming>Flow_6</bpmn:incoming>',
        '<bpmn:scriptTask id="js" scriptFormat="javascript"><bpmn:incoming>Flow_6</bpmn:incoming>'
        '<bpmn:outgoing>Flow_7</bpmn:outgoing><bpmn:script>execution.setVariable("a", 1)</bpmn:script>'
        '</bpmn:scriptTask><bpmn:scriptTask id="empty" scriptFormat="python"><bpmn:incoming>Flow_7</bpmn:incoming>'
        "<bpmn:outgoing>Flow_8</bpmn:outgoing></bpmn:scriptTask>"
        '<bpmn:sequenceFlow id="Flow_7" sourceRef="js" targetRef="empty" />'
        '<bpmn:sequenceFlow id="Flow_8" sourceRef="empty" targetRef="paid" />'
        '<bpmn:endEvent id="paid" name="已付款">\n      <bpmn:incoming>Flow_8</bpmn:incoming>',
    ).replace('targetRef="paid" />\n', 'targetRef="js" />\n', 1)
    problems = refusals(runtime, xml, *EXPENSE[1:])
    assert (
        "js",
        "the script is written in javascript; Caseflow runs Python scripts: rewrite it"
        " in Python (or set scriptFormat to python)",
    ) in problems
    assert ("empty", "the script task has no script") in problems


C8 = CAMUNDA / "leave_request_c8.bpmn"


def test_camunda8_feel_conditions_are_refused_with_the_python_to_write(runtime):
    problems = refusals(runtime, C8.read_text(), CAMUNDA / "approval_level.dmn")
    ((element, message),) = problems
    assert element == "Flow_long"
    assert message.endswith("(this is a FEEL expression; write it as Python: days > 3)")


def test_camunda8_extensions_are_honoured_once_the_condition_is_python(runtime):
    xml = C8.read_text().replace("=days &gt; 3", "days &gt; 3")
    runtime.deploy(
        [SourceFile("leave_request_c8.bpmn", xml.encode()), CAMUNDA / "approval_level.dmn"]
    )
    case = runtime.start_case("leave_request", {"amount": 10}, prevalidated=True)
    fill_in = only(case, "fill_in")
    assert fill_in.role == "service_desk"
    from engine.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        runtime.complete_task(fill_in.id, {"days": 0}, "alice")
    assert "days" in refused.value.errors  # the embedded Camunda Form's min 1
    view = runtime.complete_task(fill_in.id, {"days": 5, "reason": "回鄉"}, "alice")
    assert view.data["level"] == "service_desk"  # one output: the value itself
    approve = only(view, "approve")
    assert (approve.role, approve.assignee, approve.status) == ("supervisor", "sue", "claimed")
    assert runtime.complete_task(approve.id, {"confirmed": True}, "sue").status == "completed"


def test_a_camunda_form_file_named_by_formkey_is_the_tasks_form(runtime, fiona):
    xml = variant(
        'camunda:candidateGroups="Supervisor">',
        'camunda:candidateGroups="Supervisor" camunda:formKey="camunda-forms:deployment:review.form">',
    )
    start, end = (
        xml.index("<camunda:formData>", xml.index('id="review"')),
        xml.index("</camunda:formData>", xml.index('id="review"')),
    )
    xml = xml[:start] + xml[end + len("</camunda:formData>") :]
    runtime.deploy(
        [SourceFile("expense_claim.bpmn", xml.encode()), *EXPENSE[1:], CAMUNDA / "review.form"]
    )
    case = runtime.start_case(
        "expense_claim", {"claimant": "王", "amount": 5000, "cashier": "fiona"}
    )
    review = only(case, "review")
    from engine.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        runtime.complete_task(review.id, {"applicant_name": "王"}, "sue")
    assert {"applicant_name", "contact_phone", "amount"} <= set(refused.value.errors)


def test_candidate_starter_groups_are_the_roles_that_may_start(runtime, fiona):
    from engine.core.errors import Forbidden

    xml = variant(
        'camunda:historyTimeToLive="180"',
        'camunda:historyTimeToLive="180" camunda:candidateStarterGroups="finance"',
    )
    runtime.deploy([SourceFile("expense_claim.bpmn", xml.encode()), *EXPENSE[1:]])
    data = {"claimant": "王", "amount": 5, "cashier": "fiona"}
    with pytest.raises(Forbidden):
        runtime.start_case("expense_claim", data, actor="alice", check_roles=True)
    assert (
        runtime.start_case("expense_claim", data, actor="fiona", check_roles=True).status
        == "running"
    )


MULTI = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_mi" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="receipts_check" name="核對收據" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check_receipt" name="核對一張收據" camunda:candidateGroups="finance">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="${receipts}" camunda:elementVariable="receipt" />
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check_receipt" />
    <bpmn:sequenceFlow id="f2" sourceRef="check_receipt" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_camunda7_multi_instance_collection_gives_one_task_per_item(runtime, fiona):
    runtime.deploy([SourceFile("receipts.bpmn", MULTI.encode())])
    case = runtime.start_case("receipts_check", {"receipts": ["A1", "B2", "C3"]}, prevalidated=True)
    tasks = case.open_tasks
    assert len(tasks) == 3 and {t.role for t in tasks} == {"finance"}
    assert sorted(runtime.task_data(t.id)["receipt"] for t in tasks) == ["A1", "B2", "C3"]
    for task in tasks:
        view = runtime.complete_task(task.id, {"confirmed": True}, "fiona")
    assert view.status == "completed"


def test_a_camunda_collection_expression_is_refused(runtime):
    xml = MULTI.replace("${receipts}", "${order.getReceipts()}")
    problems = refusals(runtime, xml)
    assert any(e == "check_receipt" and "camunda:collection" in m for e, m in problems), problems
