"""Rule 7: lookups are limited against guessing without locking out a customer who uses the
page normally. Only failures count, per address and per booking named, in sliding windows;
over a limit the page says how long to wait (429 with Retry-After) and confirms nothing."""

from __future__ import annotations

import re

from tests.webui.conftest import csrf_token
from tests.webui.portal_world import PHONE, book_facial, store_portal, stores  # noqa: F401

OFFICE = "198.51.100.7"


def lookup(client, number, phone=PHONE, address=OFFICE):
    token = csrf_token(client.get("/book/status", environ_base={"REMOTE_ADDR": address}).text)
    return client.post(
        "/book/status",
        data={"number": number, "phone": phone, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def manual_limits(app, per_address: int, per_booking: int):
    """Set the limits; the counts follow the runtime's clock, which the test moves."""
    app.config["PORTAL_LOOKUPS_PER_10_MIN"] = per_address
    app.config["PORTAL_BOOKING_FAILURES_PER_10_MIN"] = per_booking
    return app.extensions["caseflow"].clock


def test_a_correct_lookup_after_a_few_typos_still_works(app, store_portal):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    typos = [
        lookup(client, number, "13800138001"),
        lookup(client, number.replace("0001", "0010")),
        lookup(client, number, "1380013800"),
        lookup(client, number[:-1]),
    ]
    assert [r.status_code for r in typos] == [404] * 4
    assert "請按短信核對預約號和電話號碼" in typos[0].text
    assert lookup(client, number).status_code == 200


def test_successful_lookups_are_not_counted(app, store_portal):  # noqa: F811
    manual_limits(app, per_address=3, per_booking=3)
    client = app.test_client()
    number = book_facial(client)
    assert {lookup(client, number).status_code for _ in range(10)} == {200}


def test_the_address_limit_says_how_long_to_wait_and_the_window_slides(app, store_portal):  # noqa: F811
    clock = manual_limits(app, per_address=5, per_booking=10)
    client = app.test_client()
    number = book_facial(client)
    codes = []
    for i in range(5):
        codes.append(lookup(client, f"SA-20261123-{i + 10:04d}").status_code)
        clock.advance(seconds=60)
    assert codes == [404] * 5
    held = lookup(client, number)  # even the right answer: nothing is confirmed
    assert held.status_code == 429 and "王美玲" not in held.text
    assert held.headers["Retry-After"] == "300"  # the first failure leaves the window then
    message = re.search(r'id="lookup-error"[^>]*>\s*([^<]+?)\s*<', held.text).group(1)
    assert message == "您所在網絡的查詢失敗次數過多，請 5 分鐘後再試。"
    client.set_cookie("lang", "en")
    english = lookup(client, number)
    assert "Too many unsuccessful attempts from your network" in english.text
    assert "try again in 5 minutes" in english.text
    # Another address is counted on its own.
    assert lookup(client, number, address="203.0.113.9").status_code == 200
    clock.advance(seconds=300)  # the first failure has left the window: one more try
    assert lookup(client, number).status_code == 200


def test_a_burst_of_one_customers_typos_does_not_lock_out_another_at_the_same_address(
    app,
    store_portal,  # noqa: F811
):
    client = app.test_client()
    mine = book_facial(client)
    theirs = book_facial(client, "2026-11-25T03:00:00+00:00", phone="13900000002")
    codes = [lookup(client, theirs, f"1390000{i + 100:04d}").status_code for i in range(14)]
    assert codes[:10] == [404] * 10 and set(codes[10:]) == {429}  # their booking waits
    held = lookup(client, theirs, "13900000002")
    assert "此預約號查詢失敗次數過多" in held.text and "或致電客服" in held.text
    assert lookup(client, mine).status_code == 200  # the other customer gets in


def test_guessing_one_bookings_phone_from_many_addresses_is_limited(app, store_portal):  # noqa: F811
    manual_limits(app, per_address=30, per_booking=5)
    client = app.test_client()
    number = book_facial(client)
    codes = [
        lookup(client, number, f"1380013{i:04d}", address=f"203.0.113.{i}").status_code
        for i in range(7)
    ]
    assert codes == [404] * 5 + [429] * 2
    # Written another way, it is still the same booking.
    assert lookup(client, number.lower().replace("-", " "), address="192.0.2.1").status_code == 429


def test_a_correct_lookup_clears_its_bookings_count(app, store_portal):  # noqa: F811
    manual_limits(app, per_address=30, per_booking=5)
    client = app.test_client()
    number = book_facial(client)
    assert [lookup(client, number, "13900000000").status_code for _ in range(4)] == [404] * 4
    assert lookup(client, number).status_code == 200
    assert [lookup(client, number, "13900000000").status_code for _ in range(4)] == [404] * 4
    assert lookup(client, number).status_code == 200


def test_change_and_cancel_posts_count_the_same(app, store_portal):  # noqa: F811
    manual_limits(app, per_address=3, per_booking=10)
    client = app.test_client()
    number = book_facial(client)
    token = csrf_token(client.get("/book/status").text)
    data = {"number": number, "phone": "13900000000", "kind": "cancel", "csrf_token": token}
    codes = [client.post("/book/request", data=data).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    assert store_portal.get_case(number).status == "running"
