"""Customer pages: book, see the booking number, look it up, change and cancel."""

from __future__ import annotations

import re

from tests.conftest import fixture_files
from tests.webui.conftest import csrf_token
from tests.webui.portal_world import count_cases


def deploy(runtime):
    runtime.deploy(fixture_files("portal_flow.bpmn", "portal_start.json"))


def book(client, **fields):
    token = csrf_token(client.get("/book/portal_flow").text)
    return client.post(
        "/book/portal_flow", data={**fields, "csrf_token": token}, follow_redirects=True
    )


def test_book_with_an_error_then_get_a_number(app, runtime):
    deploy(runtime)
    client = app.test_client()
    assert "門店預約" in client.get("/book").text
    bad = book(
        client, customer_name="王小明", customer_phone="123", appointment_at="2026-11-26T10:00"
    )
    assert bad.status_code == 422 and 'id="err-customer_phone"' in bad.text
    good = book(
        client,
        customer_name="王小明",
        customer_phone="13812345678",
        appointment_at="2026-11-26T10:00",
    )
    assert good.status_code == 200 and good.request.path == "/book/portal_flow/booked"
    number = re.search(r'id="booking-number">([^<]+)<', good.text).group(1)
    case = runtime.get_case(number)
    assert case.data["customer_name"] == "王小明" and case.data["booked_via"] == "web"
    assert client.get("/book/nope").status_code == 404


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([0-9a-f]{32})"', html).group(1)


def test_a_booking_post_redirects_and_books_once_per_form(app, runtime, db):
    deploy(runtime)
    client = app.test_client()
    page = client.get("/book/portal_flow").text
    fields = {
        "customer_name": "王小明",
        "customer_phone": "13812345678",
        "appointment_at": "2026-11-26T10:00",
        "csrf_token": csrf_token(page),
        "form_key": form_key(page),
    }
    first = client.post("/book/portal_flow", data=fields)
    assert first.status_code == 303 and first.location == "/book/portal_flow/booked"
    shown = client.get("/book/portal_flow/booked")
    number = re.search(r'id="booking-number">([^<]+)<', shown.text).group(1)
    # The same form posted again (a reload of the post, a double click), even with a changed
    # answer: the first booking, nothing new.
    again = client.post("/book/portal_flow", data={**fields, "customer_name": "王大明"})
    assert again.status_code == 303
    assert number in client.get("/book/portal_flow/booked").text
    # A freshly rendered form sent with the same answers (back, then send): the same booking.
    fresh = client.get("/book/portal_flow").text
    assert form_key(fresh) != fields["form_key"]
    client.post("/book/portal_flow", data={**fields, "form_key": form_key(fresh)})
    assert count_cases(db) == 1
    # A form with an error keeps its key, so correcting it books once.
    other = client.get("/book/portal_flow").text
    bad = client.post(
        "/book/portal_flow",
        data={**fields, "customer_phone": "1", "form_key": form_key(other)},
    )
    assert bad.status_code == 422 and form_key(bad.text) == form_key(other)
    client.post(
        "/book/portal_flow",
        data={**fields, "customer_phone": "13812345679", "form_key": form_key(other)},
    )
    assert count_cases(db) == 2
    # Another browser has no confirmation to see.
    stranger = app.test_client().get("/book/portal_flow/booked")
    assert stranger.status_code == 302 and stranger.location == "/book/portal_flow"


def test_status_change_and_refusal_when_too_late(app, runtime, clock):
    deploy(runtime)
    client = app.test_client()
    number = re.search(
        r'id="booking-number">([^<]+)<',
        book(
            client,
            customer_name="陳",
            customer_phone="13812345678",
            appointment_at="2026-11-26T10:00",
        ).text,
    ).group(1)
    token = csrf_token(client.get("/book/status").text)
    wrong = client.post(
        "/book/status", data={"number": number, "phone": "13900000000", "csrf_token": token}
    )
    assert wrong.status_code == 404 and number not in wrong.text
    page = client.post(
        "/book/status", data={"number": number, "phone": "13812345678", "csrf_token": token}
    )
    assert page.status_code == 200 and 'name="new_start"' in page.text
    missing = client.post(
        "/book/request",
        data={
            "number": number,
            "phone": "13812345678",
            "kind": "change",
            "new_start": "",
            "reason": "出差",
            "csrf_token": token,
        },
    )
    assert missing.status_code == 422 and 'id="err-new_start"' in missing.text
    assert "請填寫新的日期和時間" in missing.text and 'value="出差"' in missing.text
    assert "change" not in runtime.get_case(number).data
    changed = client.post(
        "/book/request",
        data={
            "number": number,
            "phone": "13812345678",
            "kind": "change",
            "new_start": "2026-11-27T15:00",
            "csrf_token": token,
        },
    )
    assert changed.status_code == 200
    assert runtime.get_case(number).data["appointment_at"] == "2026-11-27T07:00:00+00:00"
    clock.set("2026-11-26T08:00:00+00:00")  # less than 24 hours before the new time
    late = client.post(
        "/book/request",
        data={
            "number": number,
            "phone": "13812345678",
            "kind": "cancel",
            "reason": "x",
            "csrf_token": token,
        },
    )
    assert late.status_code == 409 and "請致電客服" in late.text
    assert runtime.get_case(number).status == "running"


