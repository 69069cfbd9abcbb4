"""家政保潔派工 (home_cleaning_dispatch) driven through the runtime, a new Runtime for every step.

Request recorded → quote from the decision tables → price and visit time agreed (SMS) → cleaner
assigned and briefed → work order signed for → visit with check-in calls → customer accepts and
signs (not satisfied: rework by the cleaner, then acceptance again; not at home: message note,
new time, back to the visit) → SMS: pay at the service centre, free maintenance until … → end
time confirmed and call back → the service centre collects the payment (SMS reminders to the
customer while it is not paid, then the supervisor chases it) → finance confirms it arrived →
tools checked back in → work order archived; beside the close, the free-maintenance period: a
follow-up call, a free revisit for any problem found or reported, and the case ends when the
period is over.
"""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.casework import links
from engine.casework.links import LinkRefused
from engine.core.errors import Forbidden, InvalidState, ValidationFailed
from engine.definitions.sources import DefinitionError
from engine.identity.users import add_user
from engine.spiff import templating
from engine.store.tables import Outbox
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import fresh_open_task, utc, work

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "home_cleaning_dispatch.bpmn",
    ROOT / "processes" / "home_cleaning_dispatch.base_rate.dmn",
    ROOT / "processes" / "home_cleaning_dispatch.frequency_discount.dmn",
    ROOT / "processes" / "field_visit_close.bpmn",
    *sorted((ROOT / "forms").glob("home_cleaning_dispatch.*.json")),
    *sorted((ROOT / "forms").glob("field_visit_close.*.json")),
]

REQUEST = {
    "customer_name": "王小明",
    "phone": "13800138000",
    "address": "上海市浦東新區世紀大道 100 號",
    "unit_number": "12 棟 1502 室",
    "floor_area": 90,
    "cleaning_kind": "開荒保潔",
    "frequency": "單次",
    "dirtiness": "一般",
}
# Wednesday 25 November 2026, 09:00 in Shanghai (01:00 UTC).
VISIT = "2026-11-25T09:00"
ACCEPTED = {
    "visit_result": "已完成並經客戶驗收簽名",
    "finished_at": "2026-11-25T11:30",
    "accepted_by": "王小明",
    "work_summary": "全屋開荒",
}
COLLECTED = {
    "collection_method": "微信收款",
    "amount_collected": 1000,
    "collected_at": "2026-11-25T11:45",
    "collection_reference": "WX-4200001",
}
PAID = {"payment_method": "微信收款", "amount_received": 1000, "received_at": "2026-11-25T12:00"}


@pytest.fixture
def rt(runtime, fresh_runtime, db, settings, clock):
    for name, roles in {
        "desk": ["service_desk"],
        "ayi": ["field_staff"],
        "cashier": ["finance"],
        "boss": ["supervisor"],
    }.items():
        add_user(db, settings, name, roles, clock.now())
    runtime.deploy(FILES, actor="owner")
    return fresh_runtime


def outbox(db, case_number=None):
    with db.read() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id)).all()
        return [(r.channel, r.recipient, r.body) for r in rows]


def sms_sent(db, template_start):
    """(time written, text) of every SMS whose text starts with `template_start`."""
    with db.read() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id)).all()
        return [
            (r.created_at.replace(tzinfo=UTC), r.body)
            for r in rows
            if r.channel == "sms" and r.body.startswith(template_start)
        ]


def shown(rt, task):
    """The task's instructions as its page shows them (every name they use must exist)."""
    return templating.render(task.instructions, rt().task_data(task.id), strict=True)


def open_ids(rt, number):
    return sorted(t.element_id for t in rt().get_case(number).open_tasks)


def fire_at(rt, clock, when):
    """Move the clock to `when` and run the worker once: how many timers fired."""
    clock.set(when)
    return fire_due_timers(rt()).fired


def start_and_quote(rt, request=REQUEST):
    number = rt().start_case("home_cleaning_dispatch", {}, actor="desk").number
    case = work(rt, number, "record_request", "desk", request, role="service_desk")
    return number, case


def agree(rt, number, **extra):
    return work(
        rt,
        number,
        "agree_price_and_time",
        "desk",
        {"customer_decision": "接受報價", "agreed_price": 1000, "visit_start": VISIT, **extra},
    )


def dispatch(rt, number):
    work(
        rt,
        number,
        "assign_cleaner",
        "desk",
        {
            "cleaner_name": "李阿姨",
            "cleaner_phone": "13900139000",
            "briefing": "新房開荒，客戶對油漆味敏感，請開窗",
            "tools": ["吸塵器", "玻璃刮", "鏟刀"],
            "work_order_sheet_prepared": True,
            "route": "地鐵 2 號線世紀大道站 3 號口",
            "departure_at": "2026-11-25T08:00",
        },
    )
    return work(
        rt,
        number,
        "sign_work_order",
        "ayi",
        {"received_by": "李阿姨", "received_at": "2026-11-24T16:00", "briefing_understood": True},
        role="field_staff",
        invalid={"received_by": "", "received_at": "剛才"},
        errors={"received_by", "received_at", "briefing_understood"},
    )


