"""簽約服務預約 (seed 000): the booking from request to feedback, with its branches.

Every step uses a new Runtime, so each step also proves the case was saved and loads again.
Times: the clock starts on Monday 2026-11-23 09:30 in Shanghai (01:30 UTC); the appointment
asked for in most cases is Thursday 2026-11-26 10:00 (02:00 UTC), three working days ahead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.casework import portal
from engine.casework.directory import Person, PersonKind, add_person
from engine.core.errors import InvalidState, ValidationFailed
from engine.identity.users import add_user
from engine.spiff import templating
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import case_outbox, shown, undrawn, utc

ROOT = Path(__file__).resolve().parents[2]
KEY = "signed_service_booking"
FILES = [
    ROOT / "processes" / f"{KEY}.bpmn",
    *sorted((ROOT / "forms").glob(f"{KEY}.*.json")),
]
PHONE = "+86 138 0000 0001"
REQUEST = {
    "customer_name": "陳大文",
    "phone": "+86 138 0000 0001",
    "email": "chen@example.com",
    "service_item": "合同起草",
    "appointment_at": "2026-11-26T10:00",
    "notes": "股權轉讓合同",
}
ACCEPT = {
    "review_decision": "受理",
    "important": False,
    "location": "上海市浦東新區世紀大道 100 號 12 樓",
    "preparation_notes": "請攜帶營業執照副本及合同草稿",
}
PREPARED = {
    "contacted_at": "2026-11-24T10:00",
    "contact_method": "電話",
    "customer_needs": "轉讓 30% 股權,需附回購條款",
    "materials_ready": True,
}


@pytest.fixture
def booking(runtime, db, settings, clock):
    """Deployed process, staff of every role taking part, and three lawyers in the directory."""
    runtime.deploy(FILES, actor="owner")
    for name, roles in {
        "alice": ["service_desk"],
        "sue": ["supervisor"],
        "pat": ["specialist"],
        "fay": ["finance"],
    }.items():
        add_user(db, settings, name, roles, clock.now())
    with db.write() as session:
        add_person(session, PersonKind.PROFESSIONAL, "王律師", "+86 139 0000 0002", None,
                   ["合同起草"], experience_years=12)  # fmt: skip
        add_person(session, PersonKind.PROFESSIONAL, "李律師", "+86 139 0000 0003", None,
                   ["合同起草"], experience_years=3)  # fmt: skip
        add_person(session, PersonKind.PROFESSIONAL, "張會計師", "+86 139 0000 0004", None,
                   ["財務審計"], experience_years=8)  # fmt: skip
        session.commit()
    return runtime


def open_task(rt, number, element_id):
    """The one open task of the case at that element (read from the task table)."""
    tasks = [
        t
        for t in rt.list_tasks(case=number, status=("open", "claimed"))
        if t.element_id == element_id
    ]
    assert len(tasks) == 1, [(t.element_id, t.role) for t in rt.list_tasks(case=number)]
    return tasks[0]


def shown_text(rt, task) -> str:
    """The task's instructions rendered with the task's own data."""
    return templating.render(task.instructions, rt.task_data(task.id))


def complete(new_rt, number, element_id, data, user):
    rt = new_rt()
    task = open_task(rt, number, element_id)
    shown(rt, number, task)
    return rt.complete_task(task.id, data, user)


def rejected(new_rt, number, element_id, data, user) -> set[str]:
    """Submit invalid data; the form refuses it field by field and the task stays open."""
    rt = new_rt()
    task = open_task(rt, number, element_id)
    with pytest.raises(ValidationFailed) as failure:
        rt.complete_task(task.id, data, user)
    assert open_task(rt, number, element_id).status == "open"
    assert all(failure.value.errors.values())  # a message for every field named
    return set(failure.value.errors)


def sent(db, number) -> list[tuple[str, str]]:
    """(channel, first line of the body) of every message queued for the case."""
    return [(row.channel, row.body.splitlines()[0]) for row in case_outbox(db, number)]


def confirmed_booking(new_rt, clock, request=None, review=None) -> str:
    """Request → accepted by the service desk → professional assigned → confirmation sent."""
    number = new_rt().start_case(KEY, {**REQUEST, **(request or {})}, actor="alice").number
    clock.set("2026-11-23T02:00:00+00:00")  # Monday 10:00
    complete(new_rt, number, "review_request", {**ACCEPT, **(review or {})}, "alice")
    return number


def person(db, name: str) -> Person:
    with db.read() as session:
        return session.scalars(select(Person).where(Person.name == name)).one()


def history(rt, number, kind: str) -> list[dict]:
    return [e.detail for e in rt.get_case(number, history_limit=500).history if e.kind == kind]


def serve_and_rate(new_rt, clock, number, rating: int):
    """Preparation → an hour before the appointment the service opens → served, signed off →
    the customer rates it."""
    complete(new_rt, number, "prepare_contact", PREPARED, "pat")
    due = [
        t.due_at for t in new_rt().get_case(number).timers if t.element_id == "wait_for_appointment"
    ]
    clock.set(due[0].isoformat())
    fire_due_timers(new_rt())
    complete(new_rt, number, "deliver_service", {
        "served_at": "2026-11-26T10:00", "service_notes": "已完成", "result_explained": True,
    }, "pat")  # fmt: skip
    complete(new_rt, number, "sign_off", {
        "feedback_form_signed": True, "documents_archived": True, "archive_reference": "SB-A-9",
    }, "pat")  # fmt: skip
    return new_rt().send_message(number, "feedback", {"rating": rating, "comment": ""})


# ----- deployment ------------------------------------------------------------------------------


def test_deploys_with_a_layout_for_every_element(runtime):
    deployed = runtime.deploy(FILES)
    assert {d.key for d in deployed if d.kind == "process"} == {KEY}
    nodes, flows, lanes = undrawn(FILES[0])
    assert nodes == set()
    assert flows == set()
    assert lanes == set()


# ----- main path -------------------------------------------------------------------------------


def test_booking_from_request_to_rating(booking, fresh_runtime, clock, db):
    # The customer books on the web page; the form is checked field by field first.
    page = portal.page(fresh_runtime(), KEY)
    assert page.title == "簽約服務預約"
    with pytest.raises(ValidationFailed) as failure:
        portal.book(fresh_runtime(), KEY, {
            "service_item": "算命", "appointment_at": "下週四", "customer_name": "陳大文",
            "phone": "電話", "email": "chen@",
        })  # fmt: skip
    assert set(failure.value.errors) == {"service_item", "appointment_at", "phone", "email"}
    number = portal.book(fresh_runtime(), KEY, REQUEST)
    assert number.startswith("SB-20261123-")
    case = fresh_runtime().get_case(number)
    assert case.data["booking_status"] == "待審核"
    assert case.data["problems"] == []
    assert sent(db, number) == [
        (
            "sms",
            f"陳大文 您好：已收到您的預約申請，預約編號 {number}。服務項目：合同起草；希望時間：2026-11-26 10:00。我們將在 2 個工作日內審核並通知您結果。",
        )
    ]
    booked = portal.status(fresh_runtime(), number, PHONE)
    assert (booked.steps, booked.can_change, booked.can_cancel) == (["審核預約申請"], False, False)

    # Review within 2 working days: Monday 09:30 → Wednesday 09:30.
    review = open_task(fresh_runtime(), number, "review_request")
    assert (review.role, review.name) == ("service_desk", "審核預約申請")
    assert review.due_at == utc("2026-11-25T01:30:00+00:00")
    assert "系統檢查未發現問題" in shown(fresh_runtime(), number, review)

    clock.set("2026-11-23T02:00:00+00:00")
    case = complete(fresh_runtime, number, "review_request",
                    {**ACCEPT, "important": True}, "alice")  # fmt: skip
    # An important customer gets the most experienced lawyer for the item.
    assert case.data["professional_name"] == "王律師"
    assert case.data["booking_status"] == "已確認"
    rows = case_outbox(db, number)
    assert [(r.channel, r.recipient) for r in rows[1:]] == [
        ("sms", "+86 138 0000 0001"),
        ("email", "chen@example.com"),
    ]
    email = rows[2]
    assert email.subject == f"預約確認 {number}"
    assert "時間：2026-11-26 10:00" in email.body and "專業人員：王律師" in email.body
    assert "請攜帶營業執照副本及合同草稿" in email.body
    assert email.attachments[0]["filename"].endswith(".ics")
    assert "DTSTART:20261126T020000Z" in email.attachments[0]["text"]

    # The professional prepares; the task is due one working day before the appointment.
    prepare = open_task(fresh_runtime(), number, "prepare_contact")
    assert prepare.role == "specialist"
    assert prepare.due_at == utc("2026-11-25T02:00:00+00:00")
    assert rejected(fresh_runtime, number, "prepare_contact",
                    {"contact_method": "飛鴿", "materials_ready": False}, "pat") == {
        "contacted_at", "contact_method", "customer_needs", "materials_ready"
    }  # fmt: skip
    clock.set("2026-11-24T02:00:00+00:00")
    case = complete(fresh_runtime, number, "prepare_contact", PREPARED, "pat")
    assert case.open_tasks == []
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("wait_for_appointment", utc("2026-11-26T01:00:00+00:00"))
    ]

    # An hour before the appointment the service task opens.
    clock.set("2026-11-26T01:00:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    service = open_task(fresh_runtime(), number, "deliver_service")
    # Too late to change or cancel on the web page now: the customer is told to call.
    with pytest.raises(InvalidState, match="please call customer service"):
        portal.request_change(fresh_runtime(), number, PHONE, "cancel", {"reason": "不去了"})
    assert service.role == "specialist"
    assert rejected(fresh_runtime, number, "deliver_service",
                    {"served_at": "明天", "service_notes": ""}, "pat") == {
        "served_at", "service_notes", "result_explained"
    }  # fmt: skip
    clock.set("2026-11-26T04:00:00+00:00")
    complete(fresh_runtime, number, "deliver_service", {
        "served_at": "2026-11-26T10:00", "service_notes": "已起草股權轉讓合同初稿",
        "result_explained": True, "advice": "簽約前核實對方股東會決議",
    }, "pat")  # fmt: skip

    assert rejected(fresh_runtime, number, "sign_off",
                    {"feedback_form_signed": False, "documents_archived": True}, "pat") == {
        "not_signed_reason", "archive_reference"
    }  # fmt: skip
    case = complete(fresh_runtime, number, "sign_off", {
        "feedback_form_signed": True, "documents_archived": True, "archive_reference": "SB-A-0001",
    }, "pat")  # fmt: skip
    assert case.data["booking_status"] == "已服務"
    assert "await_feedback" in case.active_elements
    assert sent(db, number)[-1][1].startswith("陳大文 您好：感謝您使用「合同起草」服務")

    # The customer rates the service; the rating goes on the lawyer's profile.
    case = fresh_runtime().send_message(number, "feedback", {"rating": 5, "comment": ""})
    assert case.status == "completed"
    assert case.data["booking_status"] == "已結案"
    assert case.data["satisfaction_rating"] == 5
    with db.read() as session:
        wang = session.scalars(select(Person).where(Person.name == "王律師")).one()
        assert (wang.rating_avg, wang.rating_count) == (5.0, 1)


def test_ordinary_customer_gets_the_best_rated_and_no_professional_means_a_supervisor_task(
    booking, fresh_runtime, clock, db
):
    number = confirmed_booking(fresh_runtime, clock, {"service_item": "法律咨詢"})
    case = fresh_runtime().get_case(number)
    assert case.data["booking_status"] == "已受理"
    choose = open_task(fresh_runtime(), number, "choose_professional")
    assert choose.role == "supervisor"
    assert rejected(fresh_runtime, number, "choose_professional",
                    {"professional_phone": "call me"}, "sue") == {
        "professional_name", "professional_phone"
    }  # fmt: skip
    case = complete(fresh_runtime, number, "choose_professional",
                    {"professional_name": "趙律師", "professional_phone": "+86 139 0000 0009"},
                    "sue")  # fmt: skip
    assert case.data["booking_status"] == "已確認"
    assert "專業人員：趙律師" in case_outbox(db, number)[-1].body
    assert open_task(fresh_runtime(), number, "prepare_contact").role == "specialist"
    # 趙律師 was not in the directory: she is added to it, as offering the item.
    zhao = person(db, "趙律師")
    assert (zhao.kind, zhao.phone, zhao.skills) == (
        "professional",
        "+86 139 0000 0009",
        ["法律咨詢"],
    )
    assert case.data["professional_id"] == zhao.id
    assert {"text": "人工分配的趙律師不在專業人員名錄中,已登記到名錄"} in history(
        fresh_runtime(), number, "script_output"
    )


# ----- the customer's chosen professional; ratings whoever was assigned ------------------------


def test_chosen_professional_is_honoured_when_available(booking, fresh_runtime, clock, db):
    # The directory would pick 王律師 (more experience); the customer asked for 李律師.
    number = confirmed_booking(fresh_runtime, clock, {"preferred_professional": "李律師"})
    case = fresh_runtime().get_case(number)
    assert (case.data["professional_name"], case.data["assigned_by"]) == ("李律師", "客戶指定")
    assert case.data["preference_note"] == ""
    body = case_outbox(db, number)[-1].body
    assert "專業人員：李律師" in body and "您指定的" not in body
    # She is held for the appointment (Thursday 10:00 for two hours).
    assert history(fresh_runtime(), number, "professional_assigned")[-1] == {
        "person_id": person(db, "李律師").id, "skill": "合同起草", "taken": True,
        "start": "2026-11-26T02:00:00+00:00", "end": "2026-11-26T04:00:00+00:00",
    }  # fmt: skip


def test_chosen_professional_is_honoured_when_available_busy_at_that_time_falls_back(
    booking, fresh_runtime, clock, db
):
    first = confirmed_booking(fresh_runtime, clock, {"preferred_professional": "李律師"})
    assert fresh_runtime().get_case(first).data["professional_name"] == "李律師"

    # Another customer wants 李律師 at 11:00 the same morning, while she is with the first one.
    second = confirmed_booking(fresh_runtime, clock, {
        "preferred_professional": "李律師", "appointment_at": "2026-11-26T11:00",
    })  # fmt: skip
    case = fresh_runtime().get_case(second)
    assert (case.data["professional_name"], case.data["assigned_by"]) == (
        "王律師",
        "系統按服務項目分配",
    )
    why = "客戶指定的李律師在該時段已有其他預約,改按服務項目安排"
    assert case.data["preference_note"] == why
    assert {"text": why} in history(fresh_runtime(), second, "script_output")
    assert (
        "您指定的李律師在該時段已有其他預約，已為您安排王律師，敬請見諒。"
        in case_outbox(db, second)[-1].body
    )

    # On Friday she is free.
    third = confirmed_booking(fresh_runtime, clock, {
        "preferred_professional": "李律師", "appointment_at": "2026-11-27T10:00",
    })  # fmt: skip
    assert fresh_runtime().get_case(third).data["professional_name"] == "李律師"

    # Once the first booking is cancelled she is free on Thursday too.
    fresh_runtime().send_message(first, "cancel_request", {})
    complete(fresh_runtime, first, "handle_cancellation", {"force_majeure": False}, "alice")
    fourth = confirmed_booking(
        fresh_runtime,
        clock,
        {"preferred_professional": "李律師", "appointment_at": "2026-11-26T10:30"},
    )
    assert fresh_runtime().get_case(fourth).data["professional_name"] == "李律師"
    # The directory's own choice passes over whoever is taken too: at 12:30 王律師 is still with
    # the second customer (until 13:00), 李律師 is free again.
    fifth = confirmed_booking(fresh_runtime, clock, {"appointment_at": "2026-11-26T12:30"})
    assert fresh_runtime().get_case(fifth).data["professional_name"] == "李律師"


def test_chosen_professional_is_honoured_when_available_not_offering_the_item_or_unavailable(
    booking, fresh_runtime, clock, db
):
    number = confirmed_booking(fresh_runtime, clock, {"preferred_professional": "張會計師"})
    case = fresh_runtime().get_case(number)
    assert case.data["professional_name"] == "王律師"
    why = "客戶指定的張會計師不提供「合同起草」服務,改按服務項目安排"
    assert {"text": why} in history(fresh_runtime(), number, "script_output")

    with db.write() as session:
        session.scalars(select(Person).where(Person.name == "李律師")).one().available = False
        session.commit()
    number = confirmed_booking(
        fresh_runtime,
        clock,
        {"preferred_professional": "李律師", "appointment_at": "2026-11-27T10:00"},
    )
    case = fresh_runtime().get_case(number)
    assert case.data["professional_name"] == "王律師"
    assert case.data["preference_note"] == "客戶指定的李律師暫停接單,改按服務項目安排"

    # Nobody offers the item: the supervisor's task says why the customer's choice was not taken.
    number = confirmed_booking(fresh_runtime, clock, {
        "service_item": "法律咨詢", "preferred_professional": "錢律師",
    })  # fmt: skip
    choose = open_task(fresh_runtime(), number, "choose_professional")
    assert shown(fresh_runtime(), number, choose).startswith(
        "客戶指定的錢律師不在專業人員名錄中,改按服務項目安排。"
    )


def test_ratings_are_stored_for_manually_assigned_professionals(booking, fresh_runtime, clock, db):
    # Nobody offers 法律咨詢: the supervisor assigns 張會計師 by hand (his phone as she knows it).
    number = confirmed_booking(fresh_runtime, clock, {"service_item": "法律咨詢"})
    case = complete(fresh_runtime, number, "choose_professional", {
        "professional_name": "張會計師", "professional_phone": "139-0000-0004",
    }, "sue")  # fmt: skip
    zhang = person(db, "張會計師")
    assert (case.data["professional_id"], case.data["assigned_by"]) == (zhang.id, "人工分配")
    assert (zhang.rating_avg, zhang.rating_count) == (None, 0)
    case = serve_and_rate(fresh_runtime, clock, number, 4)
    assert case.status == "completed"
    zhang = person(db, "張會計師")
    assert (zhang.rating_avg, zhang.rating_count) == (4.0, 1)
    assert history(fresh_runtime(), number, "rating_recorded") == [
        {"person_id": zhang.id, "score": 4}
    ]


def test_ratings_are_stored_for_manually_assigned_professionals_and_for_the_chosen_one(
    booking, fresh_runtime, clock, db
):
    # The customer's own choice, 李律師, serves and is rated: her profile, not 王律師's.
    number = confirmed_booking(fresh_runtime, clock, {"preferred_professional": "李律師"})
    serve_and_rate(fresh_runtime, clock, number, 5)
    assert (person(db, "李律師").rating_avg, person(db, "李律師").rating_count) == (5.0, 1)
    assert person(db, "王律師").rating_count == 0


# ----- review: return, resubmission, withdrawal, expiry, escalation ----------------------------


def test_returned_request_is_corrected_and_resubmitted(booking, fresh_runtime, clock, db):
    number = (
        fresh_runtime()
        .start_case(KEY, {**REQUEST, "appointment_at": "2026-11-23T20:00"}, actor="alice")
        .number
    )
    case = fresh_runtime().get_case(number)
    assert case.data["problems"] == [
        "預約時間不在可預約時段內(工作日辦公時間,法定節假日除外)",
        "未按規定提前 1 個工作日預約",
    ]
    # Asked for this evening: the review could not be done a working day before it, so it is
    # the supervisor's at once.
    assert case.data["review_late"] is True
    assert rejected(fresh_runtime, number, "review_escalated", {"review_decision": "受理"},
                    "sue") == {"important", "location", "preparation_notes"}  # fmt: skip
    assert rejected(fresh_runtime, number, "review_escalated",
                    {"review_decision": "退回修改", "important": False}, "sue") == {
        "return_reason", "guidance"
    }  # fmt: skip
    case = complete(fresh_runtime, number, "review_escalated", {
        "review_decision": "退回修改", "important": False,
        "return_reason": "預約時間不在可預約時段", "guidance": "請選擇工作日 09:00–17:00 的時間",
    }, "sue")  # fmt: skip
    assert case.data["booking_status"] == "退回修改"
    assert case.open_tasks == [] and "await_correction" in case.active_elements
    returned = case_outbox(db, number)[-2:]
    assert [r.channel for r in returned] == ["sms", "email"]
    assert "原因：預約時間不在可預約時段" in returned[1].body
    assert "請選擇工作日 09:00–17:00 的時間" in returned[1].body

    # The customer corrects the time; the request is checked and reviewed again.
    clock.set("2026-11-24T01:00:00+00:00")
    with pytest.raises(InvalidState):
        fresh_runtime().send_message(number, "change_request", {"new_start": "x"})
    case = fresh_runtime().send_message(
        number, "resubmission", {"appointment_at": "2026-11-27T14:00"}
    )
    assert case.data["resubmission_count"] == 1
    assert case.data["problems"] == []
    assert "已收到您修改後的預約申請" in sent(db, number)[-1][1]
    review = open_task(fresh_runtime(), number, "review_request")
    # The new review clock starts at the resubmission (Tuesday 09:00 → Thursday 09:00).
    assert review.due_at == utc("2026-11-26T01:00:00+00:00")
    case = complete(fresh_runtime, number, "review_request", ACCEPT, "alice")
    assert case.data["booking_status"] == "已確認"
    assert case.data["appointment_at"] == "2026-11-27T14:00"
    assert case.data["professional_name"] == "王律師"  # not rated yet: more experience first


def test_returned_request_is_withdrawn(booking, fresh_runtime, clock, db):
    # The start form refuses this request; the process's own check is for data that did not
    # come through it (an internal start), so the test starts the way the engine's callers do.
    bad = {**REQUEST, "service_item": ""}
    number = fresh_runtime().start_case(KEY, bad, prevalidated=True).number
    assert fresh_runtime().get_case(number).data["problems"] == ["缺少服務項目"]
    complete(fresh_runtime, number, "review_request", {
        "review_decision": "退回修改", "important": False,
        "return_reason": "未選擇服務項目", "guidance": "請選擇需要預約的服務項目",
    }, "alice")  # fmt: skip
    case = fresh_runtime().send_message(number, "withdrawal", {"reason": "已找到其他律師"})
    assert case.status == "completed"
    assert case.data["booking_status"] == "已撤回"
    assert case.data["withdrawal_reason"] == "已找到其他律師"
    assert sent(db, number)[-1] == (
        "sms",
        f"陳大文 您好：您的預約申請（編號 {number}）已按您的要求撤回。歡迎隨時再次預約。",
    )


def test_unanswered_return_is_closed_after_the_correction_period(booking, fresh_runtime, clock):
    number = fresh_runtime().start_case(KEY, REQUEST).number
    complete(fresh_runtime, number, "review_request", {
        "review_decision": "退回修改", "important": False,
        "return_reason": "資料不全", "guidance": "請補充合同草稿",
    }, "alice")  # fmt: skip
    # Five working days from Monday 09:30 is the next Monday 09:30.
    assert [(t.element_id, t.due_at) for t in fresh_runtime().get_case(number).timers] == [
        ("correction_overdue", utc("2026-11-30T01:30:00+00:00"))
    ]
    clock.set("2026-11-30T01:30:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    case = fresh_runtime().get_case(number)
    assert (case.status, case.data["booking_status"]) == ("completed", "逾期關閉")


def test_review_not_done_in_two_working_days_goes_to_the_supervisor(
    booking, fresh_runtime, clock, db
):
    number = fresh_runtime().start_case(KEY, REQUEST).number
    review = open_task(fresh_runtime(), number, "review_request")

    clock.set("2026-11-25T01:29:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 0
    clock.set("2026-11-25T01:30:00+00:00")  # Wednesday 09:30
    assert fire_due_timers(fresh_runtime()).fired == 1
    case = fresh_runtime().get_case(number)
    assert [(t.element_id, t.role) for t in case.open_tasks] == [("review_escalated", "supervisor")]
    assert [t.status for t in fresh_runtime().list_tasks(case=number) if t.id == review.id] == [
        "cancelled"
    ]
    case = complete(fresh_runtime, number, "review_escalated", ACCEPT, "sue")
    assert case.data["booking_status"] == "已確認"
    assert open_task(fresh_runtime(), number, "prepare_contact").role == "specialist"


# ----- the review deadline never falls after the appointment ----------------------------------

DAY_AFTER_TOMORROW = {**REQUEST, "appointment_at": "2026-11-25T09:00"}  # Wednesday 09:00


def test_review_deadline_never_falls_after_the_appointment(booking, fresh_runtime, clock, db):
    # Two working days from Monday 09:30 would be Wednesday 09:30, after a Wednesday 09:00
    # appointment: the review is due a working day before it, Tuesday 09:00.
    number = fresh_runtime().start_case(KEY, DAY_AFTER_TOMORROW, actor="alice").number
    review = open_task(fresh_runtime(), number, "review_request")
    assert review.due_at == utc("2026-11-24T01:00:00+00:00")
    assert review.due_at < utc("2026-11-25T01:00:00+00:00")
    assert "請於 2026-11-24 09:00 前審核(預約時間較近" in shown(fresh_runtime(), number, review)
    assert sent(db, number)[0][1].endswith("我們將在 2026-11-24 09:00 前審核並通知您結果。")
    # A request with time to spare keeps the two working days (Thursday's: Wednesday 09:30).
    other = fresh_runtime().start_case(KEY, REQUEST, actor="alice").number
    assert open_task(fresh_runtime(), other, "review_request").due_at == utc(
        "2026-11-25T01:30:00+00:00"
    )


def test_review_deadline_never_falls_after_the_appointment_escalates_at_the_earlier_time(
    booking, fresh_runtime, clock, db
):
    number = fresh_runtime().start_case(KEY, DAY_AFTER_TOMORROW, actor="alice").number
    clock.set("2026-11-24T00:59:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 0
    clock.set("2026-11-24T01:00:00+00:00")  # Tuesday 09:00
    assert fire_due_timers(fresh_runtime()).fired == 1
    escalated = open_task(fresh_runtime(), number, "review_escalated")
    assert escalated.role == "supervisor"
    # The supervisor has until the appointment itself.
    assert escalated.due_at == utc("2026-11-25T01:00:00+00:00")
    text = shown(fresh_runtime(), number, escalated)
    assert "客服未能在審核期限(2026-11-24 09:00)前審核此預約申請,已轉主管處理" in text
    case = complete(fresh_runtime, number, "review_escalated", ACCEPT, "sue")
    assert case.data["booking_status"] == "已確認"


def test_review_deadline_never_falls_after_the_appointment_a_request_too_close_goes_to_the_supervisor(
    booking, fresh_runtime, clock, db
):
    # Monday 09:30, urgent, for Tuesday 09:00: a working day before it was Monday 09:00.
    request = {**REQUEST, "appointment_at": "2026-11-24T09:00", "urgent": True}
    number = fresh_runtime().start_case(KEY, request, actor="alice").number
    case = fresh_runtime().get_case(number)
    assert (case.data["review_late"], case.data["problems"]) == (True, [])
    assert [(t.element_id, t.due_at) for t in case.open_tasks] == [
        ("review_escalated", utc("2026-11-24T01:00:00+00:00"))
    ]
    assert "review_request" not in {t.element_id for t in fresh_runtime().list_tasks(case=number)}
    assert "直接由主管審核" in shown(fresh_runtime(), number, case.open_tasks[0])
    assert sent(db, number)[0][1].endswith("由於距預約時間較近，我們會盡快審核並通知您結果。")


def test_review_deadline_never_falls_after_the_appointment_an_unreviewed_booking_asks_for_a_new_time(
    booking, fresh_runtime, clock, db
):
    number = fresh_runtime().start_case(KEY, DAY_AFTER_TOMORROW, actor="alice").number
    clock.set("2026-11-24T01:00:00+00:00")
    fire_due_timers(fresh_runtime())  # escalated on Tuesday 09:00; nobody acts

    clock.set("2026-11-25T00:59:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 0
    clock.set("2026-11-25T01:00:00+00:00")  # Wednesday 09:00: the appointment's time
    assert fire_due_timers(fresh_runtime()).fired == 1
    case = fresh_runtime().get_case(number)
    assert case.data["booking_status"] == "待客戶另約時間"
    assert case.open_tasks == [] and "await_correction" in case.active_elements
    assert "cancelled" in {
        t.status
        for t in fresh_runtime().list_tasks(case=number)
        if t.element_id == "review_escalated"
    }
    sms, email = case_outbox(db, number)[-2:]
    assert (sms.channel, email.channel, email.subject) == (
        "sms",
        "email",
        f"請另約預約時間 {number}",
    )
    assert sms.body.startswith(
        "陳大文 您好：很抱歉，我們未能在您預約的時間（2026-11-25 09:00）之前完成「合同起草」"
        "預約的審核，原預約時間已過。"
    )
    assert "/book/reply/resubmission/" in sms.body and "/book/reply/withdrawal/" in sms.body
    assert (
        case.data["return_reason"]
        == "未能在您預約的時間(2026-11-25 09:00)之前完成審核,原預約時間已過"
    )
    # The customer's new time goes through the check and the review again.
    clock.set("2026-11-25T02:00:00+00:00")
    case = fresh_runtime().send_message(
        number, "resubmission", {"appointment_at": "2026-11-30T10:00"}
    )
    assert (case.data["resubmission_count"], case.data["problems"]) == (1, [])
    review = open_task(fresh_runtime(), number, "review_request")
    assert review.due_at == utc("2026-11-27T02:00:00+00:00")  # two working days: Friday 10:00
    case = complete(fresh_runtime, number, "review_request", ACCEPT, "alice")
    assert (case.data["booking_status"], case.data["appointment_at"]) == (
        "已確認",
        "2026-11-30T10:00",
    )


def test_review_deadline_never_falls_after_the_appointment_an_unassigned_booking_asks_for_a_new_time(
    booking, fresh_runtime, clock, db
):
    # Accepted, but nobody in the directory offers the item and nobody is assigned by hand.
    number = confirmed_booking(fresh_runtime, clock, {"service_item": "法律咨詢"})
    choose = open_task(fresh_runtime(), number, "choose_professional")
    assert choose.due_at == utc("2026-11-26T02:00:00+00:00")
    clock.set("2026-11-26T02:00:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    case = fresh_runtime().get_case(number)
    assert "await_correction" in case.active_elements
    assert "預約的專業人員安排，原預約時間已過。" in case_outbox(db, number)[-1].body


# ----- changes and cancellations; their fees go to finance -----------------------------------


def test_change_and_cancel_fees_go_to_finance_a_change_on_time_is_free_a_repeated_one_is_not(
    booking, fresh_runtime, clock, db
):
    number = confirmed_booking(fresh_runtime, clock)

    # Tuesday, two working days before Thursday's appointment, the customer asks on the web
    # page (booking number and phone) for another time: on time, and the first change.
    clock.set("2026-11-24T02:00:00+00:00")
    assert portal.status(fresh_runtime(), number, PHONE).can_change
    portal.request_change(
        fresh_runtime(), number, PHONE, "change",
        {"new_start": "2026-11-30T15:00", "reason": "出差"},  # company time, as the page posts
    )  # fmt: skip
    case = fresh_runtime().get_case(number)
    assert case.data["change"] == {"new_start": "2026-11-30T07:00:00+00:00", "reason": "出差"}
    handle = open_task(fresh_runtime(), number, "handle_change")
    shown = templating.render(handle.instructions, fresh_runtime().task_data(handle.id))
    assert "客戶希望改為:2026-11-30 15:00;原因:出差" in shown
    assert "變更費" not in shown
    assert "prepare_contact" not in case.active_elements  # preparation interrupted
    assert case.data["change_days_ahead"] == 2
    assert (case.data["change_late"], case.data["change_fee_flag"]) == (False, False)
    handle = open_task(fresh_runtime(), number, "handle_change")
    assert handle.role == "service_desk"
    assert rejected(fresh_runtime, number, "handle_change",
                    {"change_decision": "接受變更", "new_appointment_at": "下週一"}, "alice") == {
        "new_appointment_at", "new_location", "reassign_professional"
    }  # fmt: skip
    assert rejected(fresh_runtime, number, "handle_change", {"change_decision": "無法安排"},
                    "alice") == {"change_note"}  # fmt: skip
    case = complete(fresh_runtime, number, "handle_change", {
        "change_decision": "接受變更", "new_appointment_at": "2026-11-30T15:00",
        "new_location": ACCEPT["location"], "reassign_professional": False,
    }, "alice")  # fmt: skip
    assert case.data["appointment_at"] == "2026-11-30T15:00"
    assert case.data["previous_appointment_at"] == "2026-11-26T10:00"
    reconfirmed = case_outbox(db, number)[-1]
    assert reconfirmed.subject == f"預約已重新確認 {number}"
    assert "時間：2026-11-30 15:00" in reconfirmed.body
    assert "變更費" not in reconfirmed.body
    # No fee, no finance task: preparation starts again for the new time, due Friday 15:00.
    assert [t.element_id for t in case.open_tasks] == ["prepare_contact"]
    assert open_task(fresh_runtime(), number, "prepare_contact").due_at == utc(
        "2026-11-27T07:00:00+00:00"
    )

    # Friday: still a working day ahead, but the second change is beyond the one free change.
    clock.set("2026-11-27T02:00:00+00:00")
    case = fresh_runtime().send_message(
        number, "change_request", {"new_start": "2026-12-02T02:00:00+00:00"}
    )
    assert case.data["change_count"] == 2
    assert (case.data["change_late"], case.data["change_repeated"]) == (False, True)
    assert (case.data["change_fee_flag"], case.data["pending_change_fee"]) == (True, 100)
    handle = open_task(fresh_runtime(), number, "handle_change")
    assert "【接受此變更須收取變更費 100 元】第 2 次變更(免費變更 1 次):100 元" in shown_text(
        fresh_runtime(), handle
    )
    case = complete(fresh_runtime, number, "handle_change", {
        "change_decision": "接受變更", "new_appointment_at": "2026-12-02T10:00",
        "new_location": ACCEPT["location"], "reassign_professional": True,
    }, "alice")  # fmt: skip
    body = case_outbox(db, number)[-1].body
    assert "時間：2026-12-02 10:00" in body
    assert (
        "本次變更須繳付變更費 100 元（第 2 次變更(免費變更 1 次):100 元），財務人員會與您聯繫收取"
        in body
    )

    # Finance collects it (or waives it, with a reason) before the booking goes on.
    fee = open_task(fresh_runtime(), number, "collect_change_fee")
    assert (fee.role, fee.name) == ("finance", "收取改期費")
    assert [t.element_id for t in case.open_tasks] == ["collect_change_fee"]
    text = shown_text(fresh_runtime(), fee)
    assert "按規定須繳付變更費 100 元" in text
    assert "原因:第 2 次變更(免費變更 1 次):100 元" in text
    assert "原預約:2026-11-30 15:00;新預約:2026-12-02 10:00" in text
    assert rejected(fresh_runtime, number, "collect_change_fee", {"fee_settlement": "免收"},
                    "fay") == {"waiver_reason"}  # fmt: skip
    case = complete(fresh_runtime, number, "collect_change_fee", {
        "fee_settlement": "免收", "waiver_reason": "長期客戶,主管同意免收",
    }, "fay")  # fmt: skip
    assert [t.element_id for t in case.open_tasks] == ["prepare_contact"]


def test_change_and_cancel_fees_go_to_finance_a_late_change_is_paid_before_the_booking_goes_on(
    booking, fresh_runtime, clock, db
):
    number = confirmed_booking(fresh_runtime, clock)
    clock.set("2026-11-26T00:00:00+00:00")  # Thursday 08:00, the appointment's own day
    case = fresh_runtime().send_message(
        number, "change_request", {"new_start": "2026-12-01T02:00:00+00:00", "reason": "塞車"}
    )
    assert (case.data["change_late"], case.data["change_repeated"]) == (True, False)
    assert case.data["pending_change_fee"] == 100
    complete(fresh_runtime, number, "handle_change", {
        "change_decision": "接受變更", "new_appointment_at": "2026-12-01T10:00",
        "new_location": ACCEPT["location"], "reassign_professional": False,
    }, "alice")  # fmt: skip
    reason = "未按規定提前 1 個工作日變更(距原預約 0 個工作日):100 元"
    assert f"本次變更須繳付變更費 100 元（{reason}）" in case_outbox(db, number)[-1].body
    fee = open_task(fresh_runtime(), number, "collect_change_fee")
    assert f"原因:{reason}" in shown_text(fresh_runtime(), fee)
    # What finance records as received may not be less than the fee.
    assert rejected(fresh_runtime, number, "collect_change_fee",
                    {"fee_settlement": "已收款", "amount_received": 99.5,
                     "payment_method": "微信收款"}, "fay") == {"amount_received"}  # fmt: skip
    assert rejected(fresh_runtime, number, "collect_change_fee",
                    {"fee_settlement": "已收款"}, "fay") == {
        "amount_received", "payment_method"
    }  # fmt: skip
    case = complete(fresh_runtime, number, "collect_change_fee", {
        "fee_settlement": "已收款", "amount_received": 100, "payment_method": "微信收款",
        "payment_reference": "WX-0001",
    }, "fay")  # fmt: skip
    assert [t.element_id for t in case.open_tasks] == ["prepare_contact"]
    assert case.data["amount_received"] == 100

    # The Tuesday itself, 08:00: late again, and the second change: both fees.
    clock.set("2026-12-01T00:00:00+00:00")
    case = fresh_runtime().send_message(
        number, "change_request", {"new_start": "2026-12-03T02:00:00+00:00"}
    )
    assert (case.data["change_late"], case.data["change_repeated"]) == (True, True)
    assert case.data["pending_change_fee"] == 200
    complete(fresh_runtime, number, "handle_change", {
        "change_decision": "接受變更", "new_appointment_at": "2026-12-03T10:00",
        "new_location": ACCEPT["location"], "reassign_professional": False,
    }, "alice")  # fmt: skip
    assert "本次變更須繳付變更費 200 元" in case_outbox(db, number)[-1].body
    fee = open_task(fresh_runtime(), number, "collect_change_fee")
    assert "按規定須繳付變更費 200 元" in shown_text(fresh_runtime(), fee)


def test_late_change_is_flagged_and_can_be_declined(booking, fresh_runtime, clock, db):
    number = confirmed_booking(fresh_runtime, clock)
    clock.set("2026-11-26T00:00:00+00:00")  # Thursday 08:00, the appointment's own day
    case = fresh_runtime().send_message(
        number, "change_request", {"new_start": "2026-11-26T08:00:00+00:00", "reason": "塞車"}
    )
    assert case.data["change_days_ahead"] == 0
    # The portal's contract: the new time in UTC, shown to staff in company time.
    assert (case.data["requested_appointment_at"], case.data["change_reason"]) == (
        "2026-11-26 16:00",
        "塞車",
    )
    assert (case.data["change_late"], case.data["change_fee_flag"]) == (True, True)
    case = complete(fresh_runtime, number, "handle_change", {
        "change_decision": "無法安排", "change_note": "下午專業人員已有其他安排",
    }, "alice")  # fmt: skip
    assert case.data["appointment_at"] == "2026-11-26T10:00"
    # Declined: nothing changed, so no fee and no finance task.
    assert [t.role for t in case.open_tasks] == ["specialist"]
    messages = sent(db, number)
    assert (
        "sms",
        "陳大文 您好：很抱歉，您的變更申請未能安排：下午專業人員已有其他安排",
    ) in messages
    # The original appointment stands. The lawyer confirms it with the customer once more; that
    # deadline (Wednesday 10:00) has passed, so the lawyer is reminded at once.
    assert messages[-1][1].startswith("王律師 您好：客戶 陳大文 的預約（2026-11-26 10:00")
    complete(fresh_runtime, number, "prepare_contact", PREPARED, "pat")
    clock.set("2026-11-26T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    assert open_task(fresh_runtime(), number, "deliver_service").role == "specialist"


def test_change_and_cancel_fees_go_to_finance_a_late_cancellation(
    booking, fresh_runtime, clock, db
):
    number = confirmed_booking(fresh_runtime, clock)
    clock.set("2026-11-26T00:00:00+00:00")  # Thursday 08:00
    case = fresh_runtime().send_message(number, "cancel_request", {"reason": "臨時出差"})
    assert (case.data["cancel_late"], case.data["cancel_fee_flag"]) == (True, True)
    assert case.data["booking_status"] == "取消處理中"
    handle = open_task(fresh_runtime(), number, "handle_cancellation")
    assert handle.role == "service_desk"
    assert "【逾期取消】按規定收取取消費 200 元" in shown_text(fresh_runtime(), handle)
    assert rejected(fresh_runtime, number, "handle_cancellation", {}, "alice") == {"force_majeure"}
    assert rejected(fresh_runtime, number, "handle_cancellation", {"force_majeure": True},
                    "alice") == {"cancel_note"}  # fmt: skip
    case = complete(fresh_runtime, number, "handle_cancellation", {"force_majeure": False}, "alice")
    assert case.data["booking_status"] == "客戶取消"
    assert (
        "由於未按規定提前 1 個工作日通知，按規定須繳付取消費 200 元"
        in case_outbox(db, number)[-1].body
    )

    # The case stays open until finance has the fee.
    assert case.status == "running"
    fee = open_task(fresh_runtime(), number, "collect_cancel_fee")
    assert (fee.role, fee.name) == ("finance", "收取取消費")
    text = shown_text(fresh_runtime(), fee)
    assert "按規定須繳付取消費 200 元" in text
    assert "原因:未按規定提前 1 個工作日取消(距預約 0 個工作日)" in text
    assert rejected(fresh_runtime, number, "collect_cancel_fee",
                    {"fee_settlement": "已收款", "amount_received": 150,
                     "payment_method": "銀行轉賬"}, "fay") == {"amount_received"}  # fmt: skip
    case = complete(fresh_runtime, number, "collect_cancel_fee", {
        "fee_settlement": "已收款", "amount_received": 200, "payment_method": "銀行轉賬",
    }, "fay")  # fmt: skip
    assert (case.status, case.outcome) == ("completed", "cancelled_by_customer")


def test_change_and_cancel_fees_go_to_finance_no_fee_no_finance_task(
    booking, fresh_runtime, clock, db
):
    # On time: no fee.
    number = confirmed_booking(fresh_runtime, clock)
    case = fresh_runtime().send_message(number, "cancel_request", {})
    assert (case.data["cancel_days_ahead"], case.data["cancel_fee_flag"]) == (3, False)
    case = complete(fresh_runtime, number, "handle_cancellation", {"force_majeure": False},
                    "alice")  # fmt: skip
    assert (case.status, case.outcome) == ("completed", "cancelled_by_customer")
    assert "取消費" not in case_outbox(db, number)[-1].body
    assert "finance" not in {t.role for t in fresh_runtime().list_tasks(case=number)}

    # Late, but for force majeure (staff say why): no fee either.
    number = confirmed_booking(fresh_runtime, clock)
    clock.set("2026-11-26T00:00:00+00:00")
    case = fresh_runtime().send_message(number, "cancel_request", {"reason": "颱風停航"})
    assert case.data["cancel_fee_flag"] is True
    case = complete(fresh_runtime, number, "handle_cancellation",
                    {"force_majeure": True, "cancel_note": "颱風航班取消,屬不可抗力"},
                    "alice")  # fmt: skip
    assert (case.status, case.data["fee_due"]) == ("completed", 0)
    assert "取消費" not in case_outbox(db, number)[-1].body
    assert "finance" not in {t.role for t in fresh_runtime().list_tasks(case=number)}


def test_company_cancels_and_offers_a_new_time(booking, fresh_runtime, clock, db):
    number = confirmed_booking(fresh_runtime, clock, review={"important": True})
    assert fresh_runtime().get_case(number).data["professional_name"] == "王律師"
    with db.write() as session:
        session.scalars(select(Person).where(Person.name == "王律師")).one().available = False
        session.commit()

    clock.set("2026-11-25T02:00:00+00:00")  # Wednesday: only one working day's notice
    case = fresh_runtime().send_message(number, "company_cancellation", {"reason": "律師臨時生病"})
    assert (case.data["company_notice_days"], case.data["company_notice_short"]) == (1, False)
    offer = open_task(fresh_runtime(), number, "offer_new_time")
    assert offer.role == "service_desk"
    assert rejected(fresh_runtime, number, "offer_new_time",
                    {"company_cancel_reason": "律師臨時生病", "offer": "其他解決方案"}, "alice") == {
        "offered_appointment_at", "alternative"
    }  # fmt: skip
    case = complete(fresh_runtime, number, "offer_new_time", {
        "company_cancel_reason": "律師臨時生病", "offer": "另約時間",
        "offered_appointment_at": "2026-12-01T10:00",
    }, "alice")  # fmt: skip
    assert case.data["appointment_at"] == "2026-12-01T10:00"
    assert case.data["professional_name"] == "李律師"  # reassigned: 王律師 is unavailable
    notice, sms, email = (
        case_outbox(db, number)[-4],
        case_outbox(db, number)[-2],
        case_outbox(db, number)[-1],
    )
    assert "因律師臨時生病，原定 2026-11-26 10:00 的預約需要取消" in notice.body
    assert "已為您重新安排在 2026-12-01 10:00" in notice.body
    assert email.subject == f"預約已重新確認 {number}" and "專業人員：李律師" in sms.body
    assert open_task(fresh_runtime(), number, "prepare_contact").role == "specialist"


def test_company_cancellation_the_customer_does_not_accept(booking, fresh_runtime, clock, db):
    number = confirmed_booking(fresh_runtime, clock)
    clock.set("2026-11-26T00:00:00+00:00")  # the appointment's own day: notice too short
    case = fresh_runtime().send_message(number, "company_cancellation", {"reason": "停電"})
    assert case.data["company_notice_short"] is True
    case = complete(fresh_runtime, number, "offer_new_time",
                    {"company_cancel_reason": "辦公室停電", "offer": "客戶不接受"}, "alice")  # fmt: skip
    assert (case.status, case.data["booking_status"]) == ("completed", "公司取消")
    assert "此預約已取消，不收取任何費用" in case_outbox(db, number)[-1].body


# ----- feedback --------------------------------------------------------------------------------


def test_no_rating_means_a_call_back_and_a_late_reply_goes_to_the_supervisor(
    booking, fresh_runtime, clock, db
):
    number = confirmed_booking(fresh_runtime, clock)
    complete(fresh_runtime, number, "prepare_contact", PREPARED, "pat")
    clock.set("2026-11-26T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    clock.set("2026-11-26T04:00:00+00:00")  # Thursday 12:00
    complete(fresh_runtime, number, "deliver_service", {
        "served_at": "2026-11-26T10:05", "service_notes": "審閱合同", "result_explained": True,
    }, "pat")  # fmt: skip
    complete(fresh_runtime, number, "sign_off", {
        "feedback_form_signed": False, "not_signed_reason": "客戶需回公司確認",
        "documents_archived": True, "archive_reference": "SB-A-0002",
    }, "pat")  # fmt: skip

    # No rating within three working days (Thursday 12:00 → Tuesday 12:00): call back.
    clock.set("2026-12-01T04:00:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    callback = open_task(fresh_runtime(), number, "satisfaction_callback")
    assert callback.role == "service_desk"
    assert rejected(fresh_runtime, number, "satisfaction_callback",
                    {"reached": True, "satisfaction_rating": 9}, "alice") == {
        "satisfaction_rating", "needs_reply"
    }  # fmt: skip
    complete(fresh_runtime, number, "satisfaction_callback", {
        "reached": True, "satisfaction_rating": 2, "feedback_text": "合同條款解釋不夠清楚",
        "needs_reply": True,
    }, "alice")  # fmt: skip
    reply = open_task(fresh_runtime(), number, "reply_feedback")
    assert reply.due_at == utc("2026-12-04T04:00:00+00:00")  # three working days

    clock.set("2026-12-04T04:00:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    escalated = open_task(fresh_runtime(), number, "reply_feedback_escalated")
    assert escalated.role == "supervisor"
    assert rejected(fresh_runtime, number, "reply_feedback_escalated", {"reply_text": ""},
                    "sue") == {"reply_text"}  # fmt: skip
    case = complete(fresh_runtime, number, "reply_feedback_escalated", {
        "reply_text": "我們已安排律師再次為您逐條講解合同條款。", "improvement_action": "律師培訓",
    }, "sue")  # fmt: skip
    assert case.status == "completed"
    last = case_outbox(db, number)[-1]
    assert (last.channel, last.subject) == ("email", f"關於您的服務反饋 {number}")
    assert "逐條講解合同條款" in last.body
    with db.read() as session:
        wang = session.scalars(select(Person).where(Person.name == "王律師")).one()
        assert wang.rating_avg == 2.0
