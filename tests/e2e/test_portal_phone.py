"""The customer pages on a phone, in real Chromium at 390×844: a customer books a store
appointment choosing the store from the list, gets the number, looks the booking up with the
reference exactly as the SMS prints it, sees the booking in words with what can still be
done, and cancels it. No page scrolls sideways and every tap target is at least 44 px high.
Every portal page is photographed at 1366 and 390 px wide (test-artifacts/screens/
portal-<page>-1366.png and -390.png)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import fixture_files
from tests.e2e import staff_browser
from tests.e2e.staff_browser import DESKTOP, PHONE, SHOTS, portal_links_to, scroll_width, serve
from tests.webui.portal_world import HUAIHAI, files, sms_texts, stores  # noqa: F401

pytestmark = pytest.mark.e2e

PHONE_NUMBER = "13800138000"

# Interactive elements lower than 44 px (checkboxes and radios count by their labels).
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'a[href], button, select, textarea, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), label.check'
  )].filter(e => {
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && box.height < 44;
  }).map(e => e.outerHTML.slice(0, 120))"""


@pytest.fixture
def server(app, runtime, stores, monkeypatch) -> Iterator[str]:  # noqa: F811
    monkeypatch.setenv("CASEFLOW_SECRET_KEY", "e2e-portal-phone")
    runtime.deploy(
        [
            *files("store_appointment", "signed_service_booking", "consultation"),
            *files("home_cleaning_dispatch", "field_visit_close"),
            *fixture_files("link_flow.bpmn", "link_reply.json"),
        ],
        actor="owner",
    )
    with serve(app) as base:
        portal_links_to(runtime, base)
        yield base


def new_tab(browser, errors: list[str], viewport: dict[str, int]):
    phone = viewport["width"] < 500
    context = browser.new_context(
        viewport=viewport,
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=2 if phone else 1,
        locale="zh-TW",
    )
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, tab


def fits(tab, width: int) -> None:
    """Nothing scrolls sideways, and every tap target is big enough."""
    scroll = scroll_width(tab)
    assert scroll <= width, f"{tab.url}: {scroll} px wide on a {width} px screen"
    if width < 500:
        assert tab.evaluate(SMALL_TARGETS) == [], tab.url


def shot(tab, page: str, width: int) -> None:
    staff_browser.shot(tab, f"portal-{page}-{width}")


def submit(tab, selector: str) -> None:
    """Tap (click) what sends a form or opens a page, and wait for the page it leads to."""
    with tab.expect_navigation():
        tab.click(selector)


def test_a_customer_books_looks_up_and_cancels_on_a_phone(server, browser, runtime, db):
    errors: list[str] = []
    context, tab = new_tab(browser, errors, PHONE)
    tab.goto(f"{server}/book")
    fits(tab, 390)
    submit(tab, "text=門店預約")

    # The store comes from the list, with its address.
    fits(tab, 390)
    tab.select_option("#choose select[name=service_item]", label="面部護理")
    labels = tab.eval_on_selector_all(
        "#choose select[name=store] option", "o => o.map(e => e.textContent)"
    )
    assert f"{HUAIHAI[0]} · {HUAIHAI[1]}" in labels
    tab.select_option("#choose select[name=store]", label=f"{HUAIHAI[0]} · {HUAIHAI[1]}")
    tab.fill("#choose input[name=day]", "2026-11-25")
    submit(tab, "text=顯示可預約時段")
    fits(tab, 390)
    assert "面部護理 · 淮海店（上海市黃浦區淮海中路 100 號）" in tab.text_content("#chosen")
    tab.select_option("select[name=appointment_at]", label="2026年11月25日（星期三）10:00")
    tab.fill("input[name=customer_name]", "王美玲")
    tab.fill("input[name=phone]", PHONE_NUMBER)
    submit(tab, "text=送出預約")
    fits(tab, 390)
    number = tab.text_content("#booking-number").strip()
    assert re.fullmatch(r"SA-20261123-\d{4}", number)

    # The reference exactly as the SMS prints it.
    (sms,) = [text for text in sms_texts(db) if "預約號" in text]
    reference = re.search(r"預約號 (\S+?)。", sms).group(1)
    assert reference.startswith(number + "-")
    submit(tab, "text=查詢預約")
    fits(tab, 390)
    tab.fill("input[name=number]", reference)
    tab.fill("input[name=phone]", PHONE_NUMBER)
    submit(tab, "main button[type=submit]")
    fits(tab, 390)

    # What was booked, in words, and what can still be done.
    assert tab.text_content("#booking-number").strip() == number
    assert tab.text_content("#booking-stage").strip() == "已確認"
    assert tab.text_content("#booking-item").strip() == "面部護理"
    assert tab.text_content("#booking-time").strip() == "2026年11月25日（星期三）10:00–11:00"
    store = tab.text_content("#booking-store")
    assert HUAIHAI[0] in store and HUAIHAI[1] in store
    assert tab.text_content("#booking-professional").strip() == "美容師小林"
    assert tab.locator("input[name=new_start]").is_visible()
    assert tab.locator("#action-cancel button").is_visible()

    tab.fill("#cancel-reason", "臨時出差")
    submit(tab, "#action-cancel button")
    fits(tab, 390)
    assert "已收到您的取消" in tab.text_content("main")
    assert tab.text_content("#booking-stage").strip() == "客戶取消"
    assert tab.locator("#action-cancel button").count() == 0
    context.close()
    case = runtime.get_case(number)
    assert case.status == "completed" and case.outcome == "cancelled_by_customer"
    assert case.data["cancellation"] == {"reason": "臨時出差"}
    assert errors == []


