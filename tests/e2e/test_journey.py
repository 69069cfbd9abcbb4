"""The whole journey in real Chromium: a customer books a store appointment online, a store
employee signs in, sees the task and submits its form once with an error and then correctly,
the supervisor finds the case and sees the right element marked on its diagram, and the
dashboard shows its charts. A screenshot of each main page is saved for review."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine.casework.resources import add_resource, add_service_item, add_shift
from engine.identity.users import add_user
from tests.webui.conftest import PASSWORD, app  # noqa: F401 - the web app fixture

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
VIEWER = (
    ROOT / "webui" / "static" / "vendor" / "bpmn-js" / "bpmn-navigated-viewer.production.min.js"
)
SHOTS = ROOT / "test-artifacts" / "screens"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
FILES = [
    ROOT / "processes" / "store_appointment.bpmn",
    *sorted((ROOT / "forms").glob("store_appointment.*.json")),
]


@pytest.fixture
def server(app, runtime, db, settings, clock) -> Iterator[str]:  # noqa: F811
    add_user(db, settings, "shop", ["store_ops"], clock.now(), password=PASSWORD)
    with db.write() as session:
        add_service_item(session, "facial", "面部護理", 60, "facial")
        staff = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        add_shift(session, staff.id, "2026-11-25T09:00", "2026-11-25T17:00")
        session.commit()
    runtime.deploy(FILES, actor="owner")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/ensure-test-deps.sh installs it)")
    if not VIEWER.exists():
        pytest.skip("the bpmn-js bundle is missing (scripts/install-frontend.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_tab(browser, errors):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, tab


def shot(tab, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(tab, base: str, name: str) -> None:
    tab.goto(f"{base}/login")
    tab.fill("input[name=name]", name)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")


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
