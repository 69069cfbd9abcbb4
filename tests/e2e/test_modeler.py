"""The modeler in real Chromium: a process owner adds a user task to a deployed process, picks
its form in the side panel, checks and deploys from the page; a new case follows the new
version while a case started earlier stays on its own."""

from __future__ import annotations

import pytest

from engine.definitions.sources import SourceFile
from engine.runtime.versions import blank_diagram
from tests.conftest import fixture_files
from tests.e2e.staff_browser import SHOTS, open_modeler, sign_in

# Put a user task "follow_up" between first_task and the end event, through the bpmn-js API.
ADD_FOLLOW_UP = """() => {
  const modeler = window.caseflowModeler;
  const registry = modeler.get('elementRegistry');
  const modeling = modeler.get('modeling');
  const task = registry.get('first_task');
  modeling.removeElements([registry.get('flow_end')]);
  const added = modeling.appendShape(task, { type: 'bpmn:UserTask' },
    { x: task.x + task.width / 2 + 160, y: task.y + task.height / 2 });
  modeling.updateProperties(added, { id: 'follow_up', name: '回訪' });
  modeling.connect(added, registry.get('end'));
  modeler.get('selection').select(added);
}"""


@pytest.mark.e2e
def test_add_a_user_task_and_deploy_from_the_modeler(page, runtime) -> None:
    runtime.deploy(fixture_files("review_form.json"))
    v1 = blank_diagram("store_visit", "門店到訪")
    runtime.deploy([SourceFile("store_visit.bpmn", v1.encode())], actor="olga")
    early = runtime.start_case("store_visit").number

    sign_in(page, page.base, "olga")
    open_modeler(page, "/models/store_visit/edit")

    page.evaluate(ADD_FOLLOW_UP)
    page.wait_for_selector('#properties[data-element="follow_up"]')
    page.locator('#properties [data-entry-id="formJsonSchemaFilename"] select').select_option(
        "review_form.json"
    )
    assignee = page.locator("#properties input[name=assigneeExpression]")
    assignee.fill('"alice"')
    assignee.press("Tab")  # (the panel writes a field when it loses focus)

    page.click("#btn-validate")
    page.wait_for_selector("#modeler[data-checked]")
    assert page.get_attribute("#modeler", "data-checked") == "ok", page.inner_text("#problems")

    page.click("#btn-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    assert page.get_attribute("#modeler", "data-deployed") == "v2", page.inner_text("#problems")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "modeler.png"))

    page.click("#modeler-status a")  # the new version's page
    page.wait_for_selector("#modeler[data-ready]")
    assert page.url.endswith("/models/store_visit/2")

    later = runtime.start_case("store_visit")
    assert later.version == 2
    after_first = runtime.complete_task(later.open_tasks[0].id, {"confirmed": True}, "alice")
    follow_up = after_first.open_tasks[0]
    assert (follow_up.element_id, follow_up.name) == ("follow_up", "回訪")
    assert (follow_up.status, follow_up.assignee) == ("claimed", "alice")  # the panel's assignee
    assert "approve" in runtime.get_task(follow_up.id).form["properties"]

    before = runtime.get_case(early)
    assert before.version == 1
    done = runtime.complete_task(before.open_tasks[0].id, {"confirmed": True}, "alice")
    assert done.status == "completed" and done.version == 1
    assert page.problems == []
