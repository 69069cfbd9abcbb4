"""What the modeler's properties panel gets from the server: the choices it offers (forms,
roles, outcomes, summaries, processes, calendar helpers) and its texts in the page's language,
and problems from the check that name the field they belong to."""

from __future__ import annotations

import json
import re

from engine.definitions.sources import SourceFile
from engine.runtime.versions import blank_diagram
from tests.conftest import fixture_files
from tests.webui.test_models import app, olga, post_json  # noqa: F401 - the fixtures


def _config(page: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="modeler-config">(.*?)</script>', page, re.S
    )
    return json.loads(found.group(1))


def test_the_panel_gets_its_choices_and_texts_from_the_server(olga, runtime):  # noqa: F811
    runtime.deploy(fixture_files("review_form.json"))
    v1 = blank_diagram("store_visit", "門店到訪")
    runtime.deploy([SourceFile("store_visit.bpmn", v1.encode())], actor="olga")
    page = olga.get("/models/store_visit/edit")
    assert page.status_code == 200
    assert "vendor/caseflow/modeler.bundle.js" in page.text
    config = _config(page.text)
    assert "review_form.json" in config["forms"]
    assert "service_desk" in config["roles"]
    assert "served" in config["outcomes"] and "path_ended" in config["outcomes"]
    assert config["summaries"] == ["followup", "escalation", "placement", "reply"]
    assert {"key": "store_visit", "name": "門店到訪"} in config["processes"]
    assert "working_days_from_now" in config["timerHelpers"]
    assert config["panelStrings"]["Process parameters"] == "流程參數"
    assert config["panelStrings"]["Condition (Python expression)"] == "條件（Python 運算式）"
    olga.set_cookie("lang", "en")
    english = _config(olga.get("/models/store_visit/edit").text)
    assert english["panelStrings"]["Process parameters"] == "Process parameters"


def test_the_check_names_the_field_of_each_problem(olga, runtime):  # noqa: F811
    xml = re.sub(
        r"(<bpmn:process id=\"store_visit\"[^>]*>)",
        r"\1<bpmn:extensionElements><spiffworkflow:properties>"
        r'<spiffworkflow:property name="default:reminder_hours" value="24h"/>'
        r"</spiffworkflow:properties></bpmn:extensionElements>",
        blank_diagram("store_visit", "門店到訪"),
    )
    answer = post_json(olga, "/models/validate", {"filename": "store_visit.bpmn", "xml": xml})
    assert answer.status_code == 200 and answer.json["ok"] is False
    assert [(p["element_id"], p["field"]) for p in answer.json["problems"]] == [
        ("store_visit", "default:reminder_hours")
    ]


def test_the_process_page_shows_the_parameter_table(olga, runtime):  # noqa: F811
    xml = re.sub(
        r"(<bpmn:process id=\"store_visit\"[^>]*>)",
        r"\1<bpmn:extensionElements><spiffworkflow:properties>"
        r'<spiffworkflow:property name="default:reminder_hours" value="24"/>'
        r'<spiffworkflow:property name="parameter:reminder_hours"'
        r' value="{&quot;unit&quot;: &quot;小時&quot;, &quot;description&quot;:'
        r' &quot;預約前多久提醒&quot;}"/>'
        r'<spiffworkflow:property name="default:stores" value="[&quot;淮海店&quot;]"/>'
        r"</spiffworkflow:properties></bpmn:extensionElements>",
        blank_diagram("store_visit", "門店到訪"),
    )
    runtime.deploy([SourceFile("store_visit.bpmn", xml.encode())], actor="olga")
    page = olga.get("/models/store_visit/1").text
    assert "流程參數" in page
    row = page.split('data-parameter="reminder_hours"')[1].split("</tr>")[0]
    assert "<code>24</code>" in row and "小時" in row and "預約前多久提醒" in row
    assert "<code>[&#34;淮海店&#34;]</code>" in page.split('data-parameter="stores"')[1]
