"""Rule 1: customer pages write every time in the company's zone and in words (one function,
the `when` filter), and name items, stores and professionals, never their codes or ids."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests.webui.portal_world import (  # noqa: F401 - fixtures
    HUAIHAI,
    book_facial,
    look_up,
    store_portal,
    stores,
    text_of,
)


def test_one_function_writes_times_in_words(app):
    from webui.portal_text import when_words

    with app.test_request_context():
        instant = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
        assert when_words(instant, locale="zh_Hant") == "2026年12月8日（星期二）09:00"
        assert when_words(instant, locale="en") == "Tue 8 Dec 2026, 09:00"
        # Text as the cases hold it: UTC with its offset, or company time without one.
        assert when_words("2026-12-08T01:00:00+00:00", locale="zh_Hant") == (
            "2026年12月8日（星期二）09:00"
        )
        assert when_words("2026-12-08T09:00", locale="en") == "Tue 8 Dec 2026, 09:00"
        assert when_words(date(2026, 12, 8), locale="zh_Hant") == "2026年12月8日（星期二）"
        assert when_words("2026-12-08", locale="en") == "Tue 8 Dec 2026"
        assert when_words(instant, with_time=False, locale="en") == "Tue 8 Dec 2026"
        assert when_words(None) == "" and when_words("not a time") == "not a time"


def test_the_booking_page_offers_times_and_items_in_words(app, store_portal):  # noqa: F811
    client = app.test_client()
    page = client.get(
        f"/book/store_appointment?service_item=facial&store={HUAIHAI[0]}&day=2026-11-25"
    )
    text = text_of(page.text)
    assert "2026年11月25日（星期三）09:00" in text and "2026年11月25日（星期三）16:00" in text
    assert "+00:00" not in text and "T02:00" not in text  # values only, never shown
    assert "面部護理" in text and ">facial<" not in page.text
    client.set_cookie("lang", "en")
    english = text_of(client.get(page.request.full_path).text)
    assert "Wed 25 Nov 2026, 09:00" in english


def test_the_status_page_names_what_was_booked(app, store_portal):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    shown = look_up(client, number)
    assert shown.status_code == 200
    text = text_of(shown.text)
    assert "面部護理" in text and "facial" not in text
    assert "2026年11月25日（星期三）10:00–11:00" in text
    assert f"{HUAIHAI[0]} {HUAIHAI[1]}" in text
    assert "美容師小林" in text and "1號房" in text
    assert "請勿化妝；提前10分鐘到店" in text
    assert "2026年11月23日（星期一）09:30" in text  # booked on
    assert "+00:00" not in text and "2026-11-25T" not in text

    client.set_cookie("lang", "en")
    english = text_of(look_up(client, number).text)
    assert "Wed 25 Nov 2026, 10:00–11:00" in english and "Booked on" in english
