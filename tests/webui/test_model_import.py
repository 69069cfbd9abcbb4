"""Importing a diagram on /models: an uploaded .bpmn file or pasted XML opens the modeler with
the diagram (laid out when it has no layout) and the problems deploy would find; hostile or
unusable input goes back to the import page with status 400; nothing is stored either way."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace

import pytest

from engine.definitions.sources import SourceFile
from engine.runtime.versions import blank_diagram, list_processes
from tests.conftest import FIXTURES, fixture_files
from tests.webui.conftest import csrf_token
from webui import models

REVIEW = (FIXTURES / "review_flow.bpmn").read_text()  # no diagram layout (BPMN DI)

# As Camunda Modeler saves it: its own namespaces and exporter, a form key, and a lane named
# after a team ("Sales") that is not one of the company's roles.
CAMUNDA = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_0x1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.20.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">
  <bpmn:collaboration id="Collaboration_1">
    <bpmn:participant id="Participant_1" name="維修申請" processRef="repair_request" />
  </bpmn:collaboration>
  <bpmn:process id="repair_request" name="維修申請" isExecutable="true" camunda:historyTimeToLive="180">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_sales" name="Sales">
        <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Task_check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>EndEvent_1</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1" name="收到申請">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Task_check" name="確認需求" camunda:formKey="camunda-forms:deployment:review_form.json">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1" name="完成">
      <bpmn:incoming>Flow_2</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_check" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_check" targetRef="EndEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collaboration_1">
      <bpmndi:BPMNShape id="Participant_1_di" bpmnElement="Participant_1" isHorizontal="true">
        <dc:Bounds x="130" y="80" width="600" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_sales_di" bpmnElement="Lane_sales" isHorizontal="true">
        <dc:Bounds x="160" y="80" width="570" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="212" y="162" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_check_di" bpmnElement="Task_check">
        <dc:Bounds x="330" y="140" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="EndEvent_1_di" bpmnElement="EndEvent_1">
        <dc:Bounds x="522" y="162" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="248" y="180" />
        <di:waypoint x="330" y="180" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2_di" bpmnElement="Flow_2">
        <di:waypoint x="430" y="180" />
        <di:waypoint x="522" y="180" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="lolz" name="&lol4;" isExecutable="true" />
</bpmn:definitions>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="leak" name="&secret;" isExecutable="true" />
</bpmn:definitions>
"""


def without_layout(xml: str) -> str:
    return re.sub(r"\s*<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", xml, flags=re.S)


@pytest.fixture
def app(app):
    if "models" not in app.blueprints:  # until webui/__init__.py registers it
        app.register_blueprint(models.bp)
    return app


@pytest.fixture
def olga(login):
    client = login("olga")
    client.set_cookie("lang", "en")
    return client


def post_import(client, *, xml: str | None = None, upload: tuple[bytes, str] | None = None):
    token = csrf_token(client.get("/models/import").text)
    data: dict = {"csrf_token": token, "xml": xml or ""}
    if upload is not None:
        data["file"] = (io.BytesIO(upload[0]), upload[1])
    return client.post("/models/import", data=data, content_type="multipart/form-data")


def script_json(html: str, element_id: str):
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S
    )
    assert match, f"no #{element_id} on the page"
    return json.loads(match.group(1))


def stored_processes(runtime) -> list[str]:
    return [p.key for p in list_processes(runtime.db)]