def test_all_files_deploy_without_problems(runtime):
    result = runtime.deploy(FILES, actor="owner")
    assert {d.key for d in result if d.kind == "process"} == {
        "home_cleaning_dispatch",
        "field_visit_close",
    }


def test_all_three_dispatch_and_booking_procedures_deploy_together(runtime):
    """Every file of the store, cleaning and repair procedures in one deploy (the call activity
    field_visit_close is shared by cleaning and repair)."""
    files = [
        *sorted((ROOT / "processes").glob("store_appointment.*")),
        *sorted((ROOT / "processes").glob("home_cleaning_dispatch.*")),
        *sorted((ROOT / "processes").glob("repair_dispatch.*")),
        ROOT / "processes" / "field_visit_close.bpmn",
        *sorted((ROOT / "forms").glob("store_appointment.*.json")),
        *sorted((ROOT / "forms").glob("home_cleaning_dispatch.*.json")),
        *sorted((ROOT / "forms").glob("repair_dispatch.*.json")),
        *sorted((ROOT / "forms").glob("field_visit_close.*.json")),
    ]
    result = runtime.deploy(files, actor="owner")
    assert sorted(d.key for d in result if d.kind == "process") == [
        "field_visit_close",
        "home_cleaning_dispatch",
        "repair_dispatch",
        "store_appointment",
    ]
    # Every form is used: by a user task, or (the online booking form) by the booking page.
    used = set()
    for path in files:
        if path.suffix == ".bpmn":
            text = path.read_text(encoding="utf-8")
            used |= {p.name for p in files if p.suffix == ".json" and f'"{p.name}"' in text}
    assert used == {p.name for p in files if p.suffix == ".json"}


def test_a_broken_decision_table_is_refused(runtime):
    from engine.definitions.sources import SourceFile

    dmn = FILES[1].read_bytes().replace(b"<text>15</text>", b"<text>().__class__</text>", 1)
    files = [SourceFile(p.name, p.read_bytes()) for p in FILES if p != FILES[1]]
    with pytest.raises(DefinitionError, match="output entry"):
        runtime.deploy([*files, SourceFile(FILES[1].name, dmn)])


