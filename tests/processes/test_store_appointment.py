"""門店預約 (store_appointment) driven through the runtime, a new Runtime for every step.

Request checked for format and completeness (the service desk has the customer fix it, or the
customer gives up) → staff on shift and a free room booked in the database (when full: other
times offered, the customer picks one or gives up) → confirmation by SMS and e-mail → reminder
24 hours before → change (on time: rebooked and confirmed again; late: refused) or cancellation
(late: the service desk handles the penalty it announces) → the store records the arrival time
or a no-show → satisfaction form. The customer's messages name the item (面部護理, never its
code), the store with its address and the item's preparation notes, in company time.

The store: 淮海店 (上海市黃浦區淮海中路300號) with one beautician (facial) and one room. Her
shifts: Wednesday 25 November 10:00–11:00 (one 60-minute slot: the last free one) and Thursday
26 November 14:00–16:00.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.casework import portal
from engine.casework.desk import Desk
from engine.casework.kpi_rebuild import rebuild_kpis
from engine.casework.resources import (
    SlotBooking,
    add_resource,
    add_service_item,
    add_shift,
    add_store,
)
from engine.core.errors import InvalidState, ValidationFailed
from engine.identity.users import add_user
from engine.spiff import templating
from engine.store.tables import Case, Outbox, Task
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import fresh_open_task, utc, work

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
ADDRESS = "上海市黃浦區淮海中路300號"
NOTES = "請勿化妝；提前10分鐘到店"
# How every customer message names the booking: the item's name, the store with its address.
PLACE = f"淮海店 1號房（{ADDRESS}）"
THU_14, THU_1430, THU_15 = (
    "2026-11-26T06:00:00+00:00",
    "2026-11-26T06:30:00+00:00",
    "2026-11-26T07:00:00+00:00",
)


@pytest.fixture
def rt(runtime, fresh_runtime, db, settings, clock):
    for name, roles in {"desk": ["service_desk"], "shop": ["store_ops"]}.items():
        add_user(db, settings, name, roles, clock.now())
    with db.write() as session:
        add_store(session, "淮海店", ADDRESS)
        add_service_item(session, "facial", "面部護理", 60, "facial", prep_notes=NOTES + "。")
        beautician = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        add_shift(session, beautician.id, "2026-11-25T10:00", "2026-11-25T11:00")
        add_shift(session, beautician.id, "2026-11-26T14:00", "2026-11-26T16:00")
        session.commit()
    runtime.deploy(FILES, actor="owner")
    return fresh_runtime


def messages(db, number):
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        rows = session.scalars(
            select(Outbox).where(Outbox.case_id == case_id).order_by(Outbox.id)
        ).all()
        return [(r.channel, r.recipient, r.subject, r.body, r.attachments) for r in rows]


def task_rows(db, number):
    """The case's task rows by element (the last of each), as the store keeps them."""
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        rows = session.scalars(select(Task).where(Task.case_id == case_id).order_by(Task.id))
        return {row.element_id: row for row in rows}


def task_elements(db, number):
    return sorted(task_rows(db, number))


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
        f"王美玲 您好：您的預約已確認：2026-11-25 10:00，{PLACE}，服務項目 面部護理。"
        f"注意事項：{NOTES}。預約號 {ref}。如需改期或取消，請於預約時間 24 小時前通知門店。\n"
    )
    assert sent[1][2] == f"預約確認：2026-11-25 10:00 面部護理（{ref}）"
    assert sent[1][4][0]["filename"].endswith(".ics")
    assert "DTSTART" in sent[1][4][0]["text"]

    attend = fresh_open_task(rt, case.number, "attend")
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
        ("email", "預約提醒：2026-11-25 10:00 面部護理"),
    ]
    assert sent[2][3].startswith(f"王美玲 您好：提醒您即將到來的預約：2026-11-25 10:00，{PLACE}")
    assert fresh_open_task(rt, case.number, "attend").id == attend.id  # the store still waits
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
    assert fresh_open_task(rt, case.number, "satisfaction").due_at is None
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


