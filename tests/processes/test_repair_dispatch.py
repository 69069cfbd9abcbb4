"""維修派工 (repair_dispatch) driven through the runtime, a new Runtime for every step.

Repair request recorded (維修服務單) with the purchase date and the urgency → the warranty status
and the arrival deadline follow from them → dispatch order (派工單) drafted → the department
manager approves it and picks the technician from the directory (or sends it back: revise and
resubmit, or close) → the customer is told who comes when → the technician signs for the order
→ checks in on arrival (late: the manager is asked to step in) → visit with check-in calls →
repair report with parts, SIM changes, the charge the warranty allows, the customer's signature
(or not at home: a new time) → a terminal taken back for repair is labelled → the shared
closing: end time and call back, payment, tools, archive → the call back rates the technician.

The rules of the documents each have a test named after them (test_rule_...).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.casework.directory import Person, add_person, add_rating, get_person
from engine.core.errors import ValidationFailed
from engine.definitions.forms import prefilled_values, with_case_limits
from engine.definitions.sources import SourceFile
from engine.identity.users import add_user
from engine.store.tables import Event
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import fresh_open_elements, fresh_open_task, sms, utc

ROOT = Path(__file__).resolve().parents[2]
BPMN = ROOT / "processes" / "repair_dispatch.bpmn"
FILES = [
    BPMN,
    ROOT / "processes" / "field_visit_close.bpmn",
    *sorted((ROOT / "forms").glob("repair_dispatch.*.json")),
    *sorted((ROOT / "forms").glob("field_visit_close.*.json")),
]

# Recorded on Monday 23 Nov 2026 09:30 in Shanghai (the test clock); bought 2025-03-01, so the
# twelve months' warranty ended on 2026-02-28.
REQUEST = {
    "customer_name": "順達物流有限公司",
    "phone": "021-58881234",
    "address": "上海市閔行區虹橋路 88 號停車場",
    "product_model": "GPS-T200 車載終端",
    "repair_category": "GPS 車載終端",
    "purchase_date": "2025-03-01",
    "urgency": "低",
    "terminal_number": "T200-0001",
    "vehicle_plate": "滬A12345",
    "fault_description": "終端無定位信號，平台顯示離線三天",
}
IN_WARRANTY = "2026-06-15"
ORDER = {
    "visit_start": "2026-11-24T14:00",
    "estimated_fee": 180,
    "tools_needed": "萬用表、螺絲刀套裝",
    "spare_parts": "GPS 天線 1 條、SIM 卡 1 張",
}
RECEIPT = {
    "received_by": "許建國",
    "received_at": "2026-11-23T11:05",
    "information_checked": True,
    "tools_and_parts_ready": True,
}
DONE = {
    "visit_result": "已完成並經客戶驗收簽名",
    "finished_at": "2026-11-24T16:05",
    "work_summary": "重新插緊天線接頭",
    "needs_return_repair": False,
    "fee_charged": 0,
    "accepted_by": "王經理",
}


@pytest.fixture
def technicians(db, clock):
    """The directory's field staff: two available GPS technicians (許建國 rated better than
    韓磊), one without the GPS skill, one with it who is away."""
    with db.write() as session:
        ids = {
            name: add_person(
                session,
                "technician",
                name,
                phone,
                skills=skills,
                experience_years=years,
                available=available,
            ).id
            for name, phone, skills, years, available in [
                ("許建國", "13800004001", ["gps_terminal", "sim_change"], 8, True),
                ("韓磊", "13800004003", ["gps_terminal"], 3, True),
                ("謝偉", "13800004002", ["appliance_repair", "plumbing"], 12, True),
                ("趙強", "13800004004", ["gps_terminal"], 10, False),
            ]
        }
        for score in (5, 4):
            add_rating(session, ids["許建國"], score, clock.now(), comment="歷史評價")
        add_rating(session, ids["韓磊"], 3, clock.now(), comment="歷史評價")
        session.commit()
    return ids


@pytest.fixture
def rt(runtime, fresh_runtime, db, settings, clock, technicians):
    for name, roles in {
        "desk": ["service_desk"],
        "boss": ["supervisor"],
        "tech": ["field_staff"],
        "cashier": ["finance"],
    }.items():
        add_user(db, settings, name, roles, clock.now())
    runtime.deploy(FILES, actor="owner")
    return fresh_runtime


def work(rt, number, element_id, user, data, *, role=None, invalid=None, errors=None):
    """Complete the one open task `element_id`; when `invalid` is given, first show that the
    form refuses it with messages on exactly the fields `errors`."""
    task = fresh_open_task(rt, number, element_id)
    if role is not None:
        assert task.role == role
    if invalid is not None:
        refused(rt, task, invalid, user, errors)
    return rt().complete_task(task.id, data, user)


def refused(rt, task, data, user, fields):
    """The task refuses `data` with messages on exactly `fields` and changes nothing; returns
    the messages."""
    before = rt().get_case(task.case_number)
    with pytest.raises(ValidationFailed) as failure:
        rt().complete_task(task.id, data, user)
    assert set(failure.value.errors) == set(fields)
    assert all(failure.value.errors[key] for key in fields)
    after = rt().get_case(task.case_number)
    assert [t.id for t in after.open_tasks] == [t.id for t in before.open_tasks]
    assert (after.data, after.version) == (before.data, before.version)
    return {key: [str(m) for m in messages] for key, messages in failure.value.errors.items()}


def start(rt, **changes):
    number = rt().start_case("repair_dispatch", {}, actor="desk").number
    work(rt, number, "record_request", "desk", {**REQUEST, **changes}, role="service_desk")
    return number


def submit_order(rt, number, **changes):
    return work(rt, number, "draft_dispatch_order", "desk", {**ORDER, **changes})


def approve(rt, number, technician_id):
    return work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "批准", "technician_id": technician_id},
        role="supervisor",
    )


def dispatched(rt, technicians, **changes):
    """A case the manager approved with 許建國, signed for: the arrival check-in is open."""
    number = start(rt, **changes)
    submit_order(rt, number, estimated_fee=0)
    approve(rt, number, technicians["許建國"])
    work(rt, number, "sign_dispatch_order", "tech", RECEIPT, role="field_staff")
    return number


def on_site(rt, technicians, **changes):
    """A dispatched case whose technician has checked in: the repair report is open."""
    number = dispatched(rt, technicians, **changes)
    work(rt, number, "arrive", "tech", {"arrived_at": "2026-11-24T13:55"}, role="field_staff")
    return number


def close_out(rt, number, callback_result="滿意"):
    work(
        rt,
        number,
        "confirm_end",
        "desk",
        {"end_time_confirmed": "2026-11-24T16:05", "callback_result": callback_result},
    )


def test_all_files_deploy_without_problems(runtime):
    result = runtime.deploy(FILES, actor="owner")
    assert {d.key for d in result if d.kind == "process"} == {
        "repair_dispatch",
        "field_visit_close",
    }


def test_approved_repair_with_parts_and_sim_change_to_archive(rt, db, clock, technicians):
    number = rt().start_case("repair_dispatch", {}, actor="desk").number
    case = work(
        rt,
        number,
        "record_request",
        "desk",
        REQUEST,
        role="service_desk",
        invalid={**REQUEST, "phone": "5888", "purchase_date": "去年", "fault_description": ""},
        errors={"phone", "purchase_date", "fault_description"},
    )
    assert (case.data["under_warranty"], case.data["warranty_until"]) == (False, "2026-02-28")
    work(
        rt,
        number,
        "draft_dispatch_order",
        "desk",
        ORDER,
        role="service_desk",
        invalid={**ORDER, "estimated_fee": -1, "tools_needed": ""},
        errors={"estimated_fee", "tools_needed"},
    )
    assert sms(db) == []  # nobody is sent before the manager approves

    clock.set("2026-11-23T03:00:00+00:00")
    case = work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "批准", "technician_id": technicians["許建國"]},
        role="supervisor",
        invalid={"approval": "批准"},
        errors={"technician_id"},
    )
    assert (case.data["technician_name"], case.data["technician_phone"]) == (
        "許建國",
        "13800004001",
    )
    assert sms(db) == [
        (
            "021-58881234",
            f"順達物流有限公司 您好：您的報修已安排，維修人員 許建國 將於 2026-11-24 14:00 上門"
            f"（上海市閔行區虹橋路 88 號停車場）。如需更改請致電客服中心。單號 {number}。\n",
        )
    ]

    work(
        rt,
        number,
        "sign_dispatch_order",
        "tech",
        RECEIPT,
        role="field_staff",
        invalid={"received_by": "許建國", "information_checked": False},
        errors={"received_at", "information_checked", "tools_and_parts_ready"},
    )
    work(
        rt,
        number,
        "arrive",
        "tech",
        {"arrived_at": "2026-11-24T13:50"},
        role="field_staff",
        invalid={"arrived_at": "下午"},
        errors={"arrived_at"},
    )
    visit = fresh_open_task(rt, number, "visit")
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
        "parts_replaced": [
            {"part_name": "GPS 天線", "quantity": 1, "amount": 150},
            {"part_name": "SIM 卡", "quantity": 1, "amount": 30},
        ],
        "needs_return_repair": False,
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
            **{k: report[k] for k in ("visit_result", "finished_at", "work_summary")},
            **{k: report[k] for k in ("needs_return_repair", "fee_charged", "accepted_by")},
            "new_sim": "abc",
            "parts_replaced": [{"part_name": "天線", "quantity": 0, "amount": 180}],
        },
        errors={"new_sim", "old_sim", "parts_replaced.0.quantity"},
    )
    assert case.timers == []  # the second call is not needed any more
    assert case.data["new_sim"] == "14700000002"
    assert case.data["parts_replaced"][0] == {"part_name": "GPS 天線", "quantity": 1, "amount": 150}
    assert case.data["amount_due"] == 180

    close_out(rt, number)
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
    assert {"end_done", "rate_technician"} <= set(case.completed_elements)


def test_rejected_dispatch_goes_back_to_the_service_desk_to_revise(rt, db, technicians):
    number = start(rt)
    submit_order(rt, number)
    case = work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "退回", "approval_comment": "估價過高，先確認天線是否損壞"},
        invalid={"approval": "退回"},
        errors={"approval_comment"},
    )
    revise = fresh_open_task(rt, number, "revise_or_close")
    assert revise.role == "service_desk"
    assert sms(db) == []
    refused(rt, revise, {"revise_decision": "結案"}, "desk", {"close_reason"})
    case = rt().complete_task(revise.id, {"revise_decision": "修改後重新送審"}, "desk")

    # The dispatch order comes back to the desk, then to the manager again, who is offered the
    # technicians as the directory has them now.
    draft = fresh_open_task(rt, number, "draft_dispatch_order")
    assert draft.role == "service_desk"
    assert case.data["approval_comment"] == "估價過高，先確認天線是否損壞"
    submit_order(rt, number, estimated_fee=150)
    approve(rt, number, technicians["韓磊"])
    assert fresh_open_task(rt, number, "sign_dispatch_order").role == "field_staff"
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


def test_customer_not_at_home_then_new_time(rt, db, clock, technicians):
    number = on_site(rt, technicians)
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
    # Back to the repair itself: the arrival was checked in on the first visit.
    assert fresh_open_elements(rt, number) == ["visit"]
    assert [t.due_at for t in case.timers] == [
        utc("2026-11-26T03:00:00+00:00"),
        utc("2026-11-26T05:00:00+00:00"),
    ]


# ----- 1. the technician is chosen from the directory ------------------------------------------


def test_rule_technician_is_chosen_from_the_directory(rt, db, technicians):
    number = start(rt)
    submit_order(rt, number)
    task = fresh_open_task(rt, number, "approve_dispatch")

    # Offered: the available technicians with the GPS skill, best rated first, as a choice.
    form = with_case_limits(rt().get_task(task.id).form, rt().task_data(task.id))
    field = form["properties"]["technician_id"]
    assert field["enum"] == [technicians["許建國"], technicians["韓磊"]]
    assert field["x-labels"] == [
        "許建國（評分 4.5，2 次評價，經驗 8 年）",
        "韓磊（評分 3.0，1 次評價，經驗 3 年）",
    ]

    # Not free text: a name typed in, a name in the id field, someone the directory does not
    # know, someone without the skill, someone away: each refused, and nothing changes.
    approval = {"approval": "批准"}
    refused(
        rt,
        task,
        {**approval, "technician_name": "陳師傅"},
        "boss",
        {"technician_name", "technician_id"},
    )
    refused(rt, task, {**approval, "technician_id": "許建國"}, "boss", {"technician_id"})
    assert refused(rt, task, {**approval, "technician_id": 9999}, "boss", {"technician_id"}) == {
        "technician_id": ["維修人員名冊中沒有編號 9999 的維修人員，請從列出的人員中選擇"]
    }
    assert refused(
        rt, task, {**approval, "technician_id": technicians["謝偉"]}, "boss", {"technician_id"}
    ) == {
        "technician_id": [
            "這位維修人員不具備此次維修所需的技能（GPS 車載終端），請從列出的人員中選擇"
        ]
    }
    assert refused(
        rt, task, {**approval, "technician_id": technicians["趙強"]}, "boss", {"technician_id"}
    ) == {"technician_id": ["這位維修人員目前不可派工，請另選一位"]}

    # Offered a moment ago, away now: the choice is checked against the directory as it is.
    with db.write() as session:
        session.get(Person, technicians["韓磊"]).available = False
        session.commit()
    assert refused(
        rt, task, {**approval, "technician_id": technicians["韓磊"]}, "boss", {"technician_id"}
    ) == {"technician_id": ["這位維修人員目前不可派工，請另選一位"]}
    assert sms(db) == []

    case = rt().complete_task(task.id, {**approval, "technician_id": technicians["許建國"]}, "boss")
    assert case.data["technician_id"] == technicians["許建國"]
    assert (case.data["technician_name"], case.data["technician_phone"]) == (
        "許建國",
        "13800004001",
    )
    assert "維修人員 許建國 將於" in sms(db)[0][1]


def test_rule_technician_is_chosen_from_the_directory_offers_nobody_without_the_skill(rt):
    # A household appliance needs appliance_repair: only 謝偉 has it.
    number = start(rt, repair_category="家用電器", product_model="美的空調 KFR-35")
    submit_order(rt, number)
    task = fresh_open_task(rt, number, "approve_dispatch")
    form = with_case_limits(rt().get_task(task.id).form, rt().task_data(task.id))
    assert form["properties"]["technician_id"]["x-labels"] == ["謝偉（暫無評價，經驗 12 年）"]


def test_rule_technician_rating_after_the_job_goes_to_her_profile(rt, db, technicians):
    number = on_site(rt, technicians)
    work(rt, number, "visit", "tech", DONE)
    close_out(rt, number, "滿意")
    case = work(
        rt,
        number,
        "check_in_tools",
        "desk",
        {"tools_status": "全部歸還", "work_order_sheet_returned": True, "checked_in_by": "倉管"},
    )
    assert case.status == "completed"
    with db.read() as session:
        profile = get_person(session, technicians["許建國"])
        events = [
            e.detail for e in session.scalars(select(Event).where(Event.kind == "rating_recorded"))
        ]
    # 5 and 4 before, 5 from this call back.
    assert (profile["rating"], profile["rating_count"]) == (4.67, 3)
    assert events == [{"person_id": technicians["許建國"], "score": 5}]
    assert case.data["technician_rating"]["rating_count"] == 3


def test_rule_technician_rating_is_not_made_up_when_the_customer_cannot_be_reached(
    rt, db, technicians
):
    number = on_site(rt, technicians)
    work(rt, number, "visit", "tech", DONE)
    close_out(rt, number, "聯絡不上")
    work(
        rt,
        number,
        "check_in_tools",
        "desk",
        {"tools_status": "全部歸還", "work_order_sheet_returned": True, "checked_in_by": "倉管"},
    )
    with db.read() as session:
        assert get_person(session, technicians["許建國"])["rating_count"] == 2


# ----- 2. the arrival deadline follows the urgency ---------------------------------------------


@pytest.mark.parametrize(
    ("urgency", "due"),
    [
        # Reported Monday 09:30 in Shanghai (01:30 UTC).
        ("緊急", "2026-11-23T05:30:00+00:00"),  # 4 hours: Monday 13:30
        ("一般", "2026-11-24T01:30:00+00:00"),  # 24 hours: Tuesday 09:30
        ("低", "2026-11-26T01:30:00+00:00"),  # 72 hours: Thursday 09:30
    ],
)
def test_rule_arrival_deadline_by_urgency(rt, technicians, urgency, due):
    number = dispatched(rt, technicians, urgency=urgency)
    arrive = fresh_open_task(rt, number, "arrive")
    assert (arrive.role, arrive.due_at) == ("field_staff", utc(due))
    assert [(t.element_id, t.due_at) for t in rt().get_case(number).timers] == [
        ("arrival_overdue", utc(due))
    ]


def test_rule_arrival_deadline_by_urgency_is_a_process_parameter(runtime, rt, technicians):
    # The process owner changes the urgent hours in the diagram, not in a script.
    text = BPMN.read_text(encoding="utf-8")
    old = '<spiffworkflow:property name="default:arrival_hours_urgent" value="4"/>'
    assert old in text
    changed = text.replace(old, old.replace('value="4"', 'value="2"'))
    runtime.deploy([SourceFile(BPMN.name, changed.encode()), *FILES[1:]], actor="owner")
    number = dispatched(rt, technicians, urgency="緊急")
    assert fresh_open_task(rt, number, "arrive").due_at == utc("2026-11-23T03:30:00+00:00")


def test_rule_arrival_deadline_missed_escalates_to_the_supervisor(rt, clock, technicians):
    number = dispatched(rt, technicians, urgency="緊急")
    clock.set("2026-11-23T05:29:00+00:00")
    assert fire_due_timers(rt()).fired == 0
    assert fresh_open_elements(rt, number) == ["arrive"]

    clock.set("2026-11-23T05:30:00+00:00")
    assert fire_due_timers(rt()).fired == 1
    assert fresh_open_elements(rt, number) == ["arrive", "supervise_overdue"]
    escalation = fresh_open_task(rt, number, "supervise_overdue")
    assert (escalation.role, escalation.created_at) == (
        "supervisor",
        utc("2026-11-23T05:30:00+00:00"),
    )
    # The check-in stays open, overdue since the deadline.
    assert fresh_open_task(rt, number, "arrive").due_at == utc("2026-11-23T05:30:00+00:00")
    work(
        rt,
        number,
        "supervise_overdue",
        "boss",
        {"supervision_action": "已催促維修人員盡快到場"},
        role="supervisor",
        invalid={"supervision_action": "其他"},
        errors={"supervision_note"},
    )
    work(rt, number, "arrive", "tech", {"arrived_at": "2026-11-23T14:10"})
    assert fresh_open_elements(rt, number) == ["visit"]


def test_rule_arrival_deadline_met_escalates_nothing(rt, clock, technicians):
    number = dispatched(rt, technicians, urgency="緊急")
    clock.set("2026-11-23T05:00:00+00:00")
    case = work(rt, number, "arrive", "tech", {"arrived_at": "2026-11-23T13:00"})
    assert "arrival_overdue" not in [t.element_id for t in case.timers]
    clock.set("2026-11-23T06:00:00+00:00")
    fire_due_timers(rt())
    assert "supervise_overdue" not in fresh_open_elements(rt, number)


# ----- 3. the label on a terminal taken back for repair -----------------------------------------


def test_rule_label_step_is_required_before_close_out(rt, technicians):
    number = on_site(rt, technicians)
    case = work(rt, number, "visit", "tech", {**DONE, "needs_return_repair": True})
    # Close-out waits for the label: the technician's label task is the only thing open.
    assert fresh_open_elements(rt, number) == ["label_terminal"]
    assert "confirm_end" not in case.active_elements
    label = fresh_open_task(rt, number, "label_terminal")
    assert label.role == "field_staff"
    assert label.name == "返修終端貼標簽"
    # The form opens with what the request recorded: the plate, the fault, the old terminal.
    assert prefilled_values(rt().get_task(label.id).form, rt().task_data(label.id)) == {
        "label_plate": "滬A12345",
        "label_fault": "終端無定位信號，平台顯示離線三天",
        "old_terminal_number": "T200-0001",
    }

    refused(
        rt,
        label,
        {"label_plate": "滬A12345", "label_attached": False, "old_terminal_number": "T200-0001"},
        "tech",
        {"label_fault", "label_attached", "new_terminal_number", "terminal_clean"},
    )
    labelled = {
        "label_plate": "滬A12345",
        "label_fault": "無定位信號",
        "label_attached": True,
        "old_terminal_number": "T200-0001",
        "new_terminal_number": "T200-0042",
        "terminal_clean": True,
    }
    case = rt().complete_task(label.id, labelled, "tech")
    assert (case.data["old_terminal_number"], case.data["new_terminal_number"]) == (
        "T200-0001",
        "T200-0042",
    )
    assert fresh_open_elements(rt, number) == ["confirm_end"]


def test_rule_label_step_not_asked_when_nothing_goes_back(rt, technicians):
    number = on_site(rt, technicians)
    case = work(rt, number, "visit", "tech", DONE)
    assert fresh_open_elements(rt, number) == ["confirm_end"]
    assert "label_terminal" not in case.completed_elements


# ----- 4. outside the warranty only parts are charged, inside it is free ------------------------


@pytest.mark.parametrize(
    ("purchase_date", "warranty_until", "under_warranty"),
    [
        ("2026-06-15", "2027-06-14", True),
        ("2025-11-24", "2026-11-23", True),  # reported on the warranty's last day
        ("2025-11-23", "2026-11-22", False),  # a day later
        ("2025-03-01", "2026-02-28", False),
        ("2025-12-31", "2026-12-30", True),
    ],
)
def test_rule_warranty_status_is_derived_from_the_purchase_date(
    rt, purchase_date, warranty_until, under_warranty
):
    number = start(rt, purchase_date=purchase_date)
    data = rt().get_case(number).data
    assert (data["warranty_until"], data["under_warranty"]) == (warranty_until, under_warranty)


def test_rule_warranty_status_cannot_be_typed(rt):
    number = rt().start_case("repair_dispatch", {}, actor="desk").number
    task = fresh_open_task(rt, number, "record_request")
    refused(rt, task, {**REQUEST, "under_warranty": True}, "desk", {"under_warranty"})


def test_rule_inside_the_warranty_the_repair_is_free(rt, db, technicians):
    number = start(rt, purchase_date=IN_WARRANTY)
    task = fresh_open_task(rt, number, "draft_dispatch_order")
    assert refused(rt, task, ORDER, "desk", {"estimated_fee"}) == {
        "estimated_fee": ["保修期內（至 2027-06-14）維修免費，估算費用須為 0 元"]
    }
    submit_order(rt, number, estimated_fee=0)
    approve(rt, number, technicians["許建國"])
    work(rt, number, "sign_dispatch_order", "tech", RECEIPT)
    work(rt, number, "arrive", "tech", {"arrived_at": "2026-11-24T13:55"})

    report = {**DONE, "parts_replaced": [{"part_name": "GPS 天線", "quantity": 1, "amount": 150}]}
    visit = fresh_open_task(rt, number, "visit")
    assert refused(rt, visit, {**report, "fee_charged": 150}, "tech", {"fee_charged"}) == {
        "fee_charged": ["保修期內（至 2027-06-14）維修免費：向客戶收取的費用須為 0 元"]
    }
    case = rt().complete_task(visit.id, report, "tech")
    assert case.data["amount_due"] == 0
    close_out(rt, number)
    case = rt().get_case(number)
    assert fresh_open_elements(rt, number) == ["check_in_tools"]
    assert "confirm_payment" not in case.completed_elements


def test_rule_outside_the_warranty_only_parts_are_charged(rt, technicians):
    number = on_site(rt, technicians)
    parts = [
        {"part_name": "GPS 天線", "quantity": 1, "amount": 150},
        {"part_name": "SIM 卡", "quantity": 1, "amount": 30},
    ]
    report = {**DONE, "parts_replaced": parts}
    visit = fresh_open_task(rt, number, "visit")
    # Parts and labour: refused, the message names what may be charged.
    assert refused(rt, visit, {**report, "fee_charged": 260}, "tech", {"fee_charged"}) == {
        "fee_charged": [
            "保修期外只收零部件費用：向客戶收取的費用須等於更換配件金額合計 180 元，不收人工費"
        ]
    }
    # Labour only, no parts fitted: nothing may be charged.
    assert refused(rt, visit, {**DONE, "fee_charged": 80}, "tech", {"fee_charged"}) == {
        "fee_charged": [
            "保修期外只收零部件費用：向客戶收取的費用須等於更換配件金額合計 0 元，不收人工費"
        ]
    }
    # Parts undercharged is as wrong as overcharged.
    refused(rt, visit, {**report, "fee_charged": 150}, "tech", {"fee_charged"})

    case = rt().complete_task(visit.id, {**report, "fee_charged": 180}, "tech")
    assert case.data["amount_due"] == 180
    close_out(rt, number)
    # Finance collects exactly the parts: less is refused by the close-out's own form.
    payment = fresh_open_task(rt, number, "confirm_payment")
    refused(
        rt,
        payment,
        {"payment_method": "銀行轉賬", "amount_received": 100, "received_at": "2026-11-24T18:00"},
        "cashier",
        {"amount_received"},
    )


def test_rule_outside_the_warranty_a_repair_without_parts_is_free(rt, technicians):
    number = on_site(rt, technicians)
    case = work(rt, number, "visit", "tech", DONE)
    assert case.data["amount_due"] == 0