def test_main_path_from_request_to_archived_work_order(rt, db, clock):
    number, case = start_and_quote(rt)
    # 開荒保潔, 90 m², 單次: max(600, 90 × 12) × 1.0 = 1,080 元; 90 m² at 15 m²/h = 6 h.
    assert (case.data["quote_price"], case.data["quote_hours"]) == (1080, 6.0)

    clock.set("2026-11-23T02:00:00+00:00")
    case = work(
        rt,
        number,
        "agree_price_and_time",
        "desk",
        {"customer_decision": "接受報價", "agreed_price": 1000, "visit_start": VISIT},
        invalid={"customer_decision": "接受報價", "agreed_price": -5},
        errors={"agreed_price", "visit_start"},
    )
    assert case.data["amount_due"] == 1000
    assert outbox(db) == [
        (
            "sms",
            "13800138000",
            f"王小明 您好：您的保潔服務已預約，上門時間 2026-11-25 09:00，地址 上海市浦東新區世紀大道 100 號，"
            f"費用 1000 元。如需更改請致電客服中心。單號 {number}。\n",
        )
    ]

    assign = fresh_open_task(rt, number, "assign_cleaner")
    assert assign.role == "service_desk"
    with pytest.raises(ValidationFailed) as refused:
        rt().complete_task(
            assign.id,
            {"cleaner_name": "", "cleaner_phone": "12345", "tools": [], "departure_at": "明早"},
            "desk",
        )
    assert set(refused.value.errors) == {
        "cleaner_name",
        "cleaner_phone",
        "tools",
        "departure_at",
        "briefing",
        "route",
        "work_order_sheet_prepared",
    }
    dispatch_case = dispatch(rt, number)
    assert dispatch_case.data["cleaner_name"] == "李阿姨"
    assert dispatch_case.data["received_at"] == "2026-11-24T16:00"
    sign = [
        t for t in rt().list_tasks(case=number, status="done") if t.element_id == "sign_work_order"
    ]
    assert sign[0].completed_by == "ayi"

    visit = fresh_open_task(rt, number, "visit")
    assert visit.role == "field_staff"
    # Check-in calls one and three hours after the agreed start (Shanghai 10:00 and 12:00).
    timers = [(t.element_id, t.due_at) for t in rt().get_case(number).timers]
    assert timers == [
        ("first_check_in", utc("2026-11-25T02:00:00+00:00")),
        ("second_check_in", utc("2026-11-25T04:00:00+00:00")),
    ]
    assert visit.due_at == utc("2026-11-25T02:00:00+00:00")

    clock.set("2026-11-25T01:59:00+00:00")
    assert fire_due_timers(rt()).fired == 0
    clock.set("2026-11-25T02:00:00+00:00")
    assert fire_due_timers(rt()).fired == 1
    call = fresh_open_task(rt, number, "check_in_call")
    assert call.role == "service_desk"
    work(
        rt,
        number,
        "check_in_call",
        "desk",
        {"check_in_result": "服務進行順利"},
        invalid={"check_in_result": "有問題需處理"},
        errors={"check_in_note"},
    )
    assert fresh_open_task(rt, number, "visit").id == visit.id  # the visit goes on

    # The cleaner finishes before the second call falls due: that call is not made.
    clock.set("2026-11-25T03:30:00+00:00")
    case = work(
        rt,
        number,
        "visit",
        "ayi",
        {
            "visit_result": "已完成並經客戶驗收簽名",
            "finished_at": "2026-11-25T11:30",
            "accepted_by": "王小明",
            "work_summary": "全屋開荒，玻璃、廚衛、地面",
        },
        invalid={"visit_result": "已完成並經客戶驗收簽名"},
        errors={"finished_at", "accepted_by"},
    )
    # The check-in calls are dropped; the free-maintenance period (7 days) starts with the
    # acceptance at 11:30 local: the follow-up call on day 3, the end on day 7 (when the
    # period stops taking problem reports, and the order waits for it once closed).
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("maintenance_followup_due", utc("2026-11-28T03:30:00+00:00")),
        ("maintenance_over", utc("2026-12-02T03:30:00+00:00")),
    ]
    assert [t.element_id for t in case.open_tasks] == ["confirm_end"]
    assert re.fullmatch(
        f"王小明 您好：您的保潔服務已驗收完成，費用 1000 元請到客服中心繳納或轉賬（註明單號 {number}）。"
        r"免費保養期至 2026-12-02 11:30，期間如有問題請點擊 "
        r"http://127\.0\.0\.1:5000/book/reply/maintenance_problem/\S+ 報修或致電客服中心，我們免費上門處理。\n",
        outbox(db)[-1][2],
    )

    work(
        rt,
        number,
        "confirm_end",
        "desk",
        {"end_time_confirmed": "2026-11-25T11:30", "callback_result": "滿意"},
        role="service_desk",
        invalid={"end_time_confirmed": "11:30", "callback_result": "很好"},
        errors={"end_time_confirmed", "callback_result"},
    )
    # The customer pays at the service centre: the service desk collects, then finance.
    collect = fresh_open_task(rt, number, "collect_payment")
    assert collect.role == "service_desk"
    assert "confirm_payment" not in [t.element_id for t in rt().get_case(number).open_tasks]
    work(
        rt,
        number,
        "collect_payment",
        "desk",
        COLLECTED,
        invalid={**COLLECTED, "amount_collected": 940},  # less than the 1,000 due
        errors={"amount_collected"},
    )
    pay = fresh_open_task(rt, number, "confirm_payment")
    assert pay.role == "finance"
    assert "{{ amount_due }}" in pay.instructions
    # Less than the amount due does not pass: refused on the field, the case unchanged.
    due = rt().task_data(pay.id)["amount_due"]
    with pytest.raises(ValidationFailed) as short:
        rt().complete_task(
            pay.id,
            {
                "payment_method": "微信收款",
                "amount_received": due - 60,
                "received_at": "2026-11-25T12:00",
            },
            "cashier",
        )
    (message,) = short.value.errors["amount_received"]
    assert set(short.value.errors) == {"amount_received"}
    assert (message.code, message.params) == ("minimum", {"value": str(due)})
    assert fresh_open_task(rt, number, "confirm_payment").id == pay.id
    work(
        rt,
        number,
        "confirm_payment",
        "cashier",
        {"payment_method": "微信收款", "amount_received": 1000, "received_at": "2026-11-25T12:00"},
        invalid={"payment_method": "現金", "amount_received": -1},
        errors={"payment_method", "amount_received", "received_at"},
    )
    case = work(
        rt,
        number,
        "check_in_tools",
        "desk",
        {"tools_status": "全部歸還", "work_order_sheet_returned": True, "checked_in_by": "張老師"},
        role="service_desk",
        invalid={"tools_status": "有缺失或損壞", "work_order_sheet_returned": False},
        errors={"tools_note", "work_order_sheet_returned", "checked_in_by"},
    )
    assert case.data["work_order_copies"] == ["服務組", "客服中心", "財務部"]
    assert case.data["payment_method"] == "微信收款"
    assert case.data["collection_reference"] == "WX-4200001"
    assert case.data["work_order_archived_at"].startswith("2026-11-25T03:30")
    # Closed, but the free-maintenance period goes on: the case ends with it.
    assert case.status == "running"
    assert "archive_work_order" in case.completed_elements
    assert sorted((t.element_id, t.due_at) for t in case.timers) == [
        ("closed_until_maintenance_over", utc("2026-12-02T03:30:00+00:00")),
        ("maintenance_followup_due", utc("2026-11-28T03:30:00+00:00")),
        ("maintenance_over", utc("2026-12-02T03:30:00+00:00")),
    ]