def test_lookups_are_rate_limited(app, runtime):
    deploy(runtime)
    app.config["PORTAL_LOOKUPS_PER_10_MIN"] = 3
    client = app.test_client()
    token = csrf_token(client.get("/book/status").text)
    codes = [
        client.post(
            "/book/status", data={"number": f"PB-1-{i}", "phone": "1", "csrf_token": token}
        ).status_code
        for i in range(5)
    ]
    assert codes == [404, 404, 404, 429, 429]


def test_store_booking_offers_only_free_slots(app, runtime, db):
    from pathlib import Path

    from engine.casework.resources import add_resource, add_service_item, add_shift

    root = Path(__file__).resolve().parents[2]
    with db.write() as session:
        add_service_item(session, "facial", "面部護理", 60, "facial")
        staff = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        add_shift(session, staff.id, "2026-11-25T10:00", "2026-11-25T12:00")
        session.commit()
    runtime.deploy(
        [
            root / "processes/store_appointment.bpmn",
            *sorted((root / "forms").glob("store_appointment.*.json")),
        ]
    )
    client = app.test_client()
    first = client.get("/book/store_appointment")
    assert first.status_code == 200 and "面部護理" in first.text and 'name="day"' in first.text
    page = client.get("/book/store_appointment?service_item=facial&day=2026-11-25")
    slots = re.findall(r'<option value="(2026-11-25T0[0-9]:[0-9]{2}:00\+00:00)"', page.text)
    assert slots == [
        "2026-11-25T02:00:00+00:00",
        "2026-11-25T02:30:00+00:00",
        "2026-11-25T03:00:00+00:00",
    ]
    assert "2026年11月25日（星期三）10:00" in page.text  # the free times in words
    token = csrf_token(page.text)
    form = {
        "service_item": "facial",
        "day": "2026-11-25",
        "customer_name": "王美玲",
        "phone": "13800138000",
        "csrf_token": token,
    }
    taken = client.post(
        "/book/store_appointment", data={**form, "appointment_at": "2026-11-25T09:00:00+00:00"}
    )
    assert taken.status_code == 422 and 'id="err-appointment_at"' in taken.text
    booked = client.post(
        "/book/store_appointment",
        data={**form, "appointment_at": slots[0]},
        follow_redirects=True,
    )
    assert booked.status_code == 200 and "booking-number" in booked.text
    after = client.get("/book/store_appointment?service_item=facial&day=2026-11-25").text
    assert re.findall(r'<option value="(2026-11-25T0[0-9]:[0-9]{2}:00\+00:00)"', after) == [
        slots[2]
    ]


def test_cleaning_and_consultation_are_bookable(app, runtime):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    runtime.deploy([root / "processes", root / "forms"])
    titles = app.test_client().get("/book").text
    for title in ("簽約服務預約", "門店預約", "家政保潔預約", "線上咨詢"):
        assert title in titles
    client = app.test_client()
    page = client.get("/book/consultation")
    done = client.post(
        "/book/consultation",
        data={
            "customer_name": "周先生",
            "email": "zhou@example.com",
            "channel": "電子郵件",
            "topic": "費用查詢",
            "content": "請問月費怎麼算？",
            "csrf_token": csrf_token(page.text),
        },
        follow_redirects=True,
    )
    assert done.status_code == 200
    number = re.search(r'id="booking-number">([^<]+)<', done.text).group(1)
    assert runtime.get_case(number).notifications[0].channel == "email"  # acknowledged at once


def _lookups(app, forwarded_for: list[str]) -> list[int]:
    app.config["PORTAL_LOOKUPS_PER_10_MIN"] = 2
    codes = []
    client = app.test_client()
    token = csrf_token(client.get("/book/status").text)
    for address in forwarded_for:
        response = client.post(
            "/book/status",
            data={"number": "XX-20261123-0001", "phone": "13800000000", "csrf_token": token},
            headers={"X-Forwarded-For": address},
        )
        codes.append(response.status_code)
    return codes


