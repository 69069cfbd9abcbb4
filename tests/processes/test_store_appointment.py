"""門店預約 (store_appointment) driven through the runtime, a new Runtime for every step.

Request checked for format and completeness (the service desk has the customer fix it, or the
customer gives up) → staff on shift and a free room booked in the database (when full: other
times offered, the customer picks one or gives up) → confirmation by SMS and e-mail → reminder
24 hours before → change (on time: rebooked and confirmed again; late: refused) or cancellation
(late: penalty flag) → the store records arrival or no-show → satisfaction form.

The store: 淮海店 with one beautician (facial) and one room. Her shifts: Wednesday 25 November
10:00–11:00 (one 60-minute slot: the last free one) and Thursday 26 November 14:00–16:00.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.casework import portal
from engine.casework.resources import SlotBooking, add_resource, add_service_item, add_shift
from engine.core.errors import InvalidState, ValidationFailed
from engine.identity.users import add_user
from engine.store.tables import Case, Outbox
from engine.worker.timers import fire_due_timers

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "store_appointment.bpmn",
    *sorted((ROOT / "forms").glob("store_appointment.*.json")),
]

CUSTOMER = {
    "customer_name": "王美玲",
    "phone": "13800138000",
    "email": "meiling@example.com",
    "service_item": "facial",
    "appointment_at": "2026-11-25T10:00",  # Wednesday, 02:00 UTC
}
WED_10 = "2026-11-25T02:00:00+00:00"
THU_14, THU_1430, THU_15 = (
    "2026-11-26T06:00:00+00:00",
    "2026-11-26T06:30:00+00:00",
    "2026-11-26T07:00:00+00:00",
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def rt(runtime, fresh_runtime, db, settings, clock):
    for name, roles in {"desk": ["service_desk"], "shop": ["store_ops"]}.items():
        add_user(db, settings, name, roles, clock.now())
    with db.write() as session:
        add_service_item(session, "facial", "面部護理", 60, "facial")
        beautician = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        add_shift(session, beautician.id, "2026-11-25T10:00", "2026-11-25T11:00")
        add_shift(session, beautician.id, "2026-11-26T14:00", "2026-11-26T16:00")
        session.commit()
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


def messages(db, number):
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        rows = session.scalars(
            select(Outbox).where(Outbox.case_id == case_id).order_by(Outbox.id)
        ).all()
        return [(r.channel, r.recipient, r.subject, r.body, r.attachments) for r in rows]


def booked_slots(db, number):
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return sorted(
            {
                row.slot_start.replace(tzinfo=None).isoformat()
                for row in session.scalars(
                    select(SlotBooking).where(SlotBooking.case_id == case_id)
                )
            }
        )


def book(rt, **changes):
    # As the portal starts a booking once its own checks passed (prevalidated): the scenarios
    # below also drive the process's own checks with data the booking form would refuse.
    return rt().start_case(
        "store_appointment", {**CUSTOMER, **changes}, actor="portal", prevalidated=True
    )


def test_all_files_deploy_without_problems(runtime):
    result = runtime.deploy(FILES, actor="owner")
    assert [d.key for d in result if d.kind == "process"] == ["store_appointment"]


def test_booked_confirmed_reminded_24_hours_before_served_and_rated(rt, db, clock):
    case = book(rt)
    assert case.number.startswith("SA-20261123-")
    booking = case.data["booking"]
    assert booking["ok"] is True
    assert (booking["staff"], booking["room"], booking["store"]) == (
        "美容師小林",
        "1號房",
        "淮海店",
    )
    assert case.data["appointment_at"] == WED_10
    assert case.data["appointment_local"] == "2026-11-25 10:00"
    assert case.data["booking_ref"].startswith(case.number)
    assert booked_slots(db, case.number) == ["2026-11-25T02:00:00", "2026-11-25T02:30:00"]

    sent = messages(db, case.number)
    assert [(m[0], m[1]) for m in sent] == [
        ("sms", "13800138000"),
        ("email", "meiling@example.com"),
    ]
    ref = case.data["booking_ref"]
    assert sent[0][3] == (
        f"王美玲 您好：您的預約已確認：2026-11-25 10:00，淮海店 1號房，服務項目 facial。"
        f"預約號 {ref}。如需改期或取消，請於預約時間 24 小時前通知門店。\n"
    )
    assert sent[1][2] == f"預約確認：2026-11-25 10:00 facial（{ref}）"
    assert sent[1][4][0]["filename"].endswith(".ics")
    assert "DTSTART" in sent[1][4][0]["text"]

    attend = open_task(rt, case.number, "attend")
    assert attend.role == "store_ops"
    timers = rt().get_case(case.number).timers
    assert [(t.element_id, t.due_at) for t in timers] == [
        ("reminder_due", utc("2026-11-24T02:00:00+00:00"))
    ]

    # Reminder exactly 24 hours before: not a second earlier.
    clock.set("2026-11-24T01:59:59+00:00")
    assert fire_due_timers(rt()).fired == 0
    clock.set("2026-11-24T02:00:00+00:00")
    assert fire_due_timers(rt()).fired == 1
    sent = messages(db, case.number)
    assert [(m[0], m[2]) for m in sent[2:]] == [
        ("sms", None),
        ("email", "預約提醒：2026-11-25 10:00 facial"),
    ]
    assert sent[2][3].startswith(
        "王美玲 您好：提醒您即將到來的預約：2026-11-25 10:00，淮海店 1號房"
    )
    assert open_task(rt, case.number, "attend").id == attend.id  # the store still waits
    assert fire_due_timers(rt()).fired == 0

    clock.set("2026-11-25T02:05:00+00:00")
    work(
        rt,
        case.number,
        "attend",
        "shop",
        {"attendance": "已到店", "arrived_at": "2026-11-25T09:55", "served_by": "美容師小林"},
        invalid={"attendance": "已到店", "arrived_at": "快十點"},
        errors={"arrived_at", "served_by"},
    )
    done = work(
        rt,
        case.number,
        "satisfaction",
        "shop",
        {
            "satisfaction_score": 5,
            "on_time": True,
            "staff_attitude": "很好",
            "comments": "手法專業",
        },
        role="store_ops",
        invalid={"satisfaction_score": 6, "staff_attitude": "還行"},
        errors={"satisfaction_score", "staff_attitude", "on_time"},
    )
    assert done.status == "completed"
    assert "end_served" in done.completed_elements
    assert done.data["satisfaction_score"] == 5
    assert len(messages(db, case.number)) == 4


def test_full_slot_offers_alternatives_and_the_customer_picks_one(rt, db):
    first = book(rt)
    second = book(rt, customer_name="陳小芳", phone="13900139000", email="")
    assert second.data["booking"]["ok"] is False
    assert second.data["alternatives"] == [THU_14, THU_1430, THU_15]
    assert second.data["alternatives_local"] == [
        "2026-11-26 14:00",
        "2026-11-26 14:30",
        "2026-11-26 15:00",
    ]
    assert messages(db, second.number) == [
        (
            "sms",
            "13900139000",
            None,
            "陳小芳 您好：您預約的 facial 時段無法安排（該時段已無空閒的人員或房間）。"
            "可選時段：2026-11-26 14:00、2026-11-26 14:30、2026-11-26 15:00。客服將與您聯絡確認。\n",
            None,
        )
    ]
    offer = open_task(rt, second.number, "offer_alternatives")
    assert offer.role == "service_desk"
    case = work(
        rt,
        second.number,
        "offer_alternatives",
        "desk",
        {"alternative_decision": "選擇其他時段", "appointment_at": "2026-11-26T14:30"},
        invalid={"alternative_decision": "選擇其他時段", "appointment_at": "週四下午"},
        errors={"appointment_at"},
    )
    assert case.data["appointment_at"] == THU_1430
    assert case.data["appointment_local"] == "2026-11-26 14:30"
    assert [m[0] for m in messages(db, second.number)] == ["sms", "sms"]  # no e-mail given
    assert "已確認：2026-11-26 14:30" in messages(db, second.number)[1][3]
    assert open_task(rt, second.number, "attend").role == "store_ops"
    assert booked_slots(db, first.number) == ["2026-11-25T02:00:00", "2026-11-25T02:30:00"]
    assert booked_slots(db, second.number) == ["2026-11-26T06:30:00", "2026-11-26T07:00:00"]


def test_full_slot_and_the_customer_gives_up(rt, db):
    book(rt)
    second = book(rt, customer_name="陳小芳")
    case = work(
        rt, second.number, "offer_alternatives", "desk", {"alternative_decision": "客戶放棄預約"}
    )
    assert case.status == "completed"
    assert "end_given_up" in case.completed_elements
    assert booked_slots(db, second.number) == []


def test_two_customers_confirm_the_last_slot_at_the_same_moment(rt, db):
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def customer(name: str, phone: str) -> None:
        runtime = rt()
        barrier.wait()
        try:
            results[name] = runtime.start_case(
                "store_appointment",
                {**CUSTOMER, "customer_name": name, "phone": phone},
                actor="portal",
            )
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[name] = exc

    threads = [
        threading.Thread(target=customer, args=("甲", "13800000001")),
        threading.Thread(target=customer, args=("乙", "13800000002")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    cases = list(results.values())
    assert all(not isinstance(c, Exception) for c in cases), cases
    winners = [c for c in cases if c.data["booking"]["ok"]]
    losers = [c for c in cases if not c.data["booking"]["ok"]]
    assert len(winners) == 1 and len(losers) == 1
    assert winners[0].data["appointment_at"] == WED_10
    assert [t.element_id for t in winners[0].open_tasks] == ["attend"]
    assert [t.element_id for t in losers[0].open_tasks] == ["offer_alternatives"]
    assert losers[0].data["alternatives"] == [THU_14, THU_1430, THU_15]
    assert booked_slots(db, losers[0].number) == []
    with db.read() as session:
        # The beautician and the room, each for the two half-hour slots of the hour: no more.
        assert len(session.scalars(select(SlotBooking)).all()) == 4


def test_incomplete_request_is_fixed_with_the_customer(rt, db):
    case = book(rt, phone="12345", email="meiling.example.com", appointment_at="星期三上午")
    assert case.data["request_problems"] == {
        "phone": "電話須為 11 位手機號或帶區號的固話",
        "email": "電子郵箱格式不正確",
        "appointment_at": "預約時間格式不正確，例如 2026-12-01T10:00",
    }
    assert booked_slots(db, case.number) == []
    fix = open_task(rt, case.number, "fix_request")
    assert fix.role == "service_desk"
    case = work(
        rt,
        case.number,
        "fix_request",
        "desk",
        {**CUSTOMER, "request_action": "已補正"},
        invalid={
            "request_action": "已補正",
            "phone": "12345",
            "email": "meiling.example.com",
            "customer_name": "王美玲",
            "service_item": "facial",
        },
        errors={"phone", "email", "appointment_at"},
    )
    assert case.data["request_problems"] == {}
    assert case.data["booking"]["ok"] is True
    assert [t.element_id for t in case.open_tasks] == ["attend"]


def test_unknown_item_or_missing_id_number_then_the_customer_withdraws(rt, db):
    case = book(rt, service_item="massage")
    assert case.data["request_problems"] == {"service_item": "沒有這個服務項目或門店"}
    work(rt, case.number, "fix_request", "desk", {**CUSTOMER, "request_action": "已補正"})

    strict = book(rt, items_needing_id_number=["facial"], id_number="1234")
    assert strict.data["request_problems"] == {"id_number": "此服務項目需要 18 位身份證號碼"}
    done = work(rt, strict.number, "fix_request", "desk", {"request_action": "客戶放棄預約"})
    assert done.status == "completed"
    assert "end_withdrawn" in done.completed_elements


def test_change_in_time_is_rebooked_confirmed_and_reminded_at_the_new_time(rt, db, clock):
    case = book(rt)
    attend = open_task(rt, case.number, "attend")
    clock.set("2026-11-23T06:00:00+00:00")
    case = rt().send_message(case.number, "change_request", {"new_start": "2026-11-26T14:00"})

    assert case.data["change_count"] == 1
    assert case.data["appointment_at"] == THU_14
    assert booked_slots(db, case.number) == ["2026-11-26T06:00:00", "2026-11-26T06:30:00"]
    sent = messages(db, case.number)
    assert [m[0] for m in sent[2:]] == ["sms", "email"]
    assert sent[2][3].startswith("王美玲 您好：您的預約已改期：2026-11-26 14:00，淮海店 1號房")
    assert sent[3][2].startswith("預約改期：2026-11-26 14:00 facial")
    new_attend = open_task(rt, case.number, "attend")
    assert new_attend.id != attend.id
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("reminder_due", utc("2026-11-25T06:00:00+00:00"))
    ]
    # The Wednesday slot is free again: another customer gets it.
    other = book(rt, customer_name="陳小芳", phone="13900139000")
    assert other.data["booking"]["ok"] is True
    assert other.data["appointment_at"] == WED_10


def test_change_to_a_full_time_keeps_the_booking_or_moves_to_an_alternative(rt, db, clock):
    case = book(rt)
    book(rt, customer_name="陳小芳", phone="13900139000", appointment_at="2026-11-26T14:00")
    case = rt().send_message(case.number, "change_request", {"new_start": "2026-11-26T14:00"})
    assert case.data["rebooking"]["ok"] is False
    assert case.data["alternatives_local"] == ["2026-11-26 15:00"]
    assert booked_slots(db, case.number) == ["2026-11-25T02:00:00", "2026-11-25T02:30:00"]
    offer = open_task(rt, case.number, "offer_change_alternatives")
    assert offer.role == "service_desk"
    case = work(
        rt,
        case.number,
        "offer_change_alternatives",
        "desk",
        {"change_decision": "改到其他時段", "requested_start": "2026-11-26T15:00"},
        invalid={"change_decision": "改到其他時段"},
        errors={"requested_start"},
    )
    assert case.data["appointment_at"] == THU_15
    assert booked_slots(db, case.number) == ["2026-11-26T07:00:00", "2026-11-26T07:30:00"]

    # A second change to a full time: the customer keeps what she has.
    case = rt().send_message(case.number, "change_request", {"new_start": "2026-11-26T14:00"})
    case = work(
        rt, case.number, "offer_change_alternatives", "desk", {"change_decision": "維持原預約"}
    )
    assert case.data["appointment_at"] == THU_15
    assert [t.element_id for t in case.open_tasks] == ["attend"]


def test_late_change_is_refused_and_the_reminder_is_not_sent_twice(rt, db, clock):
    case = book(rt)
    clock.set("2026-11-24T02:00:00+00:00")
    assert fire_due_timers(rt()).fired == 1  # the reminder
    assert len(messages(db, case.number)) == 4

    clock.set("2026-11-24T03:00:00+00:00")  # 23 hours before
    case = rt().send_message(case.number, "change_request", {"new_start": "2026-11-26T14:00"})
    assert case.data["change_refusal"] == "預約時間前 24 小時內不能改期"
    assert case.data["appointment_at"] == WED_10
    assert booked_slots(db, case.number) == ["2026-11-25T02:00:00", "2026-11-25T02:30:00"]
    sent = messages(db, case.number)
    assert len(sent) == 5
    assert sent[4][3] == (
        "王美玲 您好：您的改期申請未能受理：預約時間前 24 小時內不能改期。"
        f"原預約 2026-11-25 10:00（預約號 {case.data['booking_ref']}）保持不變；如需取消請聯絡門店。\n"
    )
    assert open_task(rt, case.number, "attend").role == "store_ops"
    # The store waits again; the reminder's moment has passed (its timer ran out at once, in the
    # same step) and the reminder is not repeated.
    assert case.timers == []
    assert fire_due_timers(rt()).fired == 0
    assert len(messages(db, case.number)) == 5


def test_change_request_without_a_time_is_refused(rt, db):
    case = book(rt)
    case = rt().send_message(case.number, "change_request", {"note": "想改時間"})
    assert case.data["change_refusal"] == "未提供有效的新預約時間"
    assert [t.element_id for t in case.open_tasks] == ["attend"]


@pytest.mark.parametrize(
    ("now", "late"),
    [
        ("2026-11-23T06:00:00+00:00", False),  # Monday: two days ahead
        ("2026-11-24T02:00:00+00:00", False),  # exactly 24 hours before
        ("2026-11-24T09:00:00+00:00", True),  # Tuesday 17:00: 17 hours before
    ],
)
def test_cancellation_releases_the_slot_and_flags_a_late_one(rt, db, clock, now, late):
    case = book(rt)
    clock.set(now)
    case = rt().send_message(case.number, "cancel_request", {"reason": "臨時出差"})
    assert case.status == "completed"
    assert "end_cancelled" in case.completed_elements
    assert case.data["late_cancel_penalty"] is late
    assert case.data["cancel_reason"] == "臨時出差"
    assert case.data["released_bookings"] == 1
    assert booked_slots(db, case.number) == []
    body = messages(db, case.number)[-1][3]
    assert body.startswith("王美玲 您好：您 2026-11-25 10:00 的預約")
    assert ("違約金" in body) is late
    with pytest.raises(InvalidState):
        rt().send_message(case.number, "cancel_request", {})


def test_no_show_is_recorded(rt, clock):
    case = book(rt)
    clock.set("2026-11-25T03:00:00+00:00")
    case = work(rt, case.number, "attend", "shop", {"attendance": "未到店"}, role="store_ops")
    assert case.status == "completed"
    assert "end_no_show" in case.completed_elements
    assert case.data["no_show"] is True
    with pytest.raises(InvalidState):
        rt().send_message(case.number, "change_request", {"new_start": "2026-11-26T14:00"})


def test_booking_inside_the_reminder_window_gets_no_separate_reminder(rt, db, clock):
    clock.set("2026-11-24T03:00:00+00:00")  # Tuesday 11:00, 23 hours before the appointment
    case = book(rt)
    # The reminder's moment (Tuesday 10:00) has passed: its timer runs out in the same step and
    # the confirmation just sent stands in for the reminder.
    assert case.timers == []
    assert fire_due_timers(rt()).fired == 0
    assert [m[0] for m in messages(db, case.number)] == ["sms", "email"]
    assert [t.element_id for t in rt().get_case(case.number).open_tasks] == ["attend"]


def test_online_booking_form_checks_the_request_and_the_customer_cancels_online(rt, db):
    with pytest.raises(ValidationFailed) as refused:
        portal.book(
            rt(),
            "store_appointment",
            {"customer_name": "", "phone": "8888", "email": "x@", "appointment_at": "明天"},
        )
    assert set(refused.value.errors) == {
        "customer_name",
        "phone",
        "email",
        "appointment_at",
        "service_item",
    }
    number = portal.book(rt(), "store_appointment", {**CUSTOMER, "notes": "敏感肌"})
    case = rt().get_case(number)
    assert case.data["channel"] == "網上預約"
    assert case.data["booking"]["ok"] is True
    seen = portal.status(rt(), number, "13800138000")
    assert (seen.can_change, seen.can_cancel) == (True, True)
    assert seen.details["booking_ref"] == case.data["booking_ref"]
    portal.request_change(rt(), number, "13800138000", "cancel", {"reason": "改變主意"})
    case = rt().get_case(number)
    assert case.status == "completed"
    assert case.data["late_cancel_penalty"] is False
    assert booked_slots(db, number) == []
