"""Importing a diagram in real Chromium: a process owner uploads a file saved by Camunda
Modeler whose lane is a team name, not a role; the modeler opens with that lane marked and the
problem listed, the owner renames the lane in the side panel, checks and deploys; a new case
runs on the imported process."""

from __future__ import annotations

import pytest

from tests.conftest import fixture_files
from tests.e2e.staff_browser import SHOTS, sign_in
from tests.webui.test_model_import import CAMUNDA

HAS_MARKER = "([id, marker]) => window.caseflowModeler.get('canvas').hasMarker(id, marker)"


@pytest.mark.e2e
def test_import_a_camunda_file_fix_its_lane_and_deploy(page, runtime) -> None:
    runtime.deploy(fixture_files("review_form.json"))  # the form its user task names

    sign_in(page, page.base, "olga")
    page.goto(f"{page.base}/models")
    page.click('a[href="/models/import"]')
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "repair_request.bpmn", "mimeType": "text/xml", "buffer": CAMUNDA.encode()}],
    )
    page.click("#import-form button[type=submit]")

    page.wait_for_selector("#modeler[data-ready]")
    assert page.get_attribute("#modeler", "data-ready") == "true"
    # Checked on arrival: the lane is marked on the canvas and the problem is listed.
    assert page.get_attribute("#modeler", "data-checked") == "problems"
    assert page.evaluate(HAS_MARKER, ["Lane_sales", "model-problem"])
    listed = page.locator('#problems li[data-element="Lane_sales"]')
    assert "'Sales' is not a known role" in listed.inner_text()
    assert page.locator(".problem-overlay").count() >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "model-import.png"))

    # The problem's link selects the lane; its name is the role, set in the side panel.
    listed.locator("button").click()
    page.wait_for_selector('#properties[data-element="Lane_sales"]')
    name = page.locator('#properties [data-entry-id="name"] textarea')
    assert name.input_value() == "Sales"
    name.fill("客服")
    name.press("Tab")
    page.wait_for_selector("#properties .hint:has-text('service_desk')")

    page.click("#btn-validate")
    page.wait_for_selector('#modeler[data-checked="ok"]', timeout=10_000)
    assert not page.evaluate(HAS_MARKER, ["Lane_sales", "model-problem"])

    page.click("#btn-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    assert page.get_attribute("#modeler", "data-deployed") == "v1", page.inner_text("#problems")

    case = runtime.start_case("repair_request")
    assert case.version == 1
    assert [t.element_id for t in case.open_tasks] == ["Task_check"]
    assert page.problems == []
