"""家政保潔派工 (home_cleaning_dispatch) driven through the runtime, a new Runtime for every step.

Request recorded → quote from the decision tables → price and visit time agreed (SMS) → cleaner
assigned and briefed → work order signed for → visit with check-in calls → customer accepts and
signs (or is not at home: message note, new time, back to the visit) → end time confirmed and
call back → finance confirms the payment → tools checked back in → work order archived.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.core.errors import ValidationFailed
from engine.definitions.sources import DefinitionError
from engine.identity.users import add_user
from engine.store.tables import Outbox
from engine.worker.timers import fire_due_timers

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


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def rt(runtime, fresh_runtime, db, settings, clock):
    for name, roles in {
        "desk": ["service_desk"],
        "ayi": ["field_staff"],
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


def outbox(db, case_number=None):
    with db.read() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id)).all()
        return [(r.channel, r.recipient, r.body) for r in rows]


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

    assign = open_task(rt, number, "assign_cleaner")
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

    visit = open_task(rt, number, "visit")
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
    call = open_task(rt, number, "check_in_call")
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
    assert open_task(rt, number, "visit").id == visit.id  # the visit goes on

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
    assert case.timers == []
    assert [t.element_id for t in case.open_tasks] == ["confirm_end"]

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
    pay = open_task(rt, number, "confirm_payment")
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
    assert open_task(rt, number, "confirm_payment").id == pay.id
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
    assert case.status == "completed"
    assert case.data["work_order_copies"] == ["服務組", "客服中心", "財務部"]
    assert case.data["payment_method"] == "微信收款"
    assert case.data["work_order_archived_at"].startswith("2026-11-25T03:30")


def test_request_form_refuses_bad_input(rt):
    number = rt().start_case("home_cleaning_dispatch", {}, actor="desk").number
    task = open_task(rt, number, "record_request")
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
    assert open_task(rt, case.number, "agree_price_and_time").role == "service_desk"


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
    new_time = open_task(rt, number, "agree_new_time")
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
    assert open_task(rt, number, "visit").role == "field_staff"
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
