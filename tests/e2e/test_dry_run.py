"""The dry run in real Chromium: a process owner opens the 門店預約 modeler, sets a scenario
(the customer's booking, then two days on the clock), runs the draft, and reads the reminder
with its time and text in the results while the path is marked on the diagram."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from engine.store.tables import Case, Outbox
from tests.e2e.staff_browser import SHOTS, STORE_FILES, huaihai_store, open_modeler, serve, sign_in

CUSTOMER = {
    "customer_name": "王美玲",
    "phone": "13800138000",
    "service_item": "facial",
    "appointment_at": "2026-11-25T10:00",
}


@pytest.fixture
def server(app, runtime, db) -> Iterator[str]:
    huaihai_store(db, shifts=(("2026-11-25T10:00", "2026-11-25T11:00"),))
    runtime.deploy(STORE_FILES)
    with serve(app) as base:
        yield base


@pytest.mark.e2e
def test_dry_run_shows_the_reminder_and_marks_the_path(page, db) -> None:
    sign_in(page, page.base, "olga")
    open_modeler(page, "/models/store_appointment/edit")

    # The start time is the company's now; the start data is prefilled with the simplest
    # valid answers (the first free slot), which the owner replaces with a customer's.
    assert page.input_value("#dry-run-start") == "2026-11-23T09:30"
    page.wait_for_function(
        "document.getElementById('dry-run-data').value.includes('appointment_at')"
    )
    page.fill("#dry-run-data", json.dumps(CUSTOMER, ensure_ascii=False))
    page.click("#dry-run-steps li button")  # remove the first scenario's "run to the end"
    page.select_option("#dry-run-add-kind", "clock")
    page.click("#dry-run-add")
    page.fill("#dry-run-steps li input[type=text]", "P2D")

    page.click("#dry-run-run")
    page.wait_for_selector("#dry-run[data-status]")
    assert page.get_attribute("#dry-run", "data-status") == "running", page.inner_text(
        "#dry-run-results"
    )
    messages = page.locator("#dry-run-messages li")
    assert messages.count() == 2
    reminder = messages.nth(1).inner_text()
    assert "2026-11-24 10:00" in reminder
    assert "王美玲 您好：提醒您即將到來的預約：2026-11-25 10:00" in reminder
    assert "SMS" in reminder and "UCS-2" in reminder
    assert "2026-11-24 10:00" in page.inner_text("#dry-run-path")

    # The path on the diagram: the reminder's branch taken, the arrival task waiting.
    for element in ("book_requested", "send_confirmation", "reminder_due", "send_reminder"):
        assert page.locator(f'.djs-element.dry-run-path[data-element-id="{element}"]').count() == 1
    # The arrival task waits inside the collapsed sub-process, which is marked waiting.
    assert page.locator('.djs-element.dry-run-waiting[data-element-id="await_visit"]').count() == 1
    assert page.locator('.djs-element.dry-run-path[data-element-id="end_no_show"]').count() == 0

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#dry-run").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "dry-run.png"), full_page=True)
    assert page.problems == []
    with db.read() as session:  # nothing was started or sent for real
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0


def _sign_in_and_open(page) -> None:
    sign_in(page, page.base, "olga")
    open_modeler(page, "/models/store_appointment/edit")
    page.wait_for_function(
        "document.getElementById('dry-run-data').value.includes('appointment_at')"
    )


def _run(page) -> str:
    page.evaluate("delete document.getElementById('dry-run').dataset.status")
    page.click("#dry-run-run")
    page.wait_for_selector("#dry-run[data-status]")
    return page.get_attribute("#dry-run", "data-status")


@pytest.mark.e2e
def test_what_the_dry_run_says_is_in_the_pages_language(page) -> None:
    _sign_in_and_open(page)
    page.fill("#dry-run-data", json.dumps(CUSTOMER, ensure_ascii=False))
    page.click("#dry-run-steps li button")  # remove "run to the end"
    page.select_option("#dry-run-add-kind", "clock")
    page.click("#dry-run-add")
    page.select_option("#dry-run-steps li select", "to")
    page.fill("#dry-run-steps li input", "2026-11-20T09:00")

    # A step that cannot be done: said in Chinese, with the step's action.
    assert _run(page) == "running"
    errors = page.inner_text("#dry-run-errors")
    assert "時鐘調到 2026-11-20 09:00" in errors
    assert "時鐘不能倒退（現在已是 2026-11-23 09:30）。" in errors
    assert "cannot go back" not in errors

    # A scenario that cannot be run (no start time): its problem by where, in Chinese.
    page.fill("#dry-run-start", "")
    assert _run(page) == "refused"
    assert "start：請以 ISO 8601 填寫時間" in page.inner_text("#dry-run-errors")

    # The same in English.
    page.context.add_cookies([{"name": "lang", "value": "en", "url": page.base}])
    _sign_in_and_open(page)
    page.fill("#dry-run-start", "")
    assert _run(page) == "refused"
    assert "start: give a time as ISO 8601" in page.inner_text("#dry-run-errors")
    # Chromium logs the 422 answers of the refused scenarios; nothing else.
    assert [p for p in page.problems if "status of 422" not in p] == []
