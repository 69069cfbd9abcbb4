"""The modeler's properties panel in real Chromium, as a process owner: a wrong condition typed
into a flow's condition field comes back from the server's check on that field and blocks the
deploy until it is fixed; a process parameter edited in the table (store_appointment's reminder
hours, 24 → 12) reaches the new version's cases while a running case keeps its 24."""

from __future__ import annotations

import pytest

from engine.casework.process_catalogue import version_source
from engine.runtime.versions import list_processes
from tests.e2e import staff_browser
from tests.e2e.staff_browser import ROOT, SHOTS, STORE_FILES

BOOKING = {
    "customer_name": "王美玲",
    "phone": "13800138000",
    "service_item": "facial",
    "appointment_at": "2026-11-25T10:00",
}

SELECT = "(id) => { const m = window.caseflowModeler; m.get('selection').select(m.get('elementRegistry').get(id)); }"
SELECT_PROCESS = """() => {
  const m = window.caseflowModeler;
  const pool = m.get('elementRegistry').filter((e) => e.type === 'bpmn:Participant')[0];
  m.get('selection').select(pool || m.get('canvas').getRootElement());
}"""
PROPERTY = """([id, name]) => {
  const m = window.caseflowModeler;
  const element = m.get('elementRegistry').get(id);
  const bo = element.businessObject.processRef || element.businessObject;
  const values = (bo.extensionElements && bo.extensionElements.values) || [];
  const block = values.find((v) => v.$type === 'spiffworkflow:Properties');
  const found = block && block.properties.find((p) => p.name === name);
  return found ? found.value : null;
}"""


def sign_in(tab, path: str) -> None:
    """Sign in as the process owner and open the modeler at `path`."""
    staff_browser.sign_in(tab, tab.base, "olga")
    staff_browser.open_modeler(tab, path)


def entry(tab, entry_id: str):
    return tab.locator(f'#properties [data-entry-id="{entry_id}"]')


@pytest.mark.e2e
def test_a_wrong_condition_shows_on_its_field_and_blocks_deploy(page, runtime) -> None:
    runtime.deploy(STORE_FILES, actor="olga")
    sign_in(page, "/models/store_appointment/edit")

    page.evaluate(SELECT, "f_request_bad")
    condition = entry(page, "conditionExpression")
    field = condition.locator("textarea")
    assert field.input_value() == "len(request_problems) > 0"
    field.fill("len(request_problems) >")
    # The server's check (the one deploy uses) answers on the field, after a pause.
    message = condition.locator(".bio-properties-panel-error")
    message.wait_for(timeout=10_000)
    assert "conditionExpression refused" in message.inner_text()
    assert "SyntaxError" in message.inner_text()
    assert page.get_attribute("#modeler", "data-checked") == "problems"
    assert page.is_disabled("#btn-deploy")
    listed = page.locator('#problems li[data-field="conditionExpression"]')
    assert listed.get_attribute("data-element") == "f_request_bad"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "properties-panel-condition-problem.png"))

    field.fill("len(request_problems) > 0 and not withdrawn")
    page.wait_for_selector('#modeler[data-checked="ok"]', timeout=10_000)
    assert condition.locator(".bio-properties-panel-error").count() == 0
    assert page.is_enabled("#btn-deploy")
    page.click("#btn-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    assert page.get_attribute("#modeler", "data-deployed") == "v2", page.inner_text("#problems")
    xml = version_source(runtime.db, "store_appointment", 2)["xml"]
    assert "len(request_problems) &gt; 0 and not withdrawn" in xml
    assert page.problems == []


@pytest.mark.e2e
def test_a_parameter_edited_in_the_table_reaches_new_cases_only(page, runtime) -> None:
    runtime.deploy(STORE_FILES, actor="olga")
    running = runtime.start_case("store_appointment", BOOKING, actor="portal", prevalidated=True)
    assert running.data["reminder_hours"] == 24
    sign_in(page, "/models/store_appointment/edit")

    page.evaluate(SELECT_PROCESS)
    row = page.locator('#properties tr[data-parameter="reminder_hours"]')
    value = row.locator('[name="value:reminder_hours"]')
    assert value.input_value() == "24"
    assert row.locator('[name="type:reminder_hours"]').input_value() == "number"
    value.fill("12")
    page.locator('#properties [name="unit:reminder_hours"]').fill("小時")
    page.locator('#properties [name="description:reminder_hours"]').fill(
        "預約前多久提醒客戶（小時）"
    )
    page.wait_for_selector('#modeler[data-checked="ok"]', timeout=10_000)
    pool = page.evaluate(
        "() => window.caseflowModeler.get('elementRegistry')"
        ".filter((e) => e.type === 'bpmn:Participant')[0].id"
    )
    assert page.evaluate(PROPERTY, [pool, "default:reminder_hours"]) == "12"
    assert page.evaluate(PROPERTY, [pool, "parameter:reminder_hours"]) == (
        '{"unit":"小時","description":"預約前多久提醒客戶（小時）"}'
    )
    page.locator('[data-group-id="group-caseflow-parameters"]').evaluate("e => e.scrollIntoView()")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "properties-panel-parameters.png"))

    page.click("#btn-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    assert page.get_attribute("#modeler", "data-deployed") == "v2", page.inner_text("#problems")

    later = runtime.start_case("store_appointment", BOOKING, actor="portal", prevalidated=True)
    assert (later.version, later.data["reminder_hours"]) == (2, 12)
    before = runtime.get_case(running.number)
    assert (before.version, before.data["reminder_hours"]) == (1, 24)
    assert page.problems == []


@pytest.mark.e2e
def test_the_panel_edits_what_the_engine_reads(page, runtime) -> None:
    runtime.deploy(STORE_FILES, actor="olga")
    sign_in(page, "/models/store_appointment/edit")

    page.evaluate(SELECT, "fix_request")
    form = entry(page, "formJsonSchemaFilename").locator("select")
    assert form.input_value() == "store_appointment.fix_request.json"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "properties-panel-user-task.png"))

    page.evaluate(SELECT, "end_withdrawn")
    outcome = entry(page, "outcome").locator("select")
    assert outcome.input_value() == "withdrawn"
    page.screenshot(path=str(SHOTS / "properties-panel-end-event.png"))
    assert page.problems == []


SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
SPIFFARENA = sorted((ROOT / "tests" / "conformance" / "diagrams" / "spiffworkflow").glob("*.bpmn"))
ROUND_TRIP = """async (xml) => {
  const m = window.caseflowModeler;
  await m.importXML(xml);
  return (await m.saveXML({ format: true })).xml;
}"""


def _spiff_tags(xml: str) -> list[str]:
    from lxml import etree

    root = etree.fromstring(xml.encode())
    return sorted(
        f"{etree.QName(n).localname}={(n.text or '').strip()}"
        f"{sorted(n.attrib.items()) if n.attrib else ''}"
        for n in root.iter()
        if isinstance(n.tag, str) and etree.QName(n).namespace == SPIFF_NS
    )


@pytest.mark.e2e
def test_lint_simulation_and_what_spiffarena_writes_survives(page, runtime) -> None:
    runtime.deploy(STORE_FILES, actor="olga")
    sign_in(page, "/models/store_appointment/edit")

    # bpmnlint runs with our rules: a lane that is no role is flagged on the canvas.
    assert page.locator(".bjsl-button").count() == 1
    page.evaluate(
        "(id) => { const m = window.caseflowModeler; m.get('modeling')"
        ".updateLabel(m.get('elementRegistry').get(id), '銷售部'); }",
        "lane_service_desk",
    )
    flagged = page.locator('.djs-overlays[data-container-id="lane_service_desk"] .bjsl-icon-error')
    flagged.wait_for(timeout=10_000)
    assert (
        "泳道不是已知的角色"
        in page.locator(
            '.djs-overlays[data-container-id="lane_service_desk"] .bjsl-issues'
        ).inner_text()
    )
    # ... and the server's check says the same, on the lane's name.
    page.wait_for_selector('#modeler[data-checked="problems"]', timeout=10_000)
    page.evaluate(SELECT, "lane_service_desk")
    assert (
        "is not a known role"
        in entry(page, "name").locator(".bio-properties-panel-error").inner_text()
    )

    # Token simulation: the toolbar button switches the mode on and off.
    page.click("#btn-simulate")
    page.wait_for_selector('#modeler[data-simulating="true"]')
    assert page.get_attribute("#btn-simulate", "aria-pressed") == "true"
    page.click("#btn-simulate")
    page.wait_for_selector('#modeler[data-simulating="false"]')

    # Every spiffworkflow extension in SpiffArena's own diagrams survives an import and a save,
    # multi-instance collections (a variable's name, not a reference) included.
    for path in SPIFFARENA:
        xml = path.read_text(encoding="utf-8")
        saved = page.evaluate(ROUND_TRIP, xml)
        assert _spiff_tags(saved) == _spiff_tags(xml), path.name
        if "loopDataInputRef" in xml:
            assert "<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>" in saved
    assert page.problems == []


