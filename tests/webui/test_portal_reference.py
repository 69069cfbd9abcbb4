"""Rule 3: the number or reference a customer's SMS prints finds the booking on the status
page exactly as printed, and as people retype it (any case, spaces or dashes or none,
full-width characters), together with the phone number."""

from __future__ import annotations

import re

import pytest

from engine import portal
from tests.webui.conftest import csrf_token
from tests.webui.portal_world import (  # noqa: F401 - fixtures
    PHONE,
    book_facial,
    look_up,
    sms_texts,
    store_portal,
    stores,
)


def test_references_are_compared_as_people_type_them():
    assert portal.normalize_reference(" sa-20261123-0001-a1b2c3 ") == "SA202611230001A1B2C3"
    assert portal.normalize_reference("ＳＡ－２０２６１１２３－０００１") == "SA202611230001"
    # Both ways of writing one booking count as one for the lookup limit.
    assert portal.lookup_key("SA-20261123-0001-A1B2C3") == portal.lookup_key("sa 20261123 0001")
    assert portal.lookup_key("SA-20261123-0001") == "SA202611230001"
    assert portal.lookup_key("hello") == ""


def printed_reference(db) -> str:
    (confirmation,) = [t for t in sms_texts(db) if "預約號" in t]
    return re.search(r"預約號 (\S+?)。", confirmation).group(1)


def test_the_reference_in_the_sms_finds_the_booking(app, store_portal, db):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    reference = printed_reference(db)
    assert re.fullmatch(rf"{number}-[0-9A-F]{{6}}", reference)
    compact = reference.replace("-", "")
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else "－" for c in reference)
    for typed in (
        reference,  # exactly as printed
        reference.lower(),
        reference.replace("-", " "),
        compact,
        f"  {reference[:2]} {compact[2:]} ",
        full_width,
        number,  # the booking number alone
        number.lower().replace("-", ""),
    ):
        found = look_up(client, typed)
        assert found.status_code == 200, typed
        assert f'id="booking-number">{number}<' in found.text, typed
    # The phone as people write it.
    assert look_up(client, reference, "+86 138-0013-8000").status_code == 200


@pytest.mark.parametrize(
    "typed",
    ["{number}-ABCDEF", "{number}1", "{number}-A1B2", "SA-20261124-0001", "SA-2026112-0001"],
)
def test_a_reference_that_is_not_the_bookings_finds_nothing(app, store_portal, db, typed):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    assert look_up(client, typed.format(number=number)).status_code == 404


def test_the_wrong_phone_finds_nothing(app, store_portal, db):  # noqa: F811
    client = app.test_client()
    book_facial(client)
    answer = look_up(client, printed_reference(db), "13900000000")
    assert answer.status_code == 404 and "王美玲" not in answer.text


def test_a_moved_booking_is_found_by_its_first_and_its_new_reference(app, store_portal, db):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    first = printed_reference(db)
    token = csrf_token(client.get("/book/status").text)
    moved = client.post(
        "/book/request",
        data={
            "number": number,
            "phone": PHONE,
            "kind": "change",
            "new_start": "2026-11-25T14:00",
            "csrf_token": token,
        },
    )
    assert moved.status_code == 200
    case = store_portal.get_case(number)
    assert case.data["appointment_at"] == "2026-11-25T06:00:00+00:00"
    second = case.data["booking_ref"]
    assert second != first and second in sms_texts(db)[-1]
    for reference in (first, second):
        shown = look_up(client, reference)
        assert shown.status_code == 200 and "2026年11月25日（星期三）14:00" in shown.text
