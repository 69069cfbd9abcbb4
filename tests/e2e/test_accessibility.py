"""Accessibility of the main pages, checked by axe-core in real Chromium: each page is opened
as the person who uses it (a store clerk, a supervisor, a process owner, a customer), axe runs
on it once it has drawn (diagrams, the modeler), and no serious or critical violation may be
found. The report of each page is written to test-artifacts/axe/<page>.json and a line per
page is printed in the terminal summary. The modeler speaks the page's language too: its
palette, context pad and token simulation are Chinese on a Chinese page, English on an English
one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.e2e import axe_summary
from tests.e2e.live_app import PHONE, Company, chromium, live_company  # noqa: F401 - fixtures
from tests.e2e.staff_browser import ROOT, SHOTS, sign_in

pytestmark = pytest.mark.e2e

REPORTS = ROOT / "test-artifacts" / "axe"
AXE_URL = "/static/vendor/axe-core/axe.min.js"  # served from the site: its CSP allows it
BLOCKING = ("serious", "critical")
# The rules of WCAG 2.0/2.1 A and AA and axe's best practices.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


@dataclass(frozen=True)
class Page:
    name: str
    user: str | None  # who opens it (None: a customer, not signed in)
    path: Callable[[Company], str]
    ready: str | None = None  # a selector that appears once the page has drawn
    then: Callable[[object, Company], None] | None = None  # steps after opening it
    optional: bool = False  # a page being added elsewhere: skipped when it does not answer 200


def _send_empty(tab, company: Company) -> None:
    """Send the page's form unanswered: the page again, with its errors beside the fields."""
    with tab.expect_navigation():
        tab.click("form[method=post] button.primary")
    tab.wait_for_selector("[aria-invalid=true]")


def _look_up_booking(tab, company: Company) -> None:
    tab.fill("input[name=number]", company.number)
    tab.fill("input[name=phone]", company.phone)
    tab.click("button[type=submit]")
    tab.wait_for_selector("h1")


PAGES = [
    Page("login", None, lambda c: "/login"),
    Page("inbox", "shop", lambda c: "/tasks"),
    Page("task", "shop", lambda c: f"/tasks/{c.task_id}"),
    Page("task-with-errors", "shop", lambda c: f"/tasks/{c.task_id}", then=_send_empty),
    Page("case-list", "sue", lambda c: "/cases"),
    Page("case", "sue", lambda c: f"/cases/{c.number}", "#diagram[data-ready=true]"),
    Page("dashboard", "sue", lambda c: "/dashboard"),
    Page("models", "olga", lambda c: "/models"),
    Page("modeler", "olga", lambda c: "/models/store_appointment/edit", "#modeler[data-ready]"),
    Page("form-editor", "olga", lambda c: "/models/forms/store_appointment.attendance.json"),
    Page("portal-index", None, lambda c: "/book"),
    Page(
        "portal-booking",
        None,
        lambda c: "/book/store_appointment?service_item=facial&day=2026-11-25",
    ),
    Page(
        "portal-booking-errors",
        None,
        lambda c: "/book/store_appointment?service_item=facial&day=2026-11-25",
        then=_send_empty,
    ),
    Page("portal-status", None, lambda c: "/book/status", then=_look_up_booking),
]
# Pages being added beside these (a search box's results, starting a new case by phone): checked
# when the app has them, found by their address.
OPTIONAL = {"search": ("/search", "/tasks/search", "/cases/search"), "new-case": ("/new",)}


def _optional_pages(flask_app) -> list[Page]:
    rules = {
        rule.rule
        for rule in flask_app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments
    }
    found = []
    for name, paths in OPTIONAL.items():
        path = next((p for p in paths if p in rules), None)
        if path is not None:
            query = f"?q={PHONE}" if name == "search" else ""  # the booked customer found
            found.append(Page(name, "sue", lambda c, path=path + query: path, optional=True))
    return found


def _axe(tab) -> dict:
    if not tab.evaluate("() => typeof window.axe === 'object'"):
        tab.add_script_tag(url=AXE_URL)
    return tab.evaluate("(options) => axe.run(document, options)", AXE_OPTIONS)