EVERY_ELEMENT = """async () => {
  const m = window.caseflowModeler;
  const shown = [];
  for (const element of [m.get('canvas').getRootElement(), ...m.get('elementRegistry').getAll()]) {
    if (element.type === 'label') { continue; }
    m.get('selection').select(element.parent ? element : []);
    await new Promise((resolve) => requestAnimationFrame(resolve));
    shown.push(document.querySelectorAll('#properties .bio-properties-panel-group').length);
  }
  return { shown, xml: (await m.saveXML({ format: true })).xml };
}"""


@pytest.mark.e2e
def test_every_procedure_opens_in_the_panel_and_saves_unchanged(page, runtime) -> None:
    runtime.deploy([ROOT / "processes", ROOT / "forms"], actor="olga")
    keys = sorted(p.key for p in list_processes(runtime.db))
    assert "store_appointment" in keys and len(keys) > 5
    sign_in(page, f"/models/{keys[0]}/edit")
    for key in keys:
        page.goto(f"{page.base}/models/{key}/edit")
        page.wait_for_selector("#modeler[data-ready]")
        result = page.evaluate(EVERY_ELEMENT)
        assert all(groups > 0 for groups in result["shown"]), key
        original = version_source(runtime.db, key, 1)["xml"]
        assert _spiff_tags(result["xml"]) == _spiff_tags(original), key
    assert page.problems == []


@pytest.mark.e2e
def test_process_properties_timers_and_the_parameter_rows_write_what_the_engine_reads(
    page,
    runtime,
) -> None:
    runtime.deploy(STORE_FILES, actor="olga")
    sign_in(page, "/models/store_appointment/edit")
    pool = page.evaluate(
        "() => window.caseflowModeler.get('elementRegistry')"
        ".filter((e) => e.type === 'bpmn:Participant')[0].id"
    )
    page.evaluate(SELECT_PROCESS)

    prefix = entry(page, "casePrefix").locator("input")
    assert prefix.input_value() == "SA"
    prefix.fill("sx")
    page.wait_for_function(f"() => ({PROPERTY})(['{pool}', 'casePrefix']) === 'SX'")
    page.locator('#properties [name="startRoles:store_ops"]').check()
    page.wait_for_function(f"() => ({PROPERTY})(['{pool}', 'startRoles']) === 'store_ops'")

    # A new parameter: added, renamed, made a text, then removed again.
    page.click("#properties .caseflow-add")
    page.wait_for_function(f"() => ({PROPERTY})(['{pool}', 'default:parameter_19']) === '0'")
    name = page.locator('#properties [name="name:parameter_19"]')
    name.fill("visit_fee")  # written when the field is left (renaming re-keys the row)
    page.wait_for_function(f"() => ({PROPERTY})(['{pool}', 'default:visit_fee']) === '0'")
    page.locator('#properties [name="type:visit_fee"]').select_option("text")
    page.wait_for_function(f"() => ({PROPERTY})(['{pool}', 'default:visit_fee']) === '\"0\"'")
    page.locator('#properties tr[data-parameter="visit_fee"] .caseflow-remove').click()
    page.wait_for_function(f"() => ({PROPERTY})(['{pool}', 'default:visit_fee']) === null")

    # A timer written as words: the server's message shows on the timer's field.
    page.evaluate(SELECT, "reminder_due")
    when = entry(page, "timerValue").locator("input")
    assert when.input_value() == "hours_before(appointment_at, reminder_hours)"
    when.fill('"3 days"')
    message = entry(page, "timerValue").locator(".bio-properties-panel-error")
    message.wait_for(timeout=10_000)
    assert "is not a valid ISO 8601 date" in message.inner_text()
    assert page.is_disabled("#btn-deploy")
    when.fill('"P3D"')  # a duration, in a date timer
    page.wait_for_selector(
        "#properties [data-entry-id=timerValue] .bio-properties-panel-error:has-text(\"'P3D'\")",
        timeout=10_000,
    )
    entry(page, "timerType").locator("select").select_option("timeDuration")
    page.wait_for_selector('#modeler[data-checked="ok"]', timeout=10_000)
    page.click("#btn-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    assert page.get_attribute("#modeler", "data-deployed") == "v2", page.inner_text("#problems")
    case = runtime.start_case("store_appointment", BOOKING, actor="portal", prevalidated=True)
    assert case.number.startswith("SX-")
    assert page.problems == []