JINGAN = "上海市靜安區南京西路1266號3樓"


def test_messages_show_item_names_store_address_and_preparation_notes(rt, db, clock):
    """Confirmation, alternatives, change confirmation and reminder, by SMS and e-mail: the
    item's name, the store's name and address and the item's notes, in company time."""
    with db.write() as session:
        add_store(session, "靜安店", JINGAN)
        beautician = add_resource(session, "staff", "美容師小周", "靜安店", ["facial"])
        add_resource(session, "room", "護理室", "靜安店")
        add_shift(session, beautician.id, "2026-11-25T13:00", "2026-11-25T14:00")
        session.commit()
    first = book(rt)
    ref = first.data["booking_ref"]
    assert (first.data["service_item_name"], first.data["store_address"]) == ("面部護理", ADDRESS)
    assert first.data["prep_notes"] == NOTES

    # The last Wednesday-morning slot is taken: the free times of both stores are offered.
    second = book(rt, customer_name="陳小芳", phone="13900139000", email="")
    assert second.data["alternative_places"] == [
        {"store": "靜安店", "address": JINGAN, "times": ["2026-11-25 13:00"]},
        {
            "store": "淮海店",
            "address": ADDRESS,
            "times": ["2026-11-26 14:00", "2026-11-26 14:30", "2026-11-26 15:00"],
        },
    ]
    assert messages(db, second.number)[0][3] == (
        "陳小芳 您好：您預約的 面部護理 時段無法安排（該時段已無空閒的人員或房間）。"
        f"可選時段：靜安店（{JINGAN}）：2026-11-25 13:00；"
        f"淮海店（{ADDRESS}）：2026-11-26 14:00、2026-11-26 14:30、2026-11-26 15:00。"
        f"注意事項：{NOTES}。客服將與您聯絡確認。\n"
    )
    second = work(
        rt,
        second.number,
        "offer_alternatives",
        "desk",
        {"alternative_decision": "選擇其他時段", "appointment_at": "2026-11-25T13:00"},
    )
    assert messages(db, second.number)[1][3] == (
        "陳小芳 您好：您的預約已確認：2026-11-25 13:00，"
        f"靜安店 護理室（{JINGAN}），服務項目 面部護理。注意事項：{NOTES}。"
        f"預約號 {second.data['booking_ref']}。如需改期或取消，請於預約時間 24 小時前通知門店。\n"
    )

    # Monday 14:00: the first customer moves to Thursday 14:00 and is confirmed again.
    clock.set("2026-11-23T06:00:00+00:00")
    first = rt().send_message(first.number, "change_request", {"new_start": THU_14})
    ref = first.data["booking_ref"]
    changed_sms, changed_mail = messages(db, first.number)[2:4]
    assert changed_sms[3] == (
        f"王美玲 您好：您的預約已改期：2026-11-26 14:00，{PLACE}，服務項目 面部護理。"
        f"注意事項：{NOTES}。預約號 {ref}。如需改期或取消，請於預約時間 24 小時前通知門店。\n"
    )
    assert changed_mail[2] == f"預約改期：2026-11-26 14:00 面部護理（{ref}）"
    assert changed_mail[3] == (
        "王美玲 您好：\n\n您的門店預約已改期。\n\n時間：2026-11-26 14:00\n門店：淮海店 1號房\n"
        f"地址：{ADDRESS}\n服務項目：面部護理\n注意事項：{NOTES}\n預約號：{ref}\n\n"
        "附件為日曆邀請。如需改期或取消，請於預約時間 24 小時前通知門店；"
        "逾時取消可能需按規定收取違約金。\n"
    )
    invitation = changed_mail[4][0]["text"].replace("\r\n ", "").replace("\n ", "")
    assert "SUMMARY:門店預約 面部護理" in invitation
    assert f"LOCATION:淮海店 1號房，{ADDRESS}" in invitation
    assert f"注意事項：{NOTES}" in invitation
    assert "DTSTART:20261126T060000Z" in invitation  # 14:00 in Shanghai

    # Wednesday 14:00, 24 hours before: the reminder by SMS and e-mail.
    clock.set("2026-11-25T06:00:00+00:00")
    assert fire_due_timers(rt()).fired == 2  # and the second customer's, due Tuesday 13:00
    reminder_sms, reminder_mail = messages(db, first.number)[4:]
    assert reminder_sms[3] == (
        f"王美玲 您好：提醒您即將到來的預約：2026-11-26 14:00，{PLACE}，服務項目 面部護理。"
        f"注意事項：{NOTES}。預約號 {ref}。\n"
    )
    assert reminder_mail[2] == "預約提醒：2026-11-26 14:00 面部護理"
    assert reminder_mail[3] == (
        "王美玲 您好：\n\n提醒您的門店預約：\n\n時間：2026-11-26 14:00\n門店：淮海店 1號房\n"
        f"地址：{ADDRESS}\n服務項目：面部護理\n注意事項：{NOTES}\n預約號：{ref}\n\n期待您的光臨。\n"
    )
    every = messages(db, first.number) + messages(db, second.number)
    assert all("facial" not in (m[2] or "") + m[3] for m in every)


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
            "陳小芳 您好：您預約的 面部護理 時段無法安排（該時段已無空閒的人員或房間）。"
            f"可選時段：淮海店（{ADDRESS}）：2026-11-26 14:00、2026-11-26 14:30、2026-11-26 15:00。"
            f"注意事項：{NOTES}。客服將與您聯絡確認。\n",
            None,
        )
    ]
    offer = fresh_open_task(rt, second.number, "offer_alternatives")
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
    assert fresh_open_task(rt, second.number, "attend").role == "store_ops"
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
    fix = fresh_open_task(rt, case.number, "fix_request")
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
    attend = fresh_open_task(rt, case.number, "attend")
    clock.set("2026-11-23T06:00:00+00:00")
    case = rt().send_message(case.number, "change_request", {"new_start": "2026-11-26T14:00"})

    assert case.data["change_count"] == 1
    assert case.data["appointment_at"] == THU_14
    assert booked_slots(db, case.number) == ["2026-11-26T06:00:00", "2026-11-26T06:30:00"]
    sent = messages(db, case.number)
    assert [m[0] for m in sent[2:]] == ["sms", "email"]
    assert sent[2][3] == (
        f"王美玲 您好：您的預約已改期：2026-11-26 14:00，{PLACE}，服務項目 面部護理。"
        f"注意事項：{NOTES}。預約號 {case.data['booking_ref']}。"
        "如需改期或取消，請於預約時間 24 小時前通知門店。\n"
    )
    assert sent[3][2] == f"預約改期：2026-11-26 14:00 面部護理（{case.data['booking_ref']}）"
    new_attend = fresh_open_task(rt, case.number, "attend")
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
    offer = fresh_open_task(rt, case.number, "offer_change_alternatives")
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
    assert fresh_open_task(rt, case.number, "attend").role == "store_ops"
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
    "now",
    [
        "2026-11-23T06:00:00+00:00",  # Monday: two days ahead
        "2026-11-24T02:00:00+00:00",  # exactly 24 hours before
    ],
)
def test_an_on_time_cancellation_releases_the_slot_and_creates_no_penalty_follow_up(
    rt, db, clock, now
):
    case = book(rt)
    clock.set(now)
    case = rt().send_message(case.number, "cancel_request", {"reason": "臨時出差"})
    assert case.status == "completed"
    assert case.outcome == "cancelled_by_customer"
    assert "end_cancelled" in case.completed_elements
    assert case.data["late_cancel_penalty"] is False
    assert case.data["cancel_reason"] == "臨時出差"
    assert case.data["cancelled_at"] == now
    assert case.data["released_bookings"] == 1
    assert booked_slots(db, case.number) == []
    assert messages(db, case.number)[-1][3] == (
        "王美玲 您好：您 2026-11-25 10:00 在 淮海店 的 面部護理 預約"
        f"（預約號 {case.data['booking_ref']}）已取消。\n"
    )
    assert "handle_penalty" not in task_elements(db, case.number)
    with pytest.raises(InvalidState):
        rt().send_message(case.number, "cancel_request", {})


