"""Customer pages: book, see the booking number, look it up, change and cancel."""

from __future__ import annotations

import re

from tests.conftest import fixture_files
from tests.webui.conftest import csrf_token


def deploy(runtime):
    runtime.deploy(fixture_files("portal_flow.bpmn", "portal_start.json"))


def book(client, **fields):
    token = csrf_token(client.get("/book/portal_flow").text)
    return client.post("/book/portal_flow", data={**fields, "csrf_token": token})


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
    assert good.status_code == 201
    number = re.search(r'id="booking-number">([^<]+)<', good.text).group(1)
    case = runtime.get_case(number)
    assert case.data["customer_name"] == "王小明" and case.data["channel"] == "web"
    assert client.get("/book/nope").status_code == 404


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
    assert page.status_code == 200 and 'name="new_time"' in page.text
    changed = client.post(
        "/book/request",
        data={
            "number": number,
            "phone": "13812345678",
            "kind": "change",
            "new_time": "2026-11-27T15:00",
            "csrf_token": token,
        },
    )
    assert changed.status_code == 200
    assert runtime.get_case(number).data["appointment_at"] == "2026-11-27T15:00"
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