def test_request_form_refuses_bad_input(rt):
    number = rt().start_case("home_cleaning_dispatch", {}, actor="desk").number
    task = fresh_open_task(rt, number, "record_request")
    with pytest.raises(ValidationFailed) as refused:
        rt().complete_task(
            task.id,
            {**REQUEST, "phone": "12-34", "floor_area": 0, "cleaning_kind": "大掃除"},
            "desk",
        )
    assert set(refused.value.errors) == {"phone", "floor_area", "cleaning_kind"}
    with pytest.raises(ValidationFailed) as refused:
        rt().complete_task(task.id, {"customer_name": "王小明"}, "desk")
    assert "address" in refused.value.errors and "dirtiness" in refused.value.errors


@pytest.mark.parametrize(
    ("kind", "dirtiness", "frequency", "area", "price", "hours"),
    [
        ("日常保潔", "一般", "單次", 60, 300, 2.0),  # 60 × 5 = 300; 60/30 = 2 h
        ("日常保潔", "輕度", "每週", 20, 135, 2),  # minimum 150 × 0.9; at least 2 h
        ("深度保潔", "嚴重", "每兩週", 120, 1104, 8.0),  # 120 × 10 × 0.92
        ("開荒保潔", "嚴重", "每月", 150, 2138, 12.5),  # 150 × 15 × 0.95 = 2137.5
    ],
)
def test_quote_follows_the_decision_tables(rt, kind, dirtiness, frequency, area, price, hours):
    request = {
        **REQUEST,
        "cleaning_kind": kind,
        "dirtiness": dirtiness,
        "frequency": frequency,
        "floor_area": area,
    }
    _, case = start_and_quote(rt, request)
    assert (case.data["quote_price"], case.data["quote_hours"]) == (price, hours)
    assert fresh_open_task(rt, case.number, "agree_price_and_time").role == "service_desk"


def test_customer_declines_the_quote(rt, db):
    number, _ = start_and_quote(rt)
    case = work(
        rt,
        number,
        "agree_price_and_time",
        "desk",
        {"customer_decision": "不接受", "decline_reason": "太貴"},
    )
    assert case.status == "completed"
    assert "end_declined" in rt().get_case(number).completed_elements
    assert outbox(db) == []


def test_customer_not_at_home_leaves_a_note_and_a_new_time_is_agreed(rt, db, clock):
    number, _ = start_and_quote(rt)
    agree(rt, number)
    dispatch(rt, number)
    clock.set("2026-11-25T01:20:00+00:00")
    case = work(
        rt,
        number,
        "visit",
        "ayi",
        {"visit_result": "客戶不在家", "message_note": "今日 09:00 上門，您不在家，請回電客服中心"},
        invalid={"visit_result": "客戶不在家"},
        errors={"message_note"},
    )
    assert case.timers == []  # the check-in calls of the missed visit are dropped
    new_time = fresh_open_task(rt, number, "agree_new_time")
    assert new_time.role == "service_desk"
    with pytest.raises(ValidationFailed) as refused:
        rt().complete_task(new_time.id, {"new_visit_start": "下週一"}, "desk")
    assert set(refused.value.errors) == {"new_visit_start"}
    case = rt().complete_task(new_time.id, {"new_visit_start": "2026-11-27T14:00"}, "desk")

    assert case.data["visit_start"] == "2026-11-27T14:00"
    assert case.data["missed_visits"] == 1
    assert outbox(db)[-1][2].startswith(
        "王小明 您好：上次上門時您不在家，我們已按約定改為 2026-11-27 14:00 上門保潔"
    )
    # Back to the visit, with the check-in calls counted from the new start (14:00 local).
    assert fresh_open_task(rt, number, "visit").role == "field_staff"
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("first_check_in", utc("2026-11-27T07:00:00+00:00")),
        ("second_check_in", utc("2026-11-27T09:00:00+00:00")),
    ]
    # Both calls fall due during a long visit: two check-in tasks for the service desk.
    clock.set("2026-11-27T09:00:00+00:00")
    assert fire_due_timers(rt()).fired == 2
    calls = [t for t in rt().get_case(number).open_tasks if t.element_id == "check_in_call"]
    assert len(calls) == 2
    case = work(
        rt,
        number,
        "visit",
        "ayi",
        {
            "visit_result": "已完成並經客戶驗收簽名",
            "finished_at": "2026-11-27T18:00",
            "accepted_by": "王小明",
        },
    )
    # The case goes on to closing; the open check-in calls stay with the service desk.
    assert sorted(t.element_id for t in case.open_tasks) == [
        "check_in_call",
        "check_in_call",
        "confirm_end",
    ]


# ----- the documents' rules (seed 002 客戶特約服務操作規程, seed 003 清潔上單流程) --------------------