def test_a_late_cancellation_creates_the_penalty_follow_up_it_announces(rt, db, clock):
    # The fee schedule's amount is a process parameter (default:late_cancel_fee).
    case = book(rt, late_cancel_fee=80)
    ref = case.data["booking_ref"]
    clock.set("2026-11-24T09:00:00+00:00")  # Tuesday 17:00: 17 hours before
    case = rt().send_message(case.number, "cancel_request", {"reason": "臨時出差"})
    assert case.data["late_cancel_penalty"] is True
    assert case.data["cancelled_at"] == "2026-11-24T09:00:00+00:00"
    assert booked_slots(db, case.number) == []  # the slot is free at once
    assert messages(db, case.number)[-1][3] == (
        f"王美玲 您好：您 2026-11-25 10:00 在 淮海店 的 面部護理 預約（預約號 {ref}）已取消。"
        "由於取消時距預約時間不足 24 小時，按規定需收取違約金 80 元，客服將與您聯絡處理。\n"
    )
    # What the message announces is now the service desk's task; the case waits for it.
    assert case.status == "running"
    penalty = fresh_open_task(rt, case.number, "handle_penalty")
    assert (penalty.name, penalty.role, penalty.due_at) == (
        "處理逾時取消違約金",
        "service_desk",
        None,
    )
    assert penalty.created_at == utc("2026-11-24T09:00:00+00:00")
    shown = templating.render(penalty.instructions, rt().task_data(penalty.id))
    assert "2026-11-25 10:00 在 淮海店 的 面部護理 預約" in shown
    assert "原因：臨時出差" in shown and "應收 80 元" in shown
    with pytest.raises(InvalidState):  # the booking is gone: nothing left to cancel
        rt().send_message(case.number, "cancel_request", {})

    clock.set("2026-11-24T10:30:00+00:00")
    done = work(
        rt,
        case.number,
        "handle_penalty",
        "desk",
        {"penalty_decision": "收取違約金", "penalty_amount": 80, "contact_note": "客戶同意"},
        invalid={"penalty_decision": "收取違約金", "penalty_amount": 120},
        errors={"penalty_amount"},  # more than the fee schedule allows
    )
    assert done.status == "completed"
    assert done.outcome == "cancelled_by_customer"
    assert "end_cancelled" in done.completed_elements
    assert (done.data["penalty_charged"], done.data["penalty_handled_at"]) == (
        80,
        "2026-11-24T10:30:00+00:00",
    )
    handled = task_rows(db, case.number)["handle_penalty"]
    assert handled.completed_by == "desk"
    assert handled.completed_at == utc("2026-11-24T10:30:00+00:00")
    assert handled.data["penalty_decision"] == "收取違約金"
    assert messages(db, case.number)[-1][3] == (
        f"王美玲 您好：您 2026-11-25 10:00 的 面部護理 預約（預約號 {ref}）逾時取消，"
        "按規定收取違約金 80 元。如有疑問請聯絡客服。\n"
    )


