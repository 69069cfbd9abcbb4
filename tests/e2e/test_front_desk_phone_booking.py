"""A customer calls the front desk: the clerk types the caller's phone number into the header's
search box, finds her with her earlier booking, starts a new store appointment for her from the
web with the process's start form (her name and phone already filled in), and the new case
appears in her history with the data given. Screenshots of the search and new-case pages at
1366 and 390 px wide."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from engine.store.tables import Case
from tests.e2e.staff_browser import (
    DESKTOP,
    PHONE,
    facial_store,
    launch,
    new_tab,
    scroll_width,
    serve,
    shot,
    sign_in,
    small_targets,
)

pytestmark = pytest.mark.e2e

CALLER = "13800138000"


@pytest.fixture
def server(app, runtime, db, settings, clock) -> Iterator[str]:
    facial_store(
        runtime,
        db,
        settings,
        clock,
        user=("desk", "service_desk"),
        shifts=(
            ("2026-11-25T09:00", "2026-11-25T17:00"),
            ("2026-11-27T09:00", "2026-11-27T17:00"),
        ),
    )
    with serve(app) as base:
        yield base


def _cases(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Case))


def test_front_desk_books_a_store_appointment_for_a_caller(server, runtime, db):
    # She booked once before, online.
    earlier = runtime.start_case(
        "store_appointment",
        {
            "service_item": "facial",
            "appointment_at": "2026-11-25T10:00",
            "customer_name": "王美玲",
            "phone": CALLER,
        },
        actor="portal",
    ).number
    errors: list[str] = []
    with launch() as browser:
        context, tab = new_tab(browser, errors, DESKTOP)
        sign_in(tab, server, "desk")

        # The caller's number, typed into the header's search box.
        tab.fill("header.top input[name=q]", CALLER)
        tab.press("header.top input[name=q]", "Enter")
        tab.wait_for_url("**/search?q=*")
        customer = tab.locator("section.customer")
        assert customer.count() == 1
        assert "王美玲" in customer.inner_text() and earlier in customer.inner_text()
        assert "門店預約" in customer.inner_text()
        shot(tab, "staff-search-1366")

        # A new case for this customer: the processes the front desk may start.
        customer.get_by_text("為此客戶新建案件").click()
        tab.wait_for_url("**/new?*")
        tab.click("text=門店預約")
        tab.wait_for_url("**/new/store_appointment?*")
        # Her name and phone are filled in; the form's other fields are not.
        assert tab.input_value("input[name=customer_name]") == "王美玲"
        assert tab.input_value("input[name=phone]") == CALLER
        assert tab.input_value("textarea[name=notes]") == ""
        # Only required fields carry the mark.
        required = tab.eval_on_selector_all(
            "form.start-form .field:has(.req) label", "ls => ls.map(l => l.getAttribute('for'))"
        )
        assert sorted(required) == [
            "f-appointment_at",
            "f-customer_name",
            "f-phone",
            "f-service_item",
        ]
        # The service item is offered from the store's list.
        tab.select_option("select[name=service_item]", "facial")
        # A time given wrongly first: refused beside the field, nothing started.
        tab.fill("input[name=phone]", "12345")
        tab.fill("input[name=appointment_at]", "2026-11-27T14:00")
        tab.click("form.start-form button.primary")
        assert tab.locator("#err-phone").is_visible()
        assert _cases(db) == 1
        shot(tab, "staff-new-case-1366")
        tab.fill("input[name=phone]", CALLER)
        tab.fill("textarea[name=notes]", "電話預約，客戶希望靠窗座位")
        tab.click("form.start-form button.primary")

        # Started, and shown in her history (the desk has no task in it: the store has).
        tab.wait_for_url("**/search?q=SA-*")
        assert "已建立案件" in tab.text_content("main")
        number = tab.url.rsplit("=", 1)[1]
        assert number != earlier
        history = tab.locator("section.customer").inner_text()
        assert number in history and earlier in history
        assert "2026-11-27 14:00" in history  # the appointment, in company time
        context.close()

        # The same two pages on a phone: no sideways scrolling, large enough to tap.
        context, tab = new_tab(browser, errors, PHONE)
        sign_in(tab, server, "desk")
        tab.goto(f"{server}/search?q={CALLER}")
        assert scroll_width(tab) <= PHONE["width"]
        assert small_targets(tab) == []
        shot(tab, "staff-search-390")
        tab.goto(f"{server}/new/store_appointment?customer_name=王美玲&phone={CALLER}")
        assert scroll_width(tab) <= PHONE["width"]
        assert small_targets(tab) == []
        shot(tab, "staff-new-case-390")
        context.close()
    assert errors == []

    case = runtime.get_case(number)
    assert case.process == "store_appointment"
    assert case.data["customer_name"] == "王美玲" and case.data["phone"] == CALLER
    assert case.data["service_item"] == "facial"
    assert case.data["notes"] == "電話預約，客戶希望靠窗座位"
    # The slot was booked for the time given (14:00 in Shanghai).
    assert [t.element_id for t in case.open_tasks] == ["attend"]
    assert runtime.get_case(earlier).status == "running"
