"""維修派工 (repair_dispatch) driven through the runtime, a new Runtime for every step.

Repair request recorded (維修服務單) → dispatch order (派工單) drafted → the department manager
approves it and names the technician (or sends it back: revise and resubmit, or close) → the
customer is told who comes when → the technician signs for the order → visit with check-in calls
→ repair report with parts, terminal and SIM changes, customer's signature (or not at home: a new
time) → the shared closing: end time and call back, payment, tools, archive.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.core.errors import ValidationFailed
from engine.identity.users import add_user
from engine.store.tables import Outbox
from engine.worker.timers import fire_due_timers

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "repair_dispatch.bpmn",
    ROOT / "processes" / "field_visit_close.bpmn",
    *sorted((ROOT / "forms").glob("repair_dispatch.*.json")),
    *sorted((ROOT / "forms").glob("field_visit_close.*.json")),
]

REQUEST = {
    "customer_name": "順達物流有限公司",
    "phone": "021-58881234",
    "address": "上海市閔行區虹橋路 88 號停車場",
    "product_model": "GPS-T200 車載終端",
    "purchase_date": "2025-03-01",
    "under_warranty": False,
    "terminal_number": "T200-0001",
    "vehicle_plate": "滬A12345",
    "fault_description": "終端無定位信號，平台顯示離線三天",
}
ORDER = {
    "visit_start": "2026-11-24T14:00",
    "urgency": "一般",
    "estimated_fee": 180,
    "tools_needed": "萬用表、螺絲刀套裝",
    "spare_parts": "GPS 天線 1 條、SIM 卡 1 張",
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def rt(runtime, fresh_runtime, db, settings, clock):
    for name, roles in {
        "desk": ["service_desk"],
        "boss": ["supervisor"],
        "tech": ["field_staff"],
        "cashier": ["finance"],
    }.items():
        add_user(db, settings, name, roles, clock.now())
    runtime.deploy(FILES, actor="owner")
    return fresh_runtime


def open_task(rt, number, element_id):
    tasks = [t for t in rt().get_case(number).open_tasks if t.element_id == element_id]
    assert len(tasks) == 1, [t.element_id for t in rt().get_case(number).open_tasks]
    return tasks[0]


def work(rt, number, element_id, user, data, *, role=None, invalid=None, errors=None):
    """Complete the one open task `element_id`; when `invalid` is given, first show that the
    form refuses it with messages on exactly the fields `errors`."""
    task = open_task(rt, number, element_id)
    if role is not None:
        assert task.role == role
    if invalid is not None:
        with pytest.raises(ValidationFailed) as refused:
            rt().complete_task(task.id, invalid, user)
        assert set(refused.value.errors) == errors
        assert all(refused.value.errors[key] for key in errors)
    return rt().complete_task(task.id, data, user)


def sms(db):
    with db.read() as session:
        return [
            (r.recipient, r.body)
            for r in session.scalars(select(Outbox).order_by(Outbox.id))
            if r.channel == "sms"
        ]


def submit_order(rt, number, **changes):
    return work(rt, number, "draft_dispatch_order", "desk", {**ORDER, **changes})


def approve(rt, number):
    return work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "批准", "technician_name": "陳師傅", "technician_phone": "13700137000"},
        role="supervisor",
    )


def start(rt):
    number = rt().start_case("repair_dispatch", {}, actor="desk").number
    work(rt, number, "record_request", "desk", REQUEST, role="service_desk")
    return number


def test_all_files_deploy_without_problems(runtime):
    result = runtime.deploy(FILES, actor="owner")
    assert {d.key for d in result if d.kind == "process"} == {
        "repair_dispatch",
        "field_visit_close",
    }


def test_approved_repair_with_parts_and_sim_change_to_archive(rt, db, clock):
    number = rt().start_case("repair_dispatch", {}, actor="desk").number
    work(
        rt,
        number,
        "record_request",
        "desk",
        REQUEST,
        role="service_desk",
        invalid={**REQUEST, "phone": "5888", "purchase_date": "去年", "fault_description": ""},
        errors={"phone", "purchase_date", "fault_description"},
    )
    work(
        rt,
        number,
        "draft_dispatch_order",
        "desk",
        ORDER,
        role="service_desk",
        invalid={**ORDER, "urgency": "特急", "estimated_fee": -1, "tools_needed": ""},
        errors={"urgency", "estimated_fee", "tools_needed"},
    )
    assert sms(db) == []  # nobody is sent before the manager approves

    clock.set("2026-11-23T03:00:00+00:00")
    case = work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "批准", "technician_name": "陳師傅", "technician_phone": "13700137000"},
        role="supervisor",
        invalid={"approval": "批准", "technician_phone": "137"},
        errors={"technician_name", "technician_phone"},
    )
    assert case.data["technician_name"] == "陳師傅"
    assert sms(db) == [
        (
            "021-58881234",
            f"順達物流有限公司 您好：您的報修已安排，維修人員 陳師傅 將於 2026-11-24 14:00 上門"
            f"（上海市閔行區虹橋路 88 號停車場）。如需更改請致電客服中心。單號 {number}。\n",
        )
    ]

    work(
        rt,
        number,
        "sign_dispatch_order",
        "tech",
        {
            "received_by": "陳師傅",
            "received_at": "2026-11-23T11:05",
            "information_checked": True,
            "tools_and_parts_ready": True,
        },
        role="field_staff",
        invalid={"received_by": "陳師傅", "information_checked": False},
        errors={"received_at", "information_checked", "tools_and_parts_ready"},
    )
    visit = open_task(rt, number, "visit")
    assert visit.role == "field_staff"
    # Tuesday 14:00 in Shanghai: check-in calls at 15:00 and 17:00 (07:00 and 09:00 UTC).
    assert [(t.element_id, t.due_at) for t in rt().get_case(number).timers] == [
        ("first_check_in", utc("2026-11-24T07:00:00+00:00")),
        ("second_check_in", utc("2026-11-24T09:00:00+00:00")),
    ]
    clock.set("2026-11-24T07:00:00+00:00")
    assert fire_due_timers(rt()).fired == 1
    work(
        rt,
        number,
        "check_in_call",
        "desk",
        {"check_in_result": "維修進行順利"},
        role="service_desk",
        invalid={"check_in_result": "OK"},
        errors={"check_in_result"},
    )

    clock.set("2026-11-24T08:10:00+00:00")
    report = {
        "visit_result": "已完成並經客戶驗收簽名",
        "finished_at": "2026-11-24T16:05",
        "fault_found": "天線斷裂，SIM 卡欠費停機",
        "work_summary": "更換天線和 SIM 卡，平台恢復在線",
        "parts_replaced": [{"part_name": "GPS 天線", "quantity": 1}],
        "old_terminal_number": "T200-0001",
        "new_terminal_number": "T200-0001",
        "old_sim": "14700000001",
        "new_sim": "14700000002",
        "fee_charged": 180,
        "invoice_number": "No.00012345",
        "accepted_by": "王經理",
    }
    case = work(
        rt,
        number,
        "visit",
        "tech",
        report,
        invalid={
            "visit_result": "已完成並經客戶驗收簽名",
            "finished_at": "2026-11-24T16:05",
            "work_summary": "更換 SIM 卡",
            "fee_charged": 180,
            "accepted_by": "王經理",
            "new_sim": "abc",
            "parts_replaced": [{"part_name": "天線", "quantity": 0}],
        },
        errors={"new_sim", "old_sim", "parts_replaced.0.quantity"},
    )
    assert case.timers == []  # the second call is not needed any more
    assert case.data["new_sim"] == "14700000002"
    assert case.data["parts_replaced"] == [{"part_name": "GPS 天線", "quantity": 1}]
    assert case.data["amount_due"] == 180

    work(
        rt,
        number,
        "confirm_end",
        "desk",
        {"end_time_confirmed": "2026-11-24T16:05", "callback_result": "滿意"},
    )
    work(
        rt,
        number,
        "confirm_payment",
        "cashier",
        {
            "payment_method": "服務人員代收",
            "amount_received": 180,
            "received_at": "2026-11-24T18:00",
            "invoice_number": "No.00012345",
        },
        role="finance",
    )
    case = work(
        rt,
        number,
        "check_in_tools",
        "desk",
        {"tools_status": "全部歸還", "work_order_sheet_returned": True, "checked_in_by": "倉管"},
    )
    assert case.status == "completed"
    assert case.data["work_order_copies"] == ["服務組", "客服中心", "財務部"]
    assert "end_done" in case.completed_elements


def test_free_repair_under_warranty_skips_finance(rt, clock):
    number = start(rt)
    submit_order(rt, number, estimated_fee=0)
    approve(rt, number)
    work(
        rt,
        number,
        "sign_dispatch_order",
        "tech",
        {
            "received_by": "陳師傅",
            "received_at": "2026-11-23T11:05",
            "information_checked": True,
            "tools_and_parts_ready": True,
        },
    )
    case = work(
        rt,
        number,
        "visit",
        "tech",
        {
            "visit_result": "已完成並經客戶驗收簽名",
            "finished_at": "2026-11-24T14:40",
            "work_summary": "重新插緊天線接頭",
            "fee_charged": 0,
            "accepted_by": "王經理",
        },
    )
    work(
        rt,
        number,
        "confirm_end",
        "desk",
        {"end_time_confirmed": "2026-11-24T14:40", "callback_result": "滿意"},
    )
    case = rt().get_case(number)
    assert [t.element_id for t in case.open_tasks] == ["check_in_tools"]
    assert "confirm_payment" not in case.completed_elements


def test_rejected_dispatch_goes_back_to_the_service_desk_to_revise(rt, db):
    number = start(rt)
    submit_order(rt, number)
    case = work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "退回", "approval_comment": "估價過高，天線在保修範圍內"},
        invalid={"approval": "退回"},
        errors={"approval_comment"},
    )
    revise = open_task(rt, number, "revise_or_close")
    assert revise.role == "service_desk"
    assert sms(db) == []
    with pytest.raises(ValidationFailed) as refused:
        rt().complete_task(revise.id, {"revise_decision": "結案"}, "desk")
    assert set(refused.value.errors) == {"close_reason"}
    case = rt().complete_task(revise.id, {"revise_decision": "修改後重新送審"}, "desk")

    # The dispatch order comes back to the desk, then to the manager again.
    draft = open_task(rt, number, "draft_dispatch_order")
    assert draft.role == "service_desk"
    assert case.data["approval_comment"] == "估價過高，天線在保修範圍內"
    submit_order(rt, number, estimated_fee=0)
    approve(rt, number)
    assert open_task(rt, number, "sign_dispatch_order").role == "field_staff"
    assert len(sms(db)) == 1


def test_rejected_dispatch_closed_by_the_service_desk(rt, db):
    number = start(rt)
    submit_order(rt, number)
    work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "退回", "approval_comment": "該型號已停產，無備件"},
    )
    case = work(
        rt,
        number,
        "revise_or_close",
        "desk",
        {"revise_decision": "結案", "close_reason": "該型號已停產，無法提供備件"},
    )
    assert case.status == "completed"
    assert "end_closed" in case.completed_elements
    assert sms(db) == [
        (
            "021-58881234",
            f"順達物流有限公司 您好：您的報修單 {number} 暫時無法安排上門：該型號已停產，無法提供備件。"
            "如有疑問請致電客服中心。\n",
        )
    ]


def test_customer_not_at_home_then_new_time(rt, db, clock):
    number = start(rt)
    submit_order(rt, number)
    approve(rt, number)
    work(
        rt,
        number,
        "sign_dispatch_order",
        "tech",
        {
            "received_by": "陳師傅",
            "received_at": "2026-11-23T11:05",
            "information_checked": True,
            "tools_and_parts_ready": True,
        },
    )
    clock.set("2026-11-24T06:20:00+00:00")
    work(
        rt,
        number,
        "visit",
        "tech",
        {"visit_result": "客戶不在家", "message_note": "14:00 到場，車輛不在，請回電"},
        invalid={"visit_result": "客戶不在家", "fee_charged": -3},
        errors={"message_note", "fee_charged"},
    )
    case = work(
        rt,
        number,
        "agree_new_time",
        "desk",
        {"new_visit_start": "2026-11-26T10:00", "reschedule_note": "司機週四上午在場"},
        role="service_desk",
        invalid={"new_visit_start": ""},
        errors={"new_visit_start"},
    )
    assert case.data["missed_visits"] == 1
    assert sms(db)[-1][1].startswith(
        "順達物流有限公司 您好：上次上門時您不在家，我們已按約定改為 2026-11-26 10:00 上門維修"
    )
    assert open_task(rt, number, "visit").role == "field_staff"
    assert [t.due_at for t in case.timers] == [
        utc("2026-11-26T03:00:00+00:00"),
        utc("2026-11-26T05:00:00+00:00"),
    ]