def _pages(server: str, runtime) -> list[tuple[str, str, str | None]]:
    """(name, address, what to do there first) of every customer page; a reply link of its
    own for each run (a link works once)."""
    number = runtime.start_case("link_flow", {}, actor="desk").number
    link = runtime.get_case(number).data["reply_url"]
    store = f"{server}/book/store_appointment?service_item=facial&store={HUAIHAI[0]}"
    return [
        ("index", f"{server}/book", None),
        ("book-store", f"{server}/book/store_appointment", None),
        ("book-store-times", f"{store}&day=2026-11-25", None),
        ("book-store-closed", f"{store}&day=2026-11-28", None),
        ("book-signed", f"{server}/book/signed_service_booking", None),
        ("book-cleaning", f"{server}/book/home_cleaning_dispatch", None),
        ("book-consultation", f"{server}/book/consultation", None),
        ("book-errors", f"{server}/book/signed_service_booking", "errors"),
        ("booked", f"{store}&day=2026-11-25", "book"),
        ("lookup", f"{server}/book/status", None),
        ("lookup-not-found", f"{server}/book/status", "not_found"),
        ("status", f"{server}/book/status", "status"),
        ("reply", link, None),
        ("reply-done", link, "reply"),
        ("reply-refused", link[:-4] + "xxxx", None),
    ]


def _prepare(tab, what: str | None, width: int) -> None:
    if what == "errors":  # a closed day and missing fields, refused beside the fields
        tab.fill("input[name=appointment_at]", "2026-11-28T10:00")
        tab.fill("input[name=customer_name]", "陳大文")
        tab.fill("input[name=phone]", "1234")
        tab.wait_for_selector("#err-appointment_at")  # refused as it is picked
        with tab.expect_navigation():  # and again by the server when sent anyway
            tab.evaluate("() => document.querySelector('form.booking-form').submit()")
    elif what == "book":
        tab.select_option("select[name=appointment_at]", index=1 if width > 500 else 2)
        tab.fill("input[name=customer_name]", "王美玲")
        tab.fill("input[name=phone]", PHONE_NUMBER)
        submit(tab, "text=送出預約")
    elif what in ("not_found", "status"):
        number = "SA-20261123-0001" if what == "status" else "SA-20261123-0999"
        tab.fill("input[name=number]", number)
        tab.fill("input[name=phone]", PHONE_NUMBER)
        submit(tab, "main button[type=submit]")
    elif what == "reply":
        tab.fill("input[name=score]", "5")
        submit(tab, "main button[type=submit]")


def test_every_portal_page_at_1366_and_390(server, browser, runtime):
    errors: list[str] = []
    names: list[str] = []
    for viewport in (DESKTOP, PHONE):
        width = viewport["width"]
        context, tab = new_tab(browser, errors, viewport)
        for name, address, what in _pages(server, runtime):
            tab.goto(address)
            _prepare(tab, what, width)
            fits(tab, width)
            shot(tab, name, width)
            names.append(name)
        context.close()
    for name in names:
        assert (SHOTS / f"portal-{name}-1366.png").exists()
        assert (SHOTS / f"portal-{name}-390.png").exists()
    assert errors == []