def to_visit(rt, clock):
    """A case during the cleaner's visit (Wednesday 25 November, from 09:00 in Shanghai), its
    first check-in call (10:00) made."""
    number, _ = start_and_quote(rt)
    agree(rt, number)
    dispatch(rt, number)
    assert fire_at(rt, clock, "2026-11-25T02:00:00+00:00") == 1
    work(rt, number, "check_in_call", "desk", {"check_in_result": "服務進行順利"})
    return number


def accepted(rt, clock, at="2026-11-25T03:30:00+00:00"):
    """A case whose customer accepted the cleaning at `at` (11:30 in Shanghai)."""
    number = to_visit(rt, clock)
    clock.set(at)
    work(rt, number, "visit", "ayi", ACCEPTED)
    return number


def closed(rt, clock, number):
    """Everything of the close done on the day of the acceptance: end time, payment, tools."""
    confirmed = {"end_time_confirmed": "2026-11-25T11:30", "callback_result": "滿意"}
    work(rt, number, "confirm_end", "desk", confirmed)
    work(rt, number, "collect_payment", "desk", COLLECTED)
    work(rt, number, "confirm_payment", "cashier", PAID)
    returned = {
        "tools_status": "全部歸還",
        "work_order_sheet_returned": True,
        "checked_in_by": "張",
    }
    return work(rt, number, "check_in_tools", "desk", returned)


def test_not_satisfied_at_acceptance_leads_to_rework_not_payment(rt, db, clock):
    """Seed 002 服務驗收: the customer accepts, and where needed the work is adjusted first. A
    customer not satisfied sends the cleaner back to rework, with the complaint on her task, and
    accepts again; nothing is charged before the acceptance."""
    number = to_visit(rt, clock)
    clock.set("2026-11-25T03:30:00+00:00")
    sent_before = outbox(db)
    complaint = {
        "visit_result": "客戶驗收不滿意",
        "finished_at": "2026-11-25T11:30",
        "customer_complaint": "廚房油煙機沒擦乾淨，窗台有灰",
    }
    case = work(
        rt,
        number,
        "visit",
        "ayi",
        complaint,
        invalid={"visit_result": "客戶驗收不滿意", "customer_complaint": "髒"},
        errors={"customer_complaint"},
    )
    # The rework task, and nothing of the close: no call back, no collection, no payment.
    assert [t.element_id for t in case.open_tasks] == ["rework"]
    rework = fresh_open_task(rt, number, "rework")
    assert rework.role == "field_staff"
    assert shown(rt, rework).startswith(
        "客戶 王小明 驗收不滿意：「廚房油煙機沒擦乾淨，窗台有灰」。請按客戶的意見返工"
    )
    assert case.data["rework_count"] == 1
    assert case.timers == []  # no maintenance period and no payment reminder before acceptance
    assert outbox(db) == sent_before

    # Still not satisfied: a second rework round with the new complaint.
    case = work(
        rt,
        number,
        "rework",
        "ayi",
        {
            "rework_result": "客戶仍不滿意",
            "rework_summary": "重擦油煙機",
            "customer_complaint": "窗台還有灰",
        },
        role="field_staff",
        invalid={"rework_result": "客戶仍不滿意", "rework_summary": "重擦油煙機"},
        errors={"customer_complaint"},
    )
    assert [t.element_id for t in case.open_tasks] == ["rework"]
    rework = fresh_open_task(rt, number, "rework")
    assert "「窗台還有灰」" in shown(rt, rework)
    assert "這是第 2 次返工" in shown(rt, rework)
    for element in ("confirm_end", "collect_payment", "confirm_payment", "start_maintenance"):
        assert element not in case.completed_elements
    assert outbox(db) == sent_before

    # Satisfied after the rework: accepted, and the close goes on to the payment.
    clock.set("2026-11-25T05:00:00+00:00")
    case = work(
        rt,
        number,
        "rework",
        "ayi",
        {
            "rework_result": "已返工並經客戶驗收簽名",
            "rework_summary": "窗台、窗框重新擦拭",
            "finished_at": "2026-11-25T13:00",
            "accepted_by": "王小明",
        },
        invalid={"rework_result": "已返工並經客戶驗收簽名", "rework_summary": "擦了"},
        errors={"finished_at", "accepted_by"},
    )
    assert [t.element_id for t in case.open_tasks] == ["confirm_end"]
    assert case.data["accepted_at"] == "2026-11-25T05:00:00+00:00"
    assert outbox(db)[-1][2].startswith("王小明 您好：您的保潔服務已驗收完成，費用 1000 元")
    work(
        rt,
        number,
        "confirm_end",
        "desk",
        {"end_time_confirmed": "2026-11-25T13:00", "callback_result": "滿意"},
    )
    assert open_ids(rt, number) == ["collect_payment"]
    work(rt, number, "collect_payment", "desk", COLLECTED)
    assert open_ids(rt, number) == ["confirm_payment"]


