"""Rule 5: a past day or time, a closed day (weekend, public holiday), a time outside office
hours, and for store appointments a day or time the store has nobody on shift, are refused
beside the field before anything is sent (the page asks the engine as the customer picks,
and the post is checked again: no case is started, no message reaches a case). The pickers
start at today / now."""

from __future__ import annotations

import re

import pytest

from tests.webui.conftest import csrf_token
from tests.webui.portal_world import (  # noqa: F401 - fixtures
    HUAIHAI,
    PHONE,
    SIGNED,
    XUJIAHUI,
    book_facial,
    count_cases,
    files,
    signed,
    store_portal,
    stores,
)


@pytest.mark.parametrize(
    ("wanted", "said"),
    [
        ("2026-11-23T09:00", "該時間已過"),  # before now (Monday 09:30)
        ("2026-11-20T10:00", "該時間已過"),
        ("2026-11-28T10:00", "2026年11月28日（星期六）不營業"),  # Saturday
        ("2027-01-01T10:00", "2027年1月1日（星期五）為法定節假日（元旦）"),
        ("2026-11-25T08:30", "不在營業時間內（09:00–17:00）"),
        ("2026-11-25T17:00", "不在營業時間內（09:00–17:00）"),
    ],
)
def test_a_closed_or_past_time_is_refused_beside_the_field(app, signed, db, wanted, said):  # noqa: F811
    client = app.test_client()
    page = client.get("/book/signed_service_booking")
    refused = client.post(
        "/book/signed_service_booking",
        data={**SIGNED, "appointment_at": wanted, "csrf_token": csrf_token(page.text)},
    )
    assert refused.status_code == 422
    error = re.search(
        r'<span class="field-error" id="err-appointment_at"[^>]*>([^<]*)<', refused.text
    )
    assert error and said in error.group(1), refused.text[-2000:]
    assert count_cases(db) == 0


def test_an_open_time_is_booked_and_the_picker_starts_now(app, signed, db):  # noqa: F811
    client = app.test_client()
    page = client.get("/book/signed_service_booking")
    # A signed service is booked a working day ahead: its picker starts at Tuesday 09:00, and
    # at now for an urgent request (tests/webui/test_portal_booking_lead.py).
    assert re.search(r'name="appointment_at"[^>]*min="2026-11-24T09:00"', page.text)
    assert re.search(r'name="appointment_at"[^>]*data-min-urgent="2026-11-23T09:31"', page.text)
    client.post(
        "/book/signed_service_booking",
        data={**SIGNED, "appointment_at": "2026-11-26T10:00", "csrf_token": csrf_token(page.text)},
    )
    assert count_cases(db) == 1


def test_the_page_asks_the_engine_as_the_customer_picks(app, store_portal):  # noqa: F811
    client = app.test_client()

    def check(**args):
        return client.get("/book/check", query_string=args).get_json()

    assert check(kind="time", value="2026-11-26T10:00") == {"ok": True}
    assert check(kind="time", value="2026-11-28T10:00")["message"].endswith("請選擇工作日。")
    assert "已過" in check(kind="day", value="2026-11-20")["message"]
    assert check(kind="day", value="2026-11-25", store=HUAIHAI[0], item="facial") == {"ok": True}
    assert (
        "沒有可提供此服務的人員當班"
        in check(kind="day", value="2026-11-25", store=XUJIAHUI[0], item="facial")["message"]
    )
    assert "請填寫有效的日期" in check(kind="day", value="soon")["message"]
    client.set_cookie("lang", "en")
    assert "public holiday: New Year's Day" in check(kind="day", value="2027-01-01")["message"]


@pytest.mark.parametrize(
    ("store", "day", "said"),
    [
        (HUAIHAI[0], "2026-11-20", "該日期已過"),
        (HUAIHAI[0], "2026-11-29", "不營業"),  # Sunday
        (XUJIAHUI[0], "2026-11-25", "徐家匯店 2026年11月25日（星期三）沒有可提供此服務的人員當班"),
        ("", "2026-11-27", "沒有門店有可提供此服務的人員當班"),  # Friday: nobody anywhere
    ],
)
def test_a_store_day_that_cannot_be_booked_says_why(app, store_portal, store, day, said):  # noqa: F811
    page = app.test_client().get(
        f"/book/store_appointment?service_item=facial&store={store}&day={day}"
    )
    error = re.search(r'<span class="field-error" id="err-day"[^>]*>([^<]*)<', page.text)
    assert error and said in error.group(1)
    assert 'name="appointment_at"' not in page.text  # no times to pick, no form to send
    assert re.search(r'name="day"[^>]*min="2026-11-23"', page.text)


def test_a_change_to_a_closed_time_is_refused_and_nothing_is_sent(app, store_portal):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    token = csrf_token(client.get("/book/status").text)

    def ask(new_start):
        return client.post(
            "/book/request",
            data={
                "number": number,
                "phone": PHONE,
                "kind": "change",
                "new_start": new_start,
                "csrf_token": token,
            },
        )

    for new_start, said in (
        ("2026-11-28T10:00", "不營業"),
        ("2026-11-25T18:00", "不在營業時間內"),
        # Nobody at the store on Thursday; on Wednesday the shift ends before a facial at 16:30.
        ("2026-11-26T10:00", "淮海店 2026年11月26日（星期四）沒有可提供此服務的人員當班"),
        ("2026-11-25T16:30", "淮海店 該時段沒有可提供此服務的人員當班"),
    ):
        refused = ask(new_start)
        assert refused.status_code == 422 and said in refused.text, new_start
        assert 'id="err-new_start"' in refused.text
    case = store_portal.get_case(number)
    assert "change" not in case.data and case.data["appointment_at"] == "2026-11-25T02:00:00+00:00"
    assert ask("2026-11-25T14:00").status_code == 200