def _report(page: Page, url: str, results: dict) -> tuple[list[dict], str]:
    violations = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "helpUrl": v["helpUrl"],
            "nodes": [
                {"target": n["target"], "html": n["html"][:300], "summary": n["failureSummary"]}
                for n in v["nodes"]
            ],
        }
        for v in results["violations"]
    ]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{page.name}.json").write_text(
        json.dumps(
            {
                "page": page.name,
                "url": url,
                "user": page.user,
                "axe": results["testEngine"]["version"],
                "violations": violations,
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    other = [v for v in violations if v["impact"] not in BLOCKING]
    line = f"{page.name:22} {len(blocking)} serious/critical, {len(other)} moderate/minor" + (
        f" ({', '.join(v['id'] for v in violations)})" if violations else ""
    )
    return blocking, line


def test_the_main_pages_have_no_serious_or_critical_violations(
    request,
    live_company,  # noqa: F811 - the fixtures of tests/e2e/live_app.py
    chromium,  # noqa: F811
    app,  # noqa: F811
):
    axe_summary.ensure_registered(request.config)
    company = live_company
    found: dict[str, list[str]] = {}
    sessions: dict[str | None, object] = {}
    try:
        for page in [*PAGES, *_optional_pages(app)]:
            if page.user not in sessions:
                context = chromium.new_context(viewport={"width": 1366, "height": 900})
                tab = context.new_page()
                if page.user:
                    sign_in(tab, company.base, page.user)
                sessions[page.user] = tab
            tab = sessions[page.user]
            response = tab.goto(company.base + page.path(company))
            status = response.status if response is not None else None
            if page.optional and status != 200:
                axe_summary.record(f"{page.name:22} not checked (answered {status})")
                continue
            assert status == 200, (page.name, status)
            if page.ready:
                tab.wait_for_selector(page.ready, timeout=20_000)
            if page.then:
                page.then(tab, company)
            blocking, line = _report(page, tab.url, _axe(tab))
            axe_summary.record(line)
            # Every main page as it looks on a desk and on a phone.
            SHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SHOTS / f"page-{page.name}-1366.png"), full_page=True)
            tab.set_viewport_size({"width": 390, "height": 844})
            tab.screenshot(path=str(SHOTS / f"page-{page.name}-390.png"), full_page=True)
            tab.set_viewport_size({"width": 1366, "height": 900})
            if blocking:
                found[page.name] = [
                    f"{v['id']} ({v['impact']}): {v['help']} — {v['nodes'][0]['target']}"
                    for v in blocking
                ]
    finally:
        for tab in sessions.values():
            tab.context.close()
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=2)


MODELER_TEXTS = """() => ({
  palette: [...document.querySelectorAll('.djs-palette .entry')].map(e => e.getAttribute('aria-label') || e.title),
  pad: [...document.querySelectorAll('.djs-context-pad .entry')].map(e => e.getAttribute('aria-label') || e.title),
  simulation: [...document.querySelectorAll('[class*=bts-][title]')].map(e => e.title),
  log: (document.querySelector('.bts-log .bts-header') || {}).textContent || '',
})"""
SELECT_TASK = """() => {
  const m = window.caseflowModeler;
  m.get('selection').select(m.get('elementRegistry').filter(e => e.type === 'bpmn:UserTask')[0]);
}"""
WORDS = {
    "zh_Hant": ("建立開始事件", "接上結束事件", "重設模擬", "模擬紀錄"),
    "en": ("Create start event", "Append end event", "Reset Simulation", "Simulation Log"),
}


@pytest.mark.parametrize("lang", ["zh_Hant", "en"])
def test_the_modeler_speaks_the_pages_language(live_company, chromium, lang):  # noqa: F811
    """bpmn-js's palette and context pad, and token simulation's buttons and log."""
    create_start, append_end, reset, log = WORDS[lang]
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tab = context.new_page()
        context.add_cookies([{"name": "lang", "value": lang, "url": live_company.base}])
        sign_in(tab, live_company.base, "olga")
        tab.goto(f"{live_company.base}/models/store_appointment/edit")
        tab.wait_for_selector("#modeler[data-ready=true]", timeout=20_000)
        tab.evaluate(SELECT_TASK)
        tab.wait_for_selector(".djs-context-pad .entry")
        texts = tab.evaluate(MODELER_TEXTS)
        assert create_start in texts["palette"]
        assert append_end in texts["pad"]
        assert reset in texts["simulation"]
        assert log in texts["log"]
        # A notice written while the simulation runs is said in the page's language too.
        tab.click("#btn-simulate")
        tab.wait_for_selector('#modeler[data-simulating="true"]')
        if lang == "zh_Hant":
            assert "Simulation" not in " ".join(tab.evaluate(MODELER_TEXTS)["simulation"])
    finally:
        context.close()
