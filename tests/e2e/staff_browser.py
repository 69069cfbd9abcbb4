"""Helpers of the browser tests: the app served from a thread, Chromium, a tab that records
the page's errors, signing in, the modeler opened, a company's store with a beautician,
screenshots, and what a phone-sized page must hold (no sideways scrolling, tap targets).
The fixtures built on them (`browser`, `page`, `server`) are in tests/e2e/conftest.py."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.casework.resources import add_resource, add_service_item, add_shift, add_store
from engine.identity.users import add_user
from tests.webui.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
VENDOR = ROOT / "webui" / "static" / "vendor"
VIEWER = VENDOR / "bpmn-js" / "bpmn-navigated-viewer.production.min.js"
MODELER = VENDOR / "bpmn-js" / "bpmn-modeler.production.min.js"
DMN_MODELER = VENDOR / "dmn-js" / "dmn-modeler.production.min.js"
AXE = VENDOR / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "screens"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
LAPTOP = {"width": 1300, "height": 900}
STORE_FILES = [
    ROOT / "processes" / "store_appointment.bpmn",
    *sorted((ROOT / "forms").glob("store_appointment.*.json")),
]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def portal_links_to(runtime: Any, base: str) -> None:
    """The links in the messages the cases send lead to the server at `base`."""
    runtime.settings = dataclasses.replace(
        runtime.settings, portal=dataclasses.replace(runtime.settings.portal, base_url=base)
    )


@contextmanager
def launch(*needs: Path) -> Iterator[Any]:
    """Chromium, or a skip (a failure under CI, tests/ci_guard.py) when it or one of the
    vendored files the pages need is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/ensure-test-deps.sh installs it)")
    for path in needs:
        if not path.exists():
            pytest.skip(f"{path.relative_to(ROOT)} is missing (run scripts/install-frontend.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_tab(browser: Any, errors: list[str], viewport: dict[str, int] = LAPTOP) -> tuple[Any, Any]:
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, tab


def watch_console(tab: Any, ignore: tuple[str, ...] = ()) -> list[str]:
    """The page's script errors and console errors from now on (not a missing favicon, a 404
    or a message containing one of `ignore`)."""
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error"
            and "favicon" not in msg.text
            and "404" not in msg.text
            and not any(noise in msg.text for noise in ignore)
            else None
        ),
    )
    return problems


def sign_in(tab: Any, base: str, name: str) -> None:
    tab.goto(f"{base}/login")
    tab.fill("input[name=name]", name)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("main button[type=submit]")
    tab.wait_for_url(lambda url: "/login" not in url)


def open_modeler(tab: Any, path: str) -> None:
    """Open the modeler at `path` (on the page's server, `tab.base`) and wait until it has
    drawn the diagram."""
    tab.goto(f"{tab.base}{path}")
    tab.wait_for_selector("#modeler[data-ready]")
    assert tab.get_attribute("#modeler", "data-ready") == "true"


def facial_store(
    runtime: Any,
    db: Any,
    settings: Any,
    clock: Any,
    user: tuple[str, str] = ("shop", "store_ops"),
    shifts: tuple[tuple[str, str], ...] = (("2026-11-25T09:00", "2026-11-25T17:00"),),
    actor: str = "owner",
) -> None:
    """The store appointment process deployed, facials with a beautician and a room at 淮海店
    during `shifts`, and `user` (name, role) who signs in to work its tasks."""
    name, role = user
    add_user(db, settings, name, [role], clock.now(), password=PASSWORD)
    with db.write() as session:
        add_service_item(session, "facial", "面部護理", 60, "facial")
        staff = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        for start, end in shifts:
            add_shift(session, staff.id, start, end)
        session.commit()
    runtime.deploy(STORE_FILES, actor=actor)


def huaihai_store(
    db: Any, shifts: tuple[tuple[str, str], ...], prep_notes: str = "請勿化妝。"
) -> None:
    """The store 淮海店 with its address, facials (with `prep_notes` for the customer), a
    beautician working `shifts` and a room."""
    with db.write() as session:
        add_store(session, "淮海店", "上海市黃浦區淮海中路300號")
        add_service_item(session, "facial", "面部護理", 60, "facial", prep_notes=prep_notes)
        beautician = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        for start, end in shifts:
            add_shift(session, beautician.id, start, end)
        session.commit()


def shot(tab: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def scroll_width(tab: Any) -> int:
    return tab.evaluate("() => document.documentElement.scrollWidth")


def small_targets(
    tab: Any,
    selector: str = "main button, main a.button, main select, main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), header.top button",
) -> list[str]:
    """The visible controls matching `selector` less than 44 px high."""
    return tab.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
            .map(e => e.outerHTML.slice(0, 80))""",
        selector,
    )


def beside_their_labels(tab: Any) -> list[str]:
    """Radio buttons and checkboxes whose label text does not sit right beside them, on the
    same line (and on one line, when it is short)."""
    return tab.evaluate(
        """() => [...document.querySelectorAll('main label.check')]
            .filter(l => l.offsetParent !== null)
            .filter(l => {
              const box = l.querySelector('input').getBoundingClientRect();
              const span = l.querySelector('span');
              const text = span.getBoundingClientRect();
              const line = parseFloat(getComputedStyle(span).lineHeight) || 24;
              const middle = box.top + box.height / 2;
              const beside = text.left >= box.right && text.left - box.right <= 16;
              const level = middle >= text.top && middle <= text.bottom;
              const short = span.textContent.trim().length <= 12;
              return !(beside && level && (!short || text.height < line * 1.5));
            })
            .map(l => l.textContent.trim())"""
    )