def test_free_maintenance_follow_up_opens_on_day_three_and_is_escalated_when_missed(rt, clock):
    """Seed 002 後期維護: free maintenance for a period after the service, during which the
    customer's feedback is actively collected: a follow-up call maintenance_followup_days (3)
    after the acceptance, due maintenance_followup_due_hours (24) later, else the supervisor is
    told."""
    number = accepted(rt, clock)  # Wednesday 11:30 in Shanghai
    closed(rt, clock, number)
    assert fire_at(rt, clock, "2026-11-28T03:29:00+00:00") == 0
    assert open_ids(rt, number) == []
    assert fire_at(rt, clock, "2026-11-28T03:30:00+00:00") == 1  # Saturday 11:30
    call = fresh_open_task(rt, number, "maintenance_followup")
    assert call.role == "service_desk"
    assert call.due_at == utc("2026-11-29T03:30:00+00:00")
    assert shown(rt, call) == (
        "客戶 王小明（13800138000）的保潔已驗收，免費保養期至 2026-12-02 11:30。請回訪客戶，"
        "了解保潔效果和意見；客戶反映的問題在保養期內免費上門處理。須在 2026-11-29 11:30 前完成。"
    )

    assert fire_at(rt, clock, "2026-11-29T03:29:00+00:00") == 0
    assert fire_at(rt, clock, "2026-11-29T03:30:00+00:00") == 1
    assert open_ids(rt, number) == ["maintenance_followup", "supervise_followup"]
    assert fresh_open_task(rt, number, "supervise_followup").role == "supervisor"

    clock.set("2026-11-29T06:00:00+00:00")
    case = work(
        rt,
        number,
        "maintenance_followup",
        "desk",
        {"followup_result": "無問題", "satisfaction": "滿意"},
        invalid={"followup_result": "有問題需上門處理"},
        errors={"followup_note"},
    )
    assert [t.element_id for t in case.open_tasks] == ["supervise_followup"]
    work(rt, number, "supervise_followup", "boss", {"confirmed": True, "comment": "已提醒客服"})
    assert rt().get_case(number).status == "running"  # the period is not over yet


def test_problem_reported_during_maintenance_opens_a_free_revisit(rt, db, clock):
    """A problem the customer reports during the period (message maintenance_problem, from the
    link in the acceptance SMS or the case page) or that the follow-up call finds is handled by
    a free revisit: nothing is charged."""
    number = accepted(rt, clock)
    closed(rt, clock, number)
    sent = len(outbox(db))
    # The customer reports through the link in the acceptance SMS.
    (acceptance_sms,) = [r for r in outbox(db) if "免費保養期至" in r[2]]
    token = re.search(r"/book/reply/maintenance_problem/(\S+) ", acceptance_sms[2]).group(1)

    clock.set("2026-11-26T02:00:00+00:00")
    page = links.open_link(rt(), "maintenance_problem", token)
    assert page.shown == [
        ("服務地址", "上海市浦東新區世紀大道 100 號"),
        ("保養期至", "2026-12-02 11:30"),
    ]
    with pytest.raises(ValidationFailed):
        links.answer(rt(), "maintenance_problem", token, {"problem": ""})
    links.answer(rt(), "maintenance_problem", token, {"problem": "衛生間鏡子有水痕"})
    case = rt().get_case(number)
    assert [t.element_id for t in case.open_tasks] == ["free_revisit"]
    revisit = fresh_open_task(rt, number, "free_revisit")
    assert revisit.role == "field_staff"
    assert shown(rt, revisit).startswith(
        "保養期內免費上門（不收費）：客戶 王小明（13800138000）反映「衛生間鏡子有水痕」（客戶報告）。原服務阿姨 李阿姨。"
    )
    # While the revisit is open a second report is not taken (that problem is being handled).
    with pytest.raises(LinkRefused) as refused:
        links.answer(rt(), "maintenance_problem", token, {"problem": "又有水痕"})
    assert refused.value.reason == "not_waiting"
    case = work(
        rt,
        number,
        "free_revisit",
        "ayi",
        {
            "revisited_at": "2026-11-26T14:00",
            "revisit_summary": "重新擦拭鏡面",
            "revisit_confirmed_by": "王小明",
        },
        invalid={"revisited_at": "下午", "revisit_summary": "擦"},
        errors={"revisited_at", "revisit_summary", "revisit_confirmed_by"},
    )
    # Free: no payment step, no SMS; the period goes on and takes reports again.
    assert case.open_tasks == []
    assert "maintenance_problem" in case.waiting_messages
    assert len(outbox(db)) == sent
    assert sorted(t.element_id for t in case.timers) == [
        "closed_until_maintenance_over",
        "maintenance_followup_due",
        "maintenance_over",
    ]

    # The follow-up call on day 3 finds a problem: a free revisit as well.
    fire_at(rt, clock, "2026-11-28T03:30:00+00:00")
    case = work(
        rt,
        number,
        "maintenance_followup",
        "desk",
        {"followup_result": "有問題需上門處理", "followup_note": "地板有一處污漬"},
    )
    revisit = fresh_open_task(rt, number, "free_revisit")
    assert "反映「地板有一處污漬」（回訪）" in shown(rt, revisit)
    # Meanwhile a report still reaches the case (the period waits beside the follow-up), here
    # one the customer phoned in, sent from the case page: a second free revisit.
    assert "maintenance_problem" in case.waiting_messages
    case = rt().send_message(number, "maintenance_problem", {"problem": "廚房抽屜把手有油"}, "boss")
    revisits = sorted(
        (shown(rt, t), t.id) for t in case.open_tasks if t.element_id == "free_revisit"
    )
    assert [text.split("。")[0] for text, _ in revisits] == [
        "保養期內免費上門（不收費）：客戶 王小明（13800138000）反映「地板有一處污漬」（回訪）",
        "保養期內免費上門（不收費）：客戶 王小明（13800138000）反映「廚房抽屜把手有油」（客戶報告）",
    ]
    done = {
        "revisited_at": "2026-11-29T10:00",
        "revisit_summary": "清除污漬",
        "revisit_confirmed_by": "王小明",
    }
    for _, task_id in revisits:
        rt().complete_task(task_id, done, "ayi")
    case = rt().get_case(number)
    assert case.open_tasks == []
    assert case.waiting_messages == ["maintenance_problem"]  # the period goes on
    assert len(outbox(db)) == sent
    assert all(
        element not in case.active_elements for element in ("confirm_payment", "collect_payment")
    )