def test_the_index_links_to_the_import_page(olga):
    index = olga.get("/models")
    assert 'href="/models/import"' in index.text
    page = olga.get("/models/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text and 'name="file"' in page.text


def test_upload_opens_the_modeler_with_the_file_and_its_problems(olga, runtime):
    page = post_import(olga, upload=(CAMUNDA.encode(), "Repair request (final).bpmn"))
    assert page.status_code == 200, page.text
    assert script_json(page.text, "diagram-xml") == CAMUNDA  # a layout of its own: kept as is
    config = script_json(page.text, "modeler-config")
    assert config["imported"] is True
    assert config["filename"] == "repair_request.bpmn"  # the upload's name has spaces
    assert config["deployUrl"] == "/models/deploy"  # deployed with the modeler's own button
    lane = [p for p in config["problems"] if p["element_id"] == "Lane_sales"]
    assert lane and "'Sales' is not a known role" in lane[0]["message"]
    # Listed on the page as well, before any script runs.
    assert '<li data-element="Lane_sales"><code>Lane_sales</code>:' in page.text
    assert "Imported process" in page.text and "nothing is stored" in page.text
    assert stored_processes(runtime) == []


def test_an_upload_with_a_good_name_keeps_it(olga, runtime):
    for sent in ("repair.bpmn", "../../diagrams/repair.bpmn"):
        page = post_import(olga, upload=(CAMUNDA.encode(), sent))
        assert page.status_code == 200
        assert script_json(page.text, "modeler-config")["filename"] == "repair.bpmn"
    bpmn20 = post_import(olga, upload=(CAMUNDA.encode(), "repair.bpmn20.xml"))
    assert script_json(bpmn20.text, "modeler-config")["filename"] == "repair.bpmn"


def test_pasted_xml_without_a_layout_gets_one_and_is_checked(olga, runtime):
    page = post_import(olga, xml=REVIEW)
    assert page.status_code == 200, page.text
    xml = script_json(page.text, "diagram-xml")
    assert "BPMNShape" in xml and 'id="task_a"' in xml
    assert "The file had no diagram layout; one was drawn automatically" in page.text
    config = script_json(page.text, "modeler-config")
    assert config["filename"] == "review_flow.bpmn"
    # The form it names is not deployed yet: the same problem deploy would report.
    assert {p["element_id"] for p in config["problems"]} >= {"task_a"}
    assert stored_processes(runtime) == []

    runtime.deploy(fixture_files("review_form.json", "review_start.json"))
    clean = post_import(olga, xml=REVIEW)
    assert script_json(clean.text, "modeler-config")["problems"] == []
    assert "No problems found: this diagram can be deployed." in clean.text
    assert stored_processes(runtime) == []


def test_a_process_already_deployed_becomes_a_new_version(olga, runtime):
    runtime.deploy(
        [SourceFile("visits.bpmn", blank_diagram("store_visit", "門店到訪").encode())], actor="olga"
    )
    page = post_import(olga, xml=without_layout(blank_diagram("store_visit", "門店到訪 v2")))
    assert page.status_code == 200
    note = re.search(r'<p class="flash" id="import-note">(.*?)</p>', page.text, re.S)
    assert note and "store_visit is already deployed (newest version 1)" in note.group(1)
    assert "new version of that process" in note.group(1)
    # Under the file name it was deployed with, so a deploy replaces that file.
    assert script_json(page.text, "modeler-config")["filename"] == "visits.bpmn"
    assert [v.version for v in list_processes(runtime.db)[0].versions] == [1]


def test_the_import_page_and_the_note_are_in_chinese_by_default(login):
    olga = login("olga")
    page = olga.get("/models/import")
    assert "匯入 .bpmn 檔案" in page.text
    refused = post_import(olga, xml="   ")
    assert refused.status_code == 400 and "請選擇 .bpmn 檔案" in refused.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"xml": ""}, "Choose a .bpmn file or paste the diagram&#39;s XML."),
        ({"upload": (b"", "empty.bpmn")}, "Choose a .bpmn file or paste the diagram&#39;s XML."),
        ({"upload": (b"  \n ", "blank.bpmn")}, "Choose a .bpmn file or paste"),
        ({"xml": "this is not XML <at all"}, "not well-formed XML"),
        ({"upload": (b"\xff\xfe\x00<\x00a", "utf16.bpmn")}, "The file is not UTF-8 text."),
        (
            {"upload": (BOMB.encode(), "bomb.bpmn")},
            "DOCTYPE and ENTITY declarations are not allowed",
        ),
        ({"xml": EXTERNAL_ENTITY}, "DOCTYPE and ENTITY declarations are not allowed"),
        ({"xml": "<html><body>hello</body></html>"}, "not a BPMN 2.0 file"),
        (
            {
                "xml": '<definitions xmlns="http://example.com/not-bpmn"><process id="p"/></definitions>'
            },
            "not a BPMN 2.0 file",
        ),
    ],
)
def test_unusable_input_goes_back_with_400(olga, runtime, body, message):
    answer = post_import(olga, **body)
    assert answer.status_code == 400, answer.text[:500]
    assert 'role="alert"' in answer.text and message in answer.text
    assert 'id="modeler"' not in answer.text and "/etc/passwd" not in answer.text.replace(
        "file:///etc/passwd", ""
    )
    assert stored_processes(runtime) == []


def test_a_file_over_the_size_limit_goes_back_with_400(olga, runtime, monkeypatch):
    # The engine's limit (settings.toml, [engine] max_definition_bytes), made small here so the
    # test client's body stays in memory.
    limit = 20_000
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, max_definition_bytes=limit))
    padding = "<!-- " + "x" * limit + " -->"
    too_big = CAMUNDA.replace("</bpmn:definitions>", padding + "</bpmn:definitions>")
    answer = post_import(olga, upload=(too_big.encode(), "big.bpmn"))
    assert answer.status_code == 400
    assert f"larger than the limit of {limit:,} bytes" in answer.text
    assert "x" * 1000 not in answer.text  # the file is not echoed back
    assert stored_processes(runtime) == []


def test_the_diagram_reaches_the_page_escaped(olga, runtime):
    hostile = CAMUNDA.replace(
        'name="確認需求"', 'name="&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"'
    )
    hostile = hostile.replace(
        "</bpmn:definitions>", "<!-- </script><script>alert(2)</script> -->\n</bpmn:definitions>"
    )
    page = post_import(olga, xml=hostile)
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert script_json(page.text, "diagram-xml") == hostile

    refused = post_import(olga, xml="<x></textarea><script>alert(3)</script>")
    assert refused.status_code == 400
    assert "<script>alert(3)" not in refused.text
    assert "&lt;/textarea&gt;&lt;script&gt;alert(3)" in refused.text  # kept in the box, escaped


def test_only_process_owners_import(app, login, runtime):
    anonymous = app.test_client()
    response = anonymous.get("/models/import")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for name in ("alice", "sue"):
        client = login(name)
        assert client.get("/models/import").status_code == 403
        token = csrf_token(client.get("/tasks").text)
        refused = client.post(
            "/models/import",
            data={"csrf_token": token, "xml": CAMUNDA},
            content_type="multipart/form-data",
        )
        assert refused.status_code == 403
    assert stored_processes(runtime) == []


def test_import_needs_the_csrf_token(olga, runtime):
    answer = olga.post("/models/import", data={"xml": CAMUNDA})
    assert answer.status_code == 400
    assert stored_processes(runtime) == []
