"""The signed-service booking page and its lead in working days (procedures §1.2): the picker
starts at the earliest time the process's `advance_working_days` allows (now, once the request
is marked urgent), the page asks the engine as the customer picks, and a post with a time too
soon or outside the window is refused beside the field in the page's language, naming the
earliest time, with no case started. The clock stands at Monday 23 November 2026 09:30."""

from __future__ import annotations

import re

import pytest

from tests.webui.conftest import csrf_token
from tests.webui.portal_world import (  # noqa: F401 - fixtures
    PHONE,
    SIGNED,
    count_cases,
    files,
    signed,
)

PAGE = "/book/signed_service_booking"


def post(client, **fields):
    page = client.get(PAGE)
    return client.post(PAGE, data={**SIGNED, **fields, "csrf_token": csrf_token(page.text)})


def field_error(html: str) -> str:
    found = re.search(r'<span class="field-error" id="err-appointment_at"[^>]*>([^<]*)<', html)
    assert found, html[-2000:]
    return found.group(1)


def test_the_picker_starts_at_the_earliest_time_the_lead_allows(app, signed):  # noqa: F811
    page = app.test_client().get(PAGE).text
    picker = re.search(r'<input type="datetime-local" name="appointment_at"[^>]*>', page).group(0)
    # N = 1 on Monday 09:30: Tuesday 09:00; marked urgent, the next minute.
    assert 'min="2026-11-24T09:00"' in picker
    assert 'data-min-urgent="2026-11-23T09:31"' in picker
    assert 'data-check-process="signed_service_booking"' in picker
    assert 'data-check-urgent-field="urgent"' in picker


def test_a_time_too_soon_is_refused_naming_the_earliest_and_nothing_starts(app, signed, db):  # noqa: F811
    client = app.test_client()
    refused = post(client, appointment_at="2026-11-23T16:00")  # today
    assert refused.status_code == 422
    assert field_error(refused.text) == (
        "須至少提前 1 個工作日預約，最早可預約 2026年11月24日（星期二）09:00。"
        "如屬緊急需求，請勾選「緊急需求」，我們會盡量安排。"
    )
    client.set_cookie("lang", "en")
    english = field_error(post(client, appointment_at="2026-11-23T16:00").text)
    assert "at least 1 working day ahead: the earliest you can book is Tue 24 Nov 2026, 09:00" in (
        english
    )
    assert count_cases(db) == 0


@pytest.mark.parametrize(
    ("wanted", "said"),
    [
        ("2026-11-24T17:30", "該時間不在營業時間內（09:00–17:00），請在營業時間內選擇。"
         "最近可預約的時間：2026年11月25日（星期三）09:00。"),
        ("2026-11-28T10:00", "2026年11月28日（星期六）不營業，請選擇工作日。"
         "最近可預約的時間：2026年11月30日（星期一）09:00。"),
    ],
)  # fmt: skip
def test_a_closed_time_names_the_nearest_one(app, signed, db, wanted, said):  # noqa: F811
    refused = post(app.test_client(), appointment_at=wanted)
    assert refused.status_code == 422 and field_error(refused.text) == said
    assert count_cases(db) == 0


def test_an_urgent_request_is_booked_and_flagged(app, signed, runtime, db):  # noqa: F811
    client = app.test_client()
    done = post(client, appointment_at="2026-11-23T16:00", urgent="on")
    assert done.status_code == 303
    number = re.search(r'id="booking-number">([^<]+)<', client.get(done.location).text).group(1)
    case = runtime.get_case(number)
    assert (case.data["urgent_flag"], case.data["short_notice"]) == (True, True)
    assert count_cases(db) == 1


def test_the_page_asks_the_lead_as_the_customer_picks(app, signed):  # noqa: F811
    client = app.test_client()

    def check(value, **extra):
        args = {"kind": "time", "value": value, "process": "signed_service_booking"}
        return client.get("/book/check", query_string={**args, "field": "appointment_at", **extra})

    assert check("2026-11-24T09:00").get_json() == {"ok": True}
    today = check("2026-11-23T16:00").get_json()
    assert not today["ok"] and "最早可預約 2026年11月24日（星期二）09:00" in today["message"]
    assert check("2026-11-23T16:00", urgent="1").get_json() == {"ok": True}
    assert "最近可預約的時間" in check("2026-11-28T10:00", urgent="1").get_json()["message"]
    # Without a process the calendar alone answers, as for any other page.
    plain = client.get("/book/check", query_string={"kind": "time", "value": "2026-11-23T16:00"})
    assert plain.get_json() == {"ok": True}