def test_behind_a_trusted_proxy_each_client_is_counted(runtime):
    """CASEFLOW_TRUSTED_PROXIES=1: the limit counts the client addresses the proxy forwards;
    without it the header is ignored (anyone could send it) and all count as one."""
    from webui import create_app

    base = {"TESTING": True, "SECRET_KEY": "t", "SESSION_COOKIE_SECURE": False}
    trusting = create_app({**base, "TRUSTED_PROXIES": 1}, runtime=runtime)
    assert _lookups(trusting, ["203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"]) == [
        404,
        404,
        429,
        404,
    ]
    plain = create_app(base, runtime=runtime)
    assert _lookups(plain, ["203.0.113.3", "203.0.113.4", "203.0.113.5"]) == [404, 404, 429]


def test_the_store_booking_page_shows_the_personal_data_notice(app, runtime):
    """Seed 001 五: what is collected and why, who can see it, how long it is kept (the
    retention setting the daily purge applies), in both languages."""
    from dataclasses import replace
    from pathlib import Path

    from engine.core.settings import PrivacySettings

    root = Path(__file__).resolve().parents[2]
    runtime.deploy(
        [
            root / "processes/store_appointment.bpmn",
            *sorted((root / "forms").glob("store_appointment.*.json")),
        ]
    )
    client = app.test_client()
    page = client.get("/book/store_appointment")
    assert page.status_code == 200
    notice = re.search(
        r'<section class="notice" id="privacy-notice">(.*?)</section>', page.text, re.S
    )
    assert notice, "no personal-data notice on the booking page"
    text = re.sub(r"<[^>]+>", "", notice.group(1))
    assert "您的個人資料" in text
    assert (
        "收集哪些資料： 您的姓名、電話號碼、電子郵箱（如填寫）、身份證號碼（如填寫），以及您在本表填寫的預約內容"
        in text
    )
    assert "用途： 僅用於處理本次預約" in text and "未經您同意，不會提供給公司以外的任何人" in text
    # The roles of the process's tasks, and supervisors, who see every case.
    assert (
        "誰可以查看： 只有處理您預約的授權人員（客服 / 前台、門店運營、客服主管 / 部門經理）"
        in text
    )
    assert "保存多久： 預約結束（服務完成或取消）後保存 365 天，期滿即刪除" in text

    client.set_cookie("lang", "en")
    english = re.sub(r"<[^>]+>", "", client.get("/book/store_appointment").text)
    assert "Your personal data" in english
    assert (
        "What we collect: your name, phone number, e-mail address (if given), ID number (if given),"
        " and the details of the booking you enter on this form" in english
    )
    assert "Why: only to handle this booking" in english
    assert "Who can see it: only the authorised staff who work on your booking" in english
    assert "How long it is kept: until 365 days after your booking ends" in english

    # The period is the retention setting itself.
    runtime.settings = replace(runtime.settings, privacy=PrivacySettings(retention_days=90))
    assert "until 90 days after your booking ends" in client.get("/book/store_appointment").text


def test_a_double_click_reaching_two_server_processes_books_once(app, runtime, db, settings, clock):
    """The second post of one form reaches another server process before the first answer
    set the browser's cookie: that process knows nothing of the first in memory or session,
    and still shows the first booking instead of making a second (the key is in the database)."""
    from engine.runtime.verbs import Runtime
    from webui import create_app

    deploy(runtime)
    other_process = create_app(
        {"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False},
        runtime=Runtime(db, settings, clock),
    )
    first_tab, second_tab = app.test_client(), other_process.test_client()
    page = first_tab.get("/book/portal_flow").text
    fields = {
        "customer_name": "王小明",
        "customer_phone": "13812345678",
        "appointment_at": "2026-11-26T10:00",
        "form_key": form_key(page),
    }
    first = first_tab.post("/book/portal_flow", data={**fields, "csrf_token": csrf_token(page)})
    assert first.status_code == 303
    token = csrf_token(second_tab.get("/book/portal_flow").text)
    second = second_tab.post("/book/portal_flow", data={**fields, "csrf_token": token})
    assert second.status_code == 303 and count_cases(db) == 1
    shown = [
        re.search(r'id="booking-number">([^<]+)<', tab.get("/book/portal_flow/booked").text)
        for tab in (first_tab, second_tab)
    ]
    assert shown[0].group(1) == shown[1].group(1)
