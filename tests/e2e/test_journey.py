"""The whole journey in real Chromium: a customer books a store appointment online, a store
employee signs in, sees the task and submits its form once with an error and then correctly,
the supervisor finds the case and sees the right element marked on its diagram, and the
dashboard shows its charts. A screenshot of each main page is saved for review."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.staff_browser import facial_store, new_tab, serve, shot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(app, runtime, db, settings, clock) -> Iterator[str]:
    facial_store(runtime, db, settings, clock)
    with serve(app) as base:
        yield base


def test_customer_staff_supervisor_dashboard(server, browser, runtime):
    errors: list[str] = []

    # A customer books a store appointment.
    context, tab = new_tab(browser, errors)
    tab.goto(f"{server}/book")
    shot(tab, "portal-index")
    tab.click("text=門店預約")
    # Only free times are offered: choose the item and the day first.
    tab.select_option("form#choose select[name=service_item]", "facial")
    tab.fill("form#choose input[name=day]", "2026-11-25")
    tab.click("text=顯示可預約時段")
    offered = tab.eval_on_selector_all(
        "select[name=appointment_at] option", "o => o.map(e => e.textContent)"
    )
    assert "2026年11月25日（星期三）10:00" in offered
    assert not any(label.endswith("08:30") for label in offered)
    tab.select_option("select[name=appointment_at]", label="2026年11月25日（星期三）10:00")
    tab.fill("input[name=customer_name]", "王美玲")
    tab.fill("input[name=phone]", "13800138000")
    shot(tab, "portal-book")
    tab.click("text=送出預約")
    number = tab.text_content("#booking-number").strip()
    assert re.match(r"^SA-20261123-\d{4}$", number)
    shot(tab, "portal-booked")
    context.close()

    # A store employee sees the task, submits once with an error, then correctly.
    context, tab = new_tab(browser, errors)
    sign_in(tab, server, "shop")
    assert "到店接待及服務" in tab.text_content("main")
    shot(tab, "staff-inbox")
    tab.click("text=到店接待及服務")
    tab.select_option("select[name=attendance]", "已到店")
    tab.click("button.primary")
    assert tab.locator("#err-served_by").is_visible()  # the error beside the field
    shot(tab, "staff-task-error")
    tab.fill("input[name=arrived_at]", "2026-11-25T09:55")
    tab.fill("input[name=served_by]", "美容師小林")
    tab.click("button.primary")
    assert "/tasks" in tab.url and "已完成" in tab.text_content("main")
    context.close()
    assert [t.element_id for t in runtime.get_case(number).open_tasks] == ["satisfaction"]

    # The supervisor finds the case and sees the satisfaction form marked as active.
    context, tab = new_tab(browser, errors)
    sign_in(tab, server, "sue")
    tab.goto(f"{server}/cases?customer=王美玲")
    shot(tab, "supervisor-cases")
    tab.click(f"text={number}")
    tab.wait_for_selector("#diagram[data-ready=true]", timeout=15000)
    marked = tab.evaluate(
        "() => [...document.querySelectorAll('.case-active')].map(e => e.getAttribute('data-element-id'))"
    )
    assert marked == ["satisfaction"]
    done = tab.evaluate(
        "() => [...document.querySelectorAll('.case-completed')].map(e => e.getAttribute('data-element-id'))"
    )
    # The store's wait, drawn collapsed on the main picture, holds the arrival task.
    assert "await_visit" in done
    shot(tab, "supervisor-case")

    # The dashboard shows its charts.
    tab.goto(f"{server}/dashboard")
    assert tab.locator("figure.chart svg").count() == 6
    shot(tab, "dashboard")
    context.close()
    assert errors == []
