"""The decision table editor in real Chromium: a process owner opens the cleaning base-rate table
from the process page, adds a rule in dmn-js (light deep cleaning at a lower rate), checks and
deploys it; a cleaning case started afterwards is quoted from the new rule while a case started
before keeps its version's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.staff_browser import DMN_MODELER, ROOT, SHOTS, sign_in

TABLE = "home_cleaning_dispatch.base_rate.dmn"
FILES = [
    ROOT / "processes" / "home_cleaning_dispatch.bpmn",
    ROOT / "processes" / TABLE,
    ROOT / "processes" / "home_cleaning_dispatch.frequency_discount.dmn",
    ROOT / "processes" / "field_visit_close.bpmn",
    *sorted((ROOT / "forms").glob("home_cleaning_dispatch.*.json")),
    *sorted((ROOT / "forms").glob("field_visit_close.*.json")),
]
REQUEST = {
    "customer_name": "王小明",
    "phone": "13800138000",
    "address": "上海市浦東新區世紀大道 100 號",
    "unit_number": "12 棟 1502 室",
    "floor_area": 100,
    "cleaning_kind": "深度保潔",
    "frequency": "單次",
    "dirtiness": "輕度",
}
# The new rule, above "深度保潔, any dirtiness" (rule 4; the table's hit policy is FIRST).
NEW_RULE = ['"深度保潔"', '"輕度"', "7", "280", "22"]
# The bundle is Inferno's development build, which says so on the console.
VENDOR_NOISE = "development build of Inferno"


@pytest.fixture
def editor_bundles() -> tuple[Path, ...]:
    return (DMN_MODELER,)


@pytest.fixture
def console_noise() -> tuple[str, ...]:
    return (VENDOR_NOISE,)


def quote(runtime, number: str) -> int:
    task = next(t for t in runtime.get_case(number).open_tasks if t.element_id == "record_request")
    case = runtime.complete_task(task.id, REQUEST, "desk")
    return case.data["quote_price"]


@pytest.mark.e2e
def test_add_a_rule_to_the_base_rate_table_and_deploy(page, runtime, db, settings, clock) -> None:
    from engine.identity.users import add_user

    add_user(db, settings, "desk", ["service_desk"], clock.now())
    runtime.deploy(FILES, actor="owner")
    early = runtime.start_case("home_cleaning_dispatch", {}, actor="desk").number

    sign_in(page, page.base, "olga")
    page.goto(f"{page.base}/models/home_cleaning_dispatch/1")
    page.click(f"#decision-tables a:has-text('{TABLE}')")
    page.wait_for_selector("#decision-editor[data-ready]")
    assert page.get_attribute("#decision-editor", "data-ready") == "true"
    assert page.url.endswith(f"/models/decisions/{TABLE}")

    # dmn-js's own context menu on the first cell of rule 4: "Add rule above".
    page.click('[data-element-id="r4_kind"]', button="right")
    page.click(".context-menu-entry-add-rule-above")
    row = page.locator("#dmn-canvas tbody tr").nth(3)
    assert row.locator(".rule-index").inner_text().strip() == "4"
    cells = row.locator("td.input-cell, td.output-cell")
    assert cells.count() == len(NEW_RULE)
    typed = [*NEW_RULE[:2], '"七"', *NEW_RULE[3:]]  # first a rate in words
    for index, text in enumerate(typed):
        cells.nth(index).click()
        page.keyboard.type(text)
    page.locator("h1").click()  # leave the last cell

    # The check points at the cell: its problem names rule 4 and the column, and the cell is
    # outlined.
    page.click("#btn-validate")
    page.wait_for_selector("#decision-editor[data-checked]")
    assert page.get_attribute("#decision-editor", "data-checked") == "problems"
    problem = page.locator("#problems li").first
    cell_id = cells.nth(2).get_attribute("data-element-id")
    assert problem.get_attribute("data-element") == cell_id
    assert 'rule 4, output entry 1 "單價（元/平方米）": "七" is text' in problem.inner_text()
    outline = cells.nth(2).evaluate("cell => getComputedStyle(cell).outlineStyle")
    assert outline == "solid"
    page.evaluate("() => { delete document.getElementById('decision-editor').dataset.checked; }")

    cells.nth(2).click()
    page.keyboard.press("Control+A")
    page.keyboard.type(NEW_RULE[2])
    page.locator("h1").click()
    page.click("#btn-validate")
    page.wait_for_selector("#decision-editor[data-checked]")
    assert page.get_attribute("#decision-editor", "data-checked") == "ok", page.inner_text(
        "#problems"
    )
    page.click("#btn-deploy")
    page.wait_for_selector("#decision-editor[data-deployed]")
    deployed = page.get_attribute("#decision-editor", "data-deployed")
    assert deployed == "home_cleaning_dispatch v2", page.inner_text("#problems")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dmn-editor.png"), full_page=True)

    # New case: 100 m² × 7 = 700 (the new rule); before, rule "深度保潔, -" gave 100 × 8 = 800.
    later = runtime.start_case("home_cleaning_dispatch", {}, actor="desk")
    assert later.version == 2
    assert quote(runtime, later.number) == 700
    assert runtime.get_case(early).version == 1
    assert quote(runtime, early) == 800

    page.click("#decision-status a")  # the new version's page links the table again
    page.wait_for_selector("#decision-tables")
    assert page.url.endswith("/models/home_cleaning_dispatch/2")
    assert page.problems == []
