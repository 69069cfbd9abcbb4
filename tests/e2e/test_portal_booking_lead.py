"""The signed-service booking page in real Chromium: the picker starts at the earliest time the
lead allows; a time too soon is refused beside the field as it is picked, naming the earliest
time; ticking 緊急需求 lowers the picker's start to now and the same time passes.
The clock stands at Monday 23 November 2026 09:30 (N = 1: the earliest is Tuesday 09:00)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.staff_browser import serve
from tests.webui.portal_world import files

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(app, runtime) -> Iterator[str]:
    runtime.deploy(files("signed_service_booking"), actor="owner")
    with serve(app) as base:
        yield base


def test_urgent_lowers_the_pickers_start_and_lets_a_shorter_lead_through(browser, server):
    context = browser.new_context(locale="zh-TW")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        tab.goto(f"{server}/book/signed_service_booking")
        picker = tab.locator("input[name=appointment_at]")
        assert picker.get_attribute("min") == "2026-11-24T09:00"
        picker.fill("2026-11-23T16:00")
        picker.dispatch_event("change")
        error = tab.wait_for_selector("#err-appointment_at")
        assert "最早可預約 2026年11月24日（星期二）09:00" in error.text_content()
        tab.check("input[name=urgent]")
        tab.wait_for_selector("#err-appointment_at", state="detached")
        assert picker.get_attribute("min") == "2026-11-23T09:31"
        tab.uncheck("input[name=urgent]")
        tab.wait_for_selector("#err-appointment_at")
        assert picker.get_attribute("min") == "2026-11-24T09:00"
        assert errors == []
    finally:
        context.close()