def test_case_ends_when_the_maintenance_period_ends(rt, clock):
    """The case stays open for the free-maintenance period (maintenance_days, 7) after the
    acceptance and ends at that minute; a problem reported afterwards is not taken."""
    number = accepted(rt, clock)
    closed(rt, clock, number)
    fire_at(rt, clock, "2026-11-28T03:30:00+00:00")
    work(rt, number, "maintenance_followup", "desk", {"followup_result": "無問題"})

    assert fire_at(rt, clock, "2026-12-02T03:29:00+00:00") == 0
    case = rt().get_case(number)
    assert case.status == "running" and case.waiting_messages == ["maintenance_problem"]
    assert fire_at(rt, clock, "2026-12-02T03:30:00+00:00") == 1  # Wednesday 11:30, day 7
    case = rt().get_case(number)
    assert case.status == "completed"
    assert case.ended_at == utc("2026-12-02T03:30:00+00:00")
    assert case.outcome == "served"
    assert "end_maintenance_over" in case.completed_elements
    with pytest.raises(InvalidState):
        rt().send_message(number, "maintenance_problem", {"problem": "窗簾有灰"}, "boss")


def test_a_free_revisit_open_at_the_end_of_the_period_is_finished_first(rt, clock):
    """A problem reported on the last day is still handled: the period's end waits for it."""
    number = accepted(rt, clock)
    closed(rt, clock, number)
    fire_at(rt, clock, "2026-11-28T03:30:00+00:00")
    work(rt, number, "maintenance_followup", "desk", {"followup_result": "無問題"})
    clock.set("2026-12-02T03:00:00+00:00")
    rt().send_message(number, "maintenance_problem", {"problem": "陽台玻璃有手印"}, "boss")
    # Only the closed order's wait ends at 11:30; the period waits for the revisit.
    assert fire_at(rt, clock, "2026-12-02T03:30:00+00:00") == 1
    assert open_ids(rt, number) == ["free_revisit"]
    assert rt().get_case(number).status == "running"
    clock.set("2026-12-02T08:00:00+00:00")
    case = work(
        rt,
        number,
        "free_revisit",
        "ayi",
        {
            "revisited_at": "2026-12-02T15:00",
            "revisit_summary": "擦淨陽台玻璃",
            "revisit_confirmed_by": "王小明",
        },
    )
    # The period is over by now: the case ends with the revisit.
    assert (case.status, case.outcome) == ("completed", "served")
    assert case.ended_at == utc("2026-12-02T08:00:00+00:00")


