"""客戶投訴處理: record → acknowledgement → senior service (deadline, else the supervisor) →
departments coordinated when needed → outcome to the customer → call back → close, or back to
the supervisor when the customer is not satisfied.

Every step uses a new Runtime, so the case is saved and loaded between steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.core.errors import Conflict, ValidationFailed
from engine.identity.users import add_user
from engine.store.tables import Outbox
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import open_elements, open_task, utc

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "complaint_handling.bpmn",
    *sorted((ROOT / "forms").glob("complaint_handling.*.json")),
]

COMPLAINT = {
    "customer_name": "劉女士",
    "customer_phone": "+86 139 1111 2222",
    "customer_email": "liu@example.com",
    "channel": "電話",
    "category": "服務人員",
    "severity": "一般",
    "description": "保潔阿姨遲到一小時，且打破了一個花瓶。",
    "customer_expectation": "賠償花瓶並道歉。",
}


@pytest.fixture
def deployed(runtime, users, db, settings, clock):
    add_user(db, settings, "dan", ["specialist"], clock.now())
    runtime.deploy(FILES, actor="owner")
    return runtime


def sent(db, number=None):
    with db.read() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id)).all()
        return [(r.channel, r.recipient, r.subject, r.body) for r in rows]


def record(fresh_runtime, **changes):
    rt = fresh_runtime()
    number = rt.start_case("complaint_handling", actor="alice").number
    task = open_task(fresh_runtime(), number, "record_complaint")
    assert (task.role, task.name) == ("service_desk", "詳細記錄投訴內容")
    data = {k: v for k, v in {**COMPLAINT, **changes}.items() if v is not None}
    fresh_runtime().complete_task(task.id, data, "alice")
    return number


def test_senior_service_handles_it_in_time_and_the_case_closes_with_its_record(
    deployed, fresh_runtime, db, clock
):
    number = record(fresh_runtime)
    # The customer is told at once that the complaint was registered.
    (ack,) = sent(db)
    assert ack[:2] == ("sms", "+86 139 1111 2222")
    assert "已經收到並登記" in ack[3] and number in ack[3]

    senior = open_task(fresh_runtime(), number, "senior_handle")
    assert (senior.role, senior.name) == ("senior_service", "高級客服處理投訴")
    # One working day: Monday 09:30 → Tuesday 09:30 in Shanghai.
    assert senior.due_at == utc("2026-11-24T01:30:00+00:00")

    clock.advance(hours=3)
    fresh_runtime().complete_task(
        senior.id,
        {
            "cause": "阿姨記錯時間，搬動傢俱時不慎",
            "resolution": "賠償花瓶 300 元並由主管致電道歉",
            "need_departments": False,
        },
        "bob",
    )
    outcome_sms, outcome_mail = sent(db)[1:]
    assert outcome_sms[:2] == ("sms", "+86 139 1111 2222")
    assert "賠償花瓶 300 元" in outcome_sms[3]
    assert outcome_mail[:3] == ("email", "liu@example.com", f"投訴處理結果（{number}）")

    callback = open_task(fresh_runtime(), number, "customer_callback")
    assert callback.role == "service_desk"
    case = fresh_runtime().complete_task(
        callback.id, {"customer_satisfied": True, "customer_feedback": "接受"}, "carol"
    )
    assert case.status == "completed"
    complaint = case.data["complaint_record"]
    assert complaint["escalated"] is False
    assert complaint["outcome"] == "賠償花瓶 300 元並由主管致電道歉"
    assert complaint["departments"] == [] and complaint["reopen_count"] == 0
    assert complaint["received_at"] == "2026-11-23T01:30:00+00:00"
    assert complaint["closed_at"] == "2026-11-23T04:30:00+00:00"


def test_senior_service_deadline_escalates_to_the_supervisor(deployed, fresh_runtime, clock):
    number = record(fresh_runtime)
    senior = open_task(fresh_runtime(), number, "senior_handle")

    clock.set("2026-11-24T01:29:00+00:00")  # one minute before the deadline
    assert fire_due_timers(fresh_runtime()).fired == 0
    assert open_elements(fresh_runtime(), number) == ["senior_handle"]

    clock.set("2026-11-24T01:30:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    case = fresh_runtime().get_case(number)
    assert [(t.element_id, t.role) for t in case.open_tasks] == [
        ("supervisor_handle", "supervisor")
    ]
    assert case.data["escalated"] is True
    assert case.data["escalation_reason"] == "高級客服逾期未處理"
    with pytest.raises(Conflict, match="cancelled"):
        fresh_runtime().complete_task(
            senior.id, {"cause": "x", "resolution": "y", "need_departments": False}, "bob"
        )

    supervisor = open_task(fresh_runtime(), number, "supervisor_handle")
    fresh_runtime().complete_task(
        supervisor.id,
        {"cause": "排班失誤", "resolution": "賠償並更換阿姨", "need_departments": False},
        "sue",
    )
    callback = open_task(fresh_runtime(), number, "customer_callback")
    case = fresh_runtime().complete_task(
        callback.id, {"customer_satisfied": True, "customer_feedback": "可以"}, "alice"
    )
    assert case.status == "completed"
    assert case.data["complaint_record"]["escalated"] is True


def test_serious_complaint_goes_to_the_supervisor_departments_are_chased_and_a_dissatisfied_customer_reopens_it(
    deployed, fresh_runtime, db, clock
):
    number = record(fresh_runtime, severity="嚴重", customer_email=None)
    # Serious: no senior service step, the supervisor has it at once.
    assert open_elements(fresh_runtime(), number) == ["supervisor_handle"]
    assert "客服主管" in sent(db)[0][3]

    supervisor = open_task(fresh_runtime(), number, "supervisor_handle")
    fresh_runtime().complete_task(
        supervisor.id,
        {
            "cause": "花瓶損壞需財務核賠",
            "resolution": "由財務核定賠償金額",
            "need_departments": True,
            "departments": ["財務", "服務人員管理"],
            "department_request": "核定賠償金額並培訓阿姨",
        },
        "sue",
    )
    department = open_task(fresh_runtime(), number, "department_handle")
    assert department.role == "specialist"
    # Two working days from Monday 09:30: Wednesday 09:30.
    assert department.due_at == utc("2026-11-25T01:30:00+00:00")

    clock.set("2026-11-25T01:30:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    # The chase opens for the supervisor; the department keeps its task.
    assert open_elements(fresh_runtime(), number) == ["chase_department", "department_handle"]
    chase = open_task(fresh_runtime(), number, "chase_department")
    assert chase.role == "supervisor"
    fresh_runtime().complete_task(chase.id, {"confirmed": True, "comment": "已致電財務"}, "sue")

    fresh_runtime().complete_task(
        department.id,
        {
            "department_actions": "核定賠償 500 元",
            "department_outcome": "賠償 500 元，三個工作日內到賬",
        },
        "dan",
    )
    # No e-mail address: the outcome goes by SMS only, with the department's words.
    outcome = sent(db)[-1]
    assert outcome[0] == "sms" and "賠償 500 元" in outcome[3]

    callback = open_task(fresh_runtime(), number, "customer_callback")
    fresh_runtime().complete_task(
        callback.id, {"customer_satisfied": False, "customer_feedback": "金額太少"}, "alice"
    )
    again = open_task(fresh_runtime(), number, "supervisor_handle")
    case = fresh_runtime().get_case(number)
    assert case.data["reopen_count"] == 1
    assert case.data["escalation_reason"] == "客戶對處理結果不滿意"

    fresh_runtime().complete_task(
        again.id,
        {"cause": "客戶認為賠償不足", "resolution": "賠償 800 元", "need_departments": False},
        "sue",
    )
    callback = open_task(fresh_runtime(), number, "customer_callback")
    case = fresh_runtime().complete_task(
        callback.id, {"customer_satisfied": True, "customer_feedback": "接受"}, "alice"
    )
    assert case.status == "completed"
    complaint = case.data["complaint_record"]
    assert complaint["reopen_count"] == 1 and complaint["outcome"] == "賠償 800 元"
    assert complaint["severity"] == "嚴重"


def test_every_form_rejects_an_invalid_submission_field_by_field(deployed, fresh_runtime):
    number = fresh_runtime().start_case("complaint_handling").number
    task = open_task(fresh_runtime(), number, "record_complaint")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            task.id,
            {**COMPLAINT, "customer_phone": "call me", "severity": "很嚴重", "description": ""},
            "alice",
        )
    assert set(failure.value.errors) == {"customer_phone", "severity", "description"}
    fresh_runtime().complete_task(task.id, COMPLAINT, "alice")

    senior = open_task(fresh_runtime(), number, "senior_handle")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            senior.id, {"cause": "x", "resolution": "y", "need_departments": True}, "bob"
        )
    assert set(failure.value.errors) == {"departments", "department_request"}
    fresh_runtime().complete_task(
        senior.id,
        {
            "cause": "x",
            "resolution": "y",
            "need_departments": True,
            "departments": ["財務"],
            "department_request": "z",
        },
        "bob",
    )

    department = open_task(fresh_runtime(), number, "department_handle")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(department.id, {"department_actions": "x" * 1001}, "dan")
    assert set(failure.value.errors) == {"department_actions", "department_outcome"}
    fresh_runtime().complete_task(
        department.id, {"department_actions": "x", "department_outcome": "y"}, "dan"
    )

    callback = open_task(fresh_runtime(), number, "customer_callback")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(callback.id, {"customer_satisfied": "yes"}, "alice")
    assert set(failure.value.errors) == {"customer_satisfied", "customer_feedback"}