def test_a_late_cancellation_penalty_may_be_waived_with_its_reason(rt, db, clock):
    case = book(rt)
    clock.set("2026-11-25T01:00:00+00:00")  # an hour before
    case = rt().send_message(case.number, "cancel_request", {"reason": "颱風"})
    assert "違約金 100 元" in messages(db, case.number)[-1][3]
    done = work(
        rt,
        case.number,
        "handle_penalty",
        "desk",
        {"penalty_decision": "減免違約金", "waiver_reason": "颱風停運，不可抗力"},
        invalid={"penalty_decision": "減免違約金"},
        errors={"waiver_reason"},
    )
    assert done.status == "completed" and done.outcome == "cancelled_by_customer"
    assert done.data["penalty_charged"] == 0
    assert done.data["penalty_waiver_reason"] == "颱風停運，不可抗力"
    assert messages(db, case.number)[-1][3].endswith(
        "逾時取消，違約金已減免（颱風停運，不可抗力）。如有疑問請聯絡客服。\n"
    )


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


def test_on_time_arrival_is_recorded_and_counted_in_the_on_time_rate(rt, db, clock, settings):
    """Five appointments on Thursday afternoon and Friday morning, arrivals recorded by the
    store: on time (early, and to the minute), late, a no-show, and one cancelled in time.
    By hand: 3 promises with an arrival, 2 kept → on-time rate 2/3. The no-show has no arrival:
    it counts as a no-show, not as a promise; booking success is 3 served of 5 ended."""
    with db.write() as session:
        for name in ("美容師小陳", "美容師小王"):
            extra = add_resource(session, "staff", name, "淮海店", ["facial"])
            add_shift(session, extra.id, "2026-11-26T14:00", "2026-11-26T16:00")
        add_resource(session, "room", "2號房", "淮海店")
        add_resource(session, "room", "3號房", "淮海店")
        session.commit()
    early = book(rt, appointment_at="2026-11-26T14:00")
    exact = book(rt, customer_name="陳小芳", phone="13900139000", appointment_at="2026-11-26T14:00")
    late = book(rt, customer_name="李文", phone="13700137000", appointment_at="2026-11-26T15:00")
    absent = book(rt, customer_name="張偉", phone="13600136000", appointment_at="2026-11-26T15:00")
    cancelled = book(
        rt, customer_name="劉婷", phone="13500135000", appointment_at="2026-11-26T14:00"
    )
    assert all(c.data["booking"]["ok"] for c in (early, exact, late, absent, cancelled))
    rt().send_message(cancelled.number, "cancel_request", {"reason": "改天"})

    def arrive(case, at, now):
        clock.set(now)
        work(
            rt,
            case.number,
            "attend",
            "shop",
            {"attendance": "已到店", "arrived_at": at, "served_by": "美容師"},
        )
        score = {"satisfaction_score": 4, "on_time": True, "staff_attitude": "好"}
        return work(rt, case.number, "satisfaction", "shop", score)

    served = arrive(early, "2026-11-26T13:50", "2026-11-26T07:00:00+00:00")
    assert served.data["arrived_at"] == "2026-11-26T13:50"
    arrive(exact, "2026-11-26T14:00", "2026-11-26T07:00:00+00:00")
    arrive(late, "2026-11-26T15:20", "2026-11-26T08:00:00+00:00")
    clock.set("2026-11-26T08:00:00+00:00")
    work(rt, absent.number, "attend", "shop", {"attendance": "未到店", "arrived_at": THU_15})

    # Each case keeps the promised and the actual time (UTC), to the minute.
    with db.read() as session:
        kept = {
            c.number: (c.promised_at, c.served_at, c.outcome)
            for c in session.scalars(select(Case).where(Case.process_key == "store_appointment"))
        }
    assert kept == {
        early.number: (utc(THU_14), utc("2026-11-26T05:50:00+00:00"), "served"),
        exact.number: (utc(THU_14), utc(THU_14), "served"),
        late.number: (utc(THU_15), utc("2026-11-26T07:20:00+00:00"), "served"),
        absent.number: (utc(THU_15), None, "no_show"),  # an arrival typed by mistake is dropped
        cancelled.number: (utc(THU_14), None, "cancelled_by_customer"),
    }

    # The dashboard's figures for November (what /dashboard shows), from the rollup the steps
    # kept, and the same once it is rebuilt from the case and task rows.
    (november,) = Desk(rt()).period_kpis("2026-11", "store_appointment")
    assert november.on_time_rate == round(2 / 3, 4) == 0.6667
    assert (november.cases_ended, november.cases_served, november.no_shows) == (5, 3, 1)
    assert november.booking_success_rate == 0.6
    assert november.overdue_count == 1  # the late arrival; no task of the process has a due time
    rebuild_kpis(db, settings.timezone)
    assert Desk(rt()).period_kpis("2026-11", "store_appointment") == [november]
