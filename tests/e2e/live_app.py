"""A company as the main pages show it, served from a thread, and Chromium to look at it.

`live_company` deploys the store's appointment process (and the small review process), adds
its people, rooms and a shift, and books one appointment through the portal, so every main
page has something on it: the store clerk's task, the supervisor's case, the customer's booking.
Used by the accessibility and keyboard tests (import the fixtures into the test module)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine.casework import portal
from engine.casework.resources import add_resource, add_service_item, add_shift
from engine.identity.users import add_user
from tests.conftest import fixture_files
from tests.webui.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
VENDOR = ROOT / "webui" / "static" / "vendor"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
STORE = [
    ROOT / "processes" / "store_appointment.bpmn",
    *sorted((ROOT / "forms").glob("store_appointment.*.json")),
]
PHONE = "13800138000"


@dataclass(frozen=True)
class Company:
    base: str  # the server's address
    number: str  # the booked appointment's case number
    phone: str
    task_id: int  # the store clerk's open task (到店接待及服務)
    review_task_id: int  # alice's open task of the review process (a checkbox and a note)


@pytest.fixture
def live_company(app, runtime, db, settings, clock) -> Iterator[Company]:
    add_user(db, settings, "shop", ["store_ops"], clock.now(), password=PASSWORD)
    with db.write() as session:
        add_service_item(session, "facial", "面部護理", 60, "facial")
        staff = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        add_shift(session, staff.id, "2026-11-25T09:00", "2026-11-25T17:00")
        session.commit()
    runtime.deploy(STORE, actor="olga")
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"), actor="olga")
    slot = next(
        s
        for s in portal.free_slots(runtime, "facial", "2026-11-25")
        if runtime.calendar.local(datetime.fromisoformat(s)).hour == 10
    )
    booking = {
        "service_item": "facial",
        "appointment_at": slot,
        "customer_name": "王美玲",
        "phone": PHONE,
    }
    page = portal.page(runtime, "store_appointment")
    schema = {
        **page.schema,
        "properties": {
            **page.schema["properties"],
            "appointment_at": {**page.schema["properties"]["appointment_at"], "enum": [slot]},
        },
    }
    number = portal.book(runtime, "store_appointment", booking, schema=schema)
    task = next(t for t in runtime.get_case(number).open_tasks)
    review = runtime.start_case("review_flow", {"customer_name": "陳大文"})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Company(
            f"http://127.0.0.1:{httpd.server_port}",
            number,
            PHONE,
            task.id,
            review.open_tasks[0].id,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/ensure-test-deps.sh installs it)")
    if not (VENDOR / "axe-core" / "axe.min.js").exists():
        pytest.skip("webui/static/vendor is incomplete (run scripts/install-frontend.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(tab, base: str, name: str) -> None:
    tab.goto(f"{base}/login")
    tab.fill("input[name=name]", name)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(lambda url: "/login" not in url)