def test_payment_reminder_sms_when_not_paid_three_days_after_acceptance(rt, db, clock):
    """Not paid payment_reminder_days (3) after the acceptance: an SMS reminder with the amount
    and the case number, again payment_reminder_interval_days (3) later, at most
    payment_reminder_limit (2) of them; then the supervisor chases it. Collecting stops it."""
    number = accepted(rt, clock)  # Wednesday 25 November, 11:30 in Shanghai
    clock.set("2026-11-25T04:00:00+00:00")
    work(
        rt,
        number,
        "confirm_end",
        "desk",
        {"end_time_confirmed": "2026-11-25T11:30", "callback_result": "滿意"},
    )
    assert open_ids(rt, number) == ["collect_payment"]
    reminder = (
        f"王小明 您好：您於 2026-11-25 驗收的服務費用 1000 元尚未收到，請到客服中心繳納或轉賬，"
        f"付款時請註明單號 {number}。如已付款請忽略本短信。\n"
    )
    timers = {t.element_id: t.due_at for t in rt().get_case(number).timers}
    assert timers["payment_reminder_due"] == utc("2026-11-28T03:30:00+00:00")

    assert fire_at(rt, clock, "2026-11-28T03:29:00+00:00") == 0
    assert sms_sent(db, "王小明 您好：您於") == []
    fire_at(rt, clock, "2026-11-28T03:30:00+00:00")  # with the maintenance follow-up
    assert sms_sent(db, "王小明 您好：您於") == [(utc("2026-11-28T03:30:00+00:00"), reminder)]
    assert [r for r in outbox(db) if r[2] == reminder] == [("sms", "13800138000", reminder)]
    work(rt, number, "maintenance_followup", "desk", {"followup_result": "無問題"})

    assert fire_at(rt, clock, "2026-12-01T03:29:00+00:00") == 0
    assert fire_at(rt, clock, "2026-12-01T03:30:00+00:00") == 1
    assert sms_sent(db, "王小明 您好：您於") == [
        (utc("2026-11-28T03:30:00+00:00"), reminder),
        (utc("2026-12-01T03:30:00+00:00"), reminder),
    ]
    assert open_ids(rt, number) == ["collect_payment"]

    # Two reminders were the limit: three days later the supervisor chases it, no third SMS.
    assert fire_at(rt, clock, "2026-12-02T03:30:00+00:00") == 1  # the maintenance period ends
    assert fire_at(rt, clock, "2026-12-04T03:29:00+00:00") == 0
    assert fire_at(rt, clock, "2026-12-04T03:30:00+00:00") == 1
    assert open_ids(rt, number) == ["chase_payment", "collect_payment"]
    chase = fresh_open_task(rt, number, "chase_payment")
    assert chase.role == "supervisor"
    assert "應收 1000 元至今未繳，已發出繳費提醒短信 2 次" in shown(rt, chase)
    assert rt().get_case(number).timers == []
    assert fire_at(rt, clock, "2026-12-31T03:30:00+00:00") == 0
    assert len(sms_sent(db, "王小明 您好：您於")) == 2

    # The customer pays at last: the collection ends the chase, finance confirms.
    clock.set("2027-01-04T02:00:00+00:00")
    work(rt, number, "collect_payment", "desk", {**COLLECTED, "collected_at": "2027-01-04T10:00"})
    assert open_ids(rt, number) == ["confirm_payment"]


def test_no_payment_reminder_once_the_service_centre_has_collected(rt, db, clock):
    number = accepted(rt, clock)
    work(
        rt,
        number,
        "confirm_end",
        "desk",
        {"end_time_confirmed": "2026-11-25T11:30", "callback_result": "滿意"},
    )
    clock.set("2026-11-27T02:00:00+00:00")
    case = work(rt, number, "collect_payment", "desk", COLLECTED)
    assert "payment_reminder_due" not in [t.element_id for t in case.timers]
    fire_at(rt, clock, "2026-11-28T03:30:00+00:00")
    fire_at(rt, clock, "2026-12-04T03:30:00+00:00")
    assert sms_sent(db, "王小明 您好：您於") == []
    assert "chase_payment" not in open_ids(rt, number)


def test_payment_is_collected_by_the_service_centre_and_confirmed_by_finance(rt, clock):
    """Seed 002 §3.3: the service centre's cashier collects and settles the fee (seed 003: the
    service desk confirms what was received and passes it to finance); finance confirms it
    arrived. Nobody else may complete either step."""
    number = accepted(rt, clock)
    work(
        rt,
        number,
        "confirm_end",
        "desk",
        {"end_time_confirmed": "2026-11-25T11:30", "callback_result": "滿意"},
    )
    collect = fresh_open_task(rt, number, "collect_payment")
    assert collect.role == "service_desk"
    for user in ("ayi", "cashier", "boss"):
        with pytest.raises(Forbidden) as refused:
            rt().complete_task(collect.id, COLLECTED, user)
        assert refused.value.reason == "role_missing"
    assert fresh_open_task(rt, number, "collect_payment").id == collect.id
    work(rt, number, "collect_payment", "desk", COLLECTED)

    pay = fresh_open_task(rt, number, "confirm_payment")
    assert pay.role == "finance"
    assert shown(rt, pay) == (
        "應收金額 1000 元（客戶 王小明）。客服中心已收款 1000 元（微信收款，收據號或流水號 "
        "WX-4200001）。請核對到賬後登記。"
    )
    for user in ("desk", "ayi", "boss"):
        with pytest.raises(Forbidden) as refused:
            rt().complete_task(pay.id, PAID, user)
        assert refused.value.reason == "role_missing"
    case = work(rt, number, "confirm_payment", "cashier", PAID)
    done = {t.element_id: t.completed_by for t in rt().list_tasks(case=number, status="done")}
    assert (done["collect_payment"], done["confirm_payment"]) == ("desk", "cashier")
    assert [t.element_id for t in case.open_tasks] == ["check_in_tools"]
