"""Helpers of the staff browser tests: the app served from a thread, Chromium, signing in,
screenshots, and what a phone-sized page must hold (no sideways scrolling, tap targets)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.webui.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
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


@contextmanager
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/ensure-test-deps.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_tab(browser: Any, errors: list[str], viewport: dict[str, int]) -> tuple[Any, Any]:
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, tab


def sign_in(tab: Any, base: str, name: str) -> None:
    tab.goto(f"{base}/login")
    tab.fill("input[name=name]", name)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_load_state()


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
