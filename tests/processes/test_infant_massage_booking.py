"""小兒推拿預約: explain and quote → place (home or centre) and time → confirmation → after the
session the order is recorded → call back → the next session is booked (loop) or the service ends.

Every step uses a new Runtime, so the case is saved and loaded between steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import ValidationFailed
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import open_task, outbox, utc

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "infant_massage_booking.bpmn",
    *sorted((ROOT / "forms").glob("infant_massage_booking.*.json")),
]

QUOTE = {
    "customer_name": "黃太太",
    "customer_phone": "+86 137 2222 3333",
    "customer_email": "huang@example.com",
    "child_name": "小寶",
    "child_age_months": 10,
    "concerns": "積食、睡眠不安",
    "payment_plan": "單次",
    "quoted_price": 180,
    "customer_accepts": True,
}


@pytest.fixture
def deployed(runtime, users):
    runtime.deploy(FILES, actor="owner")
    return runtime


def quoted(fresh_runtime, **changes):
    number = fresh_runtime().start_case("infant_massage_booking", actor="alice").number
    task = open_task(fresh_runtime(), number, "explain_and_quote")
    assert task.role == "service_desk"
    fresh_runtime().complete_task(task.id, {**QUOTE, **changes}, "alice")
    return number


def test_home_visit_then_next_session_at_the_centre_then_finish(deployed, fresh_runtime, db, clock):
    number = quoted(fresh_runtime)
    arrange = open_task(fresh_runtime(), number, "arrange_session")
    fresh_runtime().complete_task(
        arrange.id,
        {
            "location": "上門服務",
            "address": "浦東新區錦繡路 88 弄 5 號 1201",
            "session_at": "2026-11-25T10:00",
            "therapist_name": "趙老師",
            "therapist_phone": "+86 139 5555 6666",
        },
        "alice",
    )
    sms, notice, mail = outbox(db)
    assert (sms.channel, sms.recipient) == ("sms", "+86 137 2222 3333")
    # The therapist is told of each session (document 003: 與推拿老師約定時間).
    assert (notice.channel, notice.recipient) == ("sms", "+86 139 5555 6666")
    assert (
        "趙老師 老師您好" in notice.body and "第 1 次小兒推拿安排在 2026-11-25 10:00" in notice.body
    )
    assert "第 1 次小兒推拿已預約在 2026-11-25 10:00" in sms.body
    assert "錦繡路" in sms.body and "趙老師" in sms.body
    assert (mail.channel, mail.recipient) == ("email", "huang@example.com")
    (invitation,) = mail.attachments
    assert "DTSTART:20261125T020000Z" in invitation["text"]
    assert "DTEND:20261125T030000Z" in invitation["text"]

    # The order is recorded once the session is over (10:00 + 1 hour, Shanghai).
    case = fresh_runtime().get_case(number)
    assert case.open_tasks == []
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("session_over", utc("2026-11-25T03:00:00+00:00"))
    ]
    clock.set("2026-11-25T02:59:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 0
    clock.set("2026-11-25T03:00:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    record = open_task(fresh_runtime(), number, "record_order")
    fresh_runtime().complete_task(
        record.id,
        {"session_status": "已完成", "amount_received": 180, "payment_method": "微信"},
        "carol",
    )

    # Call back 24 hours after the session started.
    case = fresh_runtime().get_case(number)
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("callback_due", utc("2026-11-26T02:00:00+00:00"))
    ]
    clock.set("2026-11-26T02:00:00+00:00")
    fire_due_timers(fresh_runtime())
    callback = open_task(fresh_runtime(), number, "callback")
    fresh_runtime().complete_task(
        callback.id,
        {
            "satisfaction": 5,
            "feedback": "睡得安穩多了",
            "book_next": True,
            "next_session_at": "2026-12-02T15:00",
            "next_location": "到公司服務",
            "next_therapist_name": "趙老師",
            "next_therapist_phone": "+86 139 5555 6666",
        },
        "alice",
    )
    # The next session is confirmed like the first one, at the centre this time.
    second, second_notice = outbox(db)[-3:-1]
    assert "第 2 次小兒推拿已預約在 2026-12-02 15:00" in second.body
    assert second_notice.recipient == "+86 139 5555 6666"
    assert "第 2 次小兒推拿安排在 2026-12-02 15:00" in second_notice.body
    assert "到公司服務（本公司小兒推拿中心）" in second.body

    clock.set("2026-12-02T08:00:00+00:00")  # 16:00 in Shanghai
    fire_due_timers(fresh_runtime())
    record = open_task(fresh_runtime(), number, "record_order")
    fresh_runtime().complete_task(
        record.id,
        {"session_status": "已完成", "amount_received": 180, "payment_method": "現金"},
        "alice",
    )
    clock.set("2026-12-03T07:00:00+00:00")
    fire_due_timers(fresh_runtime())
    callback = open_task(fresh_runtime(), number, "callback")
    case = fresh_runtime().complete_task(
        callback.id,
        {"satisfaction": 4, "feedback": "效果好，暫時不需要", "book_next": False},
        "alice",
    )
    assert case.status == "completed"
    assert [s["location"] for s in case.data["sessions"]] == ["上門服務", "到公司服務"]
    assert case.data["sessions_completed"] == 2
    assert case.data["amount_total"] == 360


def test_customer_who_does_not_book_ends_the_case(deployed, fresh_runtime, db):
    number = quoted(fresh_runtime, customer_accepts=False)
    case = fresh_runtime().get_case(number)
    assert case.status == "completed"
    assert outbox(db) == []


def test_every_form_rejects_an_invalid_submission_field_by_field(deployed, fresh_runtime, clock):
    number = fresh_runtime().start_case("infant_massage_booking").number
    quote = open_task(fresh_runtime(), number, "explain_and_quote")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            quote.id,
            {**QUOTE, "child_age_months": 200, "payment_plan": "20次", "quoted_price": -5},
            "alice",
        )
    assert set(failure.value.errors) == {"child_age_months", "payment_plan", "quoted_price"}
    fresh_runtime().complete_task(
        quote.id, {k: v for k, v in QUOTE.items() if k != "customer_email"}, "alice"
    )

    arrange = open_task(fresh_runtime(), number, "arrange_session")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            arrange.id,
            {
                "location": "上門服務",
                "session_at": "下週三",
                "therapist_name": "趙老師",
                "therapist_phone": "+86 139 5555 6666",
            },
            "alice",
        )
    assert set(failure.value.errors) == {"address", "session_at"}
    fresh_runtime().complete_task(
        arrange.id,
        {
            "location": "到公司服務",
            "session_at": "2026-11-25T10:00",
            "therapist_name": "趙老師",
            "therapist_phone": "+86 139 5555 6666",
        },
        "alice",
    )

    clock.set("2026-11-25T03:00:00+00:00")
    fire_due_timers(fresh_runtime())
    record = open_task(fresh_runtime(), number, "record_order")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            record.id, {"session_status": "完成了", "amount_received": "x"}, "alice"
        )
    assert set(failure.value.errors) == {"session_status", "amount_received", "payment_method"}
    fresh_runtime().complete_task(
        record.id,
        {"session_status": "客戶未到", "amount_received": 0, "payment_method": "套餐扣次"},
        "alice",
    )

    clock.set("2026-11-26T02:00:00+00:00")
    fire_due_timers(fresh_runtime())
    callback = open_task(fresh_runtime(), number, "callback")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            callback.id,
            {"satisfaction": 6, "feedback": "改期", "book_next": True, "next_location": "上門服務"},
            "alice",
        )
    assert set(failure.value.errors) == {
        "satisfaction",
        "next_session_at",
        "next_therapist_name",
        "next_therapist_phone",
        "next_address",
    }
