"""Process owners' pages: processes and versions, check and deploy from the modeler, version
comparison, the form editor with its preview, moving running cases to another version."""

from __future__ import annotations

import json
import re

import pytest

from engine.definitions.sources import SourceFile
from engine.runtime.versions import blank_diagram
from tests.conftest import FIXTURES, fixture_files
from tests.webui.conftest import csrf_token
from webui import models

REVIEW = (FIXTURES / "review_flow.bpmn").read_text()
USER_TASK = '<bpmn:userTask id="first_task" name="處理">'


@pytest.fixture
def app(app):
    # Until webui/__init__.py registers the blueprint itself.
    if "models" not in app.blueprints:
        app.register_blueprint(models.bp)
    return app


@pytest.fixture
def olga(login):
    return login("olga")


def post_json(client, url, body):
    token = csrf_token(client.get("/models").text)
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def with_check_step(xml: str) -> str:
    """The blank diagram with a second user task "check" between start and first_task."""
    xml = xml.replace(
        '<bpmn:sequenceFlow id="flow_start" sourceRef="start" targetRef="first_task" />',
        '<bpmn:sequenceFlow id="flow_start" sourceRef="start" targetRef="check" />'
        '<bpmn:sequenceFlow id="flow_check" sourceRef="check" targetRef="first_task" />',
    )
    xml = xml.replace(
        USER_TASK,
        '<bpmn:userTask id="check" name="核對"><bpmn:incoming>flow_start</bpmn:incoming>'
        "<bpmn:outgoing>flow_check</bpmn:outgoing></bpmn:userTask>" + USER_TASK,
    )
    xml = xml.replace(
        "<bpmn:incoming>flow_start</bpmn:incoming>\n      <bpmn:outgoing>flow_end",
        "<bpmn:incoming>flow_check</bpmn:incoming>\n      <bpmn:outgoing>flow_end",
    )
    return xml.replace(
        "<bpmn:flowNodeRef>first_task</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>check</bpmn:flowNodeRef><bpmn:flowNodeRef>first_task</bpmn:flowNodeRef>",
    )


def test_only_process_owners_get_in(app, login, runtime):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    anonymous = app.test_client()
    for url in ("/models", "/models/review_flow/1", "/models/forms", "/models/new"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    alice = login("alice")
    for url in ("/models", "/models/review_flow/1", "/models/review_flow/edit", "/models/forms"):
        assert alice.get(url).status_code == 403
    token = csrf_token(alice.get("/tasks").text)
    refused = alice.post(
        "/models/validate",
        json={"filename": "x.bpmn", "xml": REVIEW},
        headers={"X-CSRFToken": token},
    )
    assert refused.status_code == 403
    assert login("sue").get("/models").status_code == 403
    olga = login("olga")
    page = olga.get("/models")
    assert page.status_code == 200 and "review_flow" in page.text


def test_validate_without_csrf_header_is_refused(olga):
    response = olga.post("/models/validate", json={"filename": "x.bpmn", "xml": REVIEW})
    assert response.status_code == 400


def test_validate_marks_each_problem_on_its_element(olga, runtime):
    runtime.deploy(fixture_files("review_form.json", "review_start.json"))
    good = post_json(olga, "/models/validate", {"filename": "review_flow.bpmn", "xml": REVIEW})
    assert good.status_code == 200 and good.json == {"ok": True, "problems": []}

    broken = REVIEW.replace('name="senior_service"', 'name="夜班"').replace('"P3D"', '"P3X"')
    answer = post_json(olga, "/models/validate", {"filename": "review_flow.bpmn", "xml": broken})
    assert answer.status_code == 200 and answer.json["ok"] is False
    by_element = {p["element_id"]: p["message"] for p in answer.json["problems"]}
    assert "夜班" in by_element["lane_b"] and "not a known role" in by_element["lane_b"]
    assert "P3X" in by_element["wait_3_days"]

    unknown_form = REVIEW.replace("review_form.json", "nowhere.json")
    answer = post_json(
        olga, "/models/validate", {"filename": "review_flow.bpmn", "xml": unknown_form}
    )
    assert answer.json["problems"][0]["element_id"] == "task_a"

    bad_name = post_json(olga, "/models/validate", {"filename": "../x.txt", "xml": REVIEW})
    assert bad_name.status_code == 400 and bad_name.json["ok"] is False
    assert runtime.db and not _versions(olga)  # nothing was deployed by checking


def _versions(client) -> list[str]:
    return re.findall(r'href="/models/[a-z_]+/(\d+)"', client.get("/models").text)


def test_deploy_makes_a_new_version_and_running_cases_stay(olga, runtime):
    v1 = blank_diagram("store_visit", "門店到訪")
    runtime.deploy([SourceFile("store_visit.bpmn", v1.encode())], actor="olga")
    early = runtime.start_case("store_visit").number
    assert [t.element_id for t in runtime.get_case(early).open_tasks] == ["first_task"]

    edit = olga.get("/models/store_visit/edit")
    assert edit.status_code == 200
    xml = json.loads(
        re.search(
            r'<script type="application/json" id="diagram-xml">(.*?)</script>', edit.text, re.S
        ).group(1)
    )
    assert 'id="store_visit"' in xml and 'id="first_task"' in xml and "BPMNShape" in xml
    config = json.loads(
        re.search(
            r'<script type="application/json" id="modeler-config">(.*?)</script>', edit.text, re.S
        ).group(1)
    )
    assert config["filename"] == "store_visit.bpmn" and "service_desk" in config["roles"]

    answer = post_json(
        olga, "/models/deploy", {"filename": "store_visit.bpmn", "xml": with_check_step(v1)}
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["key"] == "store_visit" and answer.json["version"] == 2
    assert answer.json["changed"] is True and answer.json["url"] == "/models/store_visit/2"

    again = post_json(
        olga, "/models/deploy", {"filename": "store_visit.bpmn", "xml": with_check_step(v1)}
    )
    assert again.json["version"] == 2 and again.json["changed"] is False

    later = runtime.start_case("store_visit")
    assert later.version == 2 and [t.element_id for t in later.open_tasks] == ["check"]
    before = runtime.get_case(early)
    assert before.version == 1 and [t.element_id for t in before.open_tasks] == ["first_task"]
    done = runtime.complete_task(before.open_tasks[0].id, {"confirmed": True}, "alice")
    assert done.status == "completed"

    page = olga.get("/models")
    assert (
        'href="/models/store_visit/2"' in page.text and 'href="/models/store_visit/1"' in page.text
    )
    running = re.findall(r'data-running="(\d+)"', page.text)
    assert running == ["1", "0"]  # v2 has the later case, v1's early case is done


def test_deploy_refuses_a_broken_diagram_and_changes_nothing(olga, runtime):
    v1 = blank_diagram("store_visit", "門店到訪")
    runtime.deploy([SourceFile("store_visit.bpmn", v1.encode())])
    broken = v1.replace('name="service_desk"', 'name="nobody"')
    answer = post_json(olga, "/models/deploy", {"filename": "store_visit.bpmn", "xml": broken})
    assert answer.status_code == 422 and answer.json["ok"] is False
    assert {p["element_id"] for p in answer.json["problems"]} >= {"lane_1"}
    assert runtime.start_case("store_visit").version == 1


def test_new_process_starts_from_a_blank_diagram(olga, runtime):
    assert olga.get("/models/new").status_code == 200
    page = olga.get("/models/new?key=store_visit&name=門店到訪")
    assert page.status_code == 200
    xml = json.loads(re.search(r'id="diagram-xml">(.*?)</script>', page.text, re.S).group(1))
    assert 'id="store_visit"' in xml and 'name="service_desk"' in xml and "BPMNShape" in xml
    assert post_json(olga, "/models/validate", {"filename": "store_visit.bpmn", "xml": xml}).json[
        "ok"
    ]
    assert olga.get("/models/new?key=Bad-Key").status_code == 422
    runtime.deploy([SourceFile("store_visit.bpmn", xml.encode())])
    assert olga.get("/models/new?key=store_visit").status_code == 422


def test_version_page_and_comparison(olga, runtime):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    v2 = (
        REVIEW.replace('name="專人處理"', 'name="專人跟進"')
        .replace('"P3D"', '"P5D"')
        .replace(
            '<bpmn:endEvent id="end_rejected" name="不受理">',
            '<bpmn:endEvent id="end_no" name="不受理">',
        )
        .replace('targetRef="end_rejected"', 'targetRef="end_no"')
        .replace(
            "<bpmn:flowNodeRef>end_rejected</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>end_no</bpmn:flowNodeRef>",
        )
    )
    runtime.deploy([SourceFile("review_flow.bpmn", v2.encode())])

    page = olga.get("/models/review_flow/2")
    assert page.status_code == 200 and 'id="diagram-xml"' in page.text and "P5D" in page.text
    assert olga.get("/models/review_flow/9").status_code == 404

    diff = olga.get("/models/review_flow/compare?a=1&b=2")
    assert diff.status_code == 200
    added = diff.text.split('id="added"')[1].split('id="removed"')[0]
    removed = diff.text.split('id="removed"')[1].split("</aside>")[0]
    changed = diff.text.split('id="changed"')[1]
    assert "end_no" in added and "end_rejected" in removed
    assert 'data-element="task_b"' in changed and "專人跟進" in changed
    assert 'data-element="wait_3_days"' in changed and "P5D" in changed
    assert 'data-element="f_no"' in changed  # its target changed
    assert 'data-element="task_a"' not in changed


def test_form_editor_preview_and_deploy(olga, runtime):
    runtime.deploy(fixture_files("review_form.json"))
    listing = olga.get("/models/forms")
    assert listing.status_code == 200 and "review_form.json" in listing.text
    page = olga.get("/models/forms/review_form.json")
    assert page.status_code == 200 and "是否受理" in page.text  # the preview is on the page
    token = csrf_token(page.text)

    schema = json.loads((FIXTURES / "review_form.json").read_text())
    schema["properties"]["visit_date"] = {"type": "string", "format": "date", "title": "到訪日期"}
    text = json.dumps(schema, ensure_ascii=False)
    fragment = olga.post(
        "/models/forms/preview",
        data={"csrf_token": token, "name": "review_form.json", "text": text},
        headers={"X-Preview": "fragment"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'name="visit_date"' in fragment.text and 'type="date"' in fragment.text
    assert 'name="approve"' in fragment.text and "到訪日期" in fragment.text

    broken = olga.post(
        "/models/forms/preview",
        data={"csrf_token": token, "name": "review_form.json", "text": '{"type": "object",'},
        headers={"X-Preview": "fragment"},
    )
    assert 'id="schema-error"' in broken.text and "not valid JSON at line 1" in broken.text

    no_js = olga.post(
        "/models/forms/preview",
        data={"csrf_token": token, "name": "review_form.json", "text": text},
    )
    assert no_js.status_code == 200 and "<html" in no_js.text and 'name="visit_date"' in no_js.text

    refused = olga.post(
        "/models/forms/deploy",
        data={"csrf_token": token, "name": "review_form.json", "text": '{"type": "array"}'},
    )
    assert refused.status_code == 422 and "review_form.json" in refused.text
    deployed = olga.post(
        "/models/forms/deploy",
        data={"csrf_token": token, "name": "review_form.json", "text": text},
    )
    assert deployed.status_code == 302
    from engine.runtime.versions import deployed_forms

    form = deployed_forms(runtime.db)["review_form.json"]
    assert form.version == 2 and "visit_date" in form.schema["properties"]

    new = olga.post(
        "/models/forms/deploy",
        data={"csrf_token": token, "name": "store_visit.note.json", "text": text, "new": "1"},
    )
    assert new.status_code == 302 and "store_visit.note.json" in deployed_forms(runtime.db)
    taken = olga.post(
        "/models/forms/deploy",
        data={"csrf_token": token, "name": "review_form.json", "text": text, "new": "1"},
    )
    assert taken.status_code == 422


def test_move_running_cases_to_a_new_version(olga, runtime):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    at_a = runtime.start_case("review_flow").number
    at_b = runtime.start_case("review_flow")
    at_b = runtime.complete_task(at_b.open_tasks[0].id, {"approve": True}, "alice").number
    # Version 2 drops task_b's deadline: the case waiting on it cannot move.
    v2 = re.sub(r"<bpmn:boundaryEvent.*?</bpmn:boundaryEvent>", "", REVIEW, flags=re.S)
    v2 = v2.replace('name="受理審核"', 'name="受理與審核"')
    v2 = v2.replace(
        '<bpmn:sequenceFlow id="f_deadline" sourceRef="deadline" targetRef="mark_escalated" />', ""
    )
    v2 = v2.replace("<bpmn:incoming>f_deadline</bpmn:incoming>", "")
    v2 = v2.replace("<bpmn:flowNodeRef>deadline</bpmn:flowNodeRef>", "")
    runtime.deploy([SourceFile("review_flow.bpmn", v2.encode())])

    page = olga.get("/models/review_flow/2?from=1")
    assert page.status_code == 200
    assert f'data-case="{at_a}" data-ok="yes"' in page.text
    assert f'data-case="{at_b}" data-ok="no"' in page.text
    assert "deadline" in page.text.split(f'data-case="{at_b}"')[1].split("</tr>")[0]

    nothing = olga.post(
        "/models/review_flow/2/migrate", data={"csrf_token": csrf_token(page.text), "from": "1"}
    )
    assert nothing.status_code == 302 and runtime.get_case(at_a).version == 1
    moved = olga.post(
        "/models/review_flow/2/migrate",
        data={"csrf_token": csrf_token(page.text), "from": "1", "case": [at_a, at_b]},
    )
    assert moved.status_code == 302
    a = runtime.get_case(at_a)
    assert a.version == 2 and a.open_tasks[0].name == "受理與審核"
    assert any(e.kind == "case_migrated" and e.actor == "olga" for e in a.history)
    b = runtime.get_case(at_b)
    assert b.version == 1 and not any(e.kind == "case_migrated" for e in b.history)
    after = olga.get("/models/review_flow/2?from=1")
    assert at_a not in after.text and f'data-case="{at_b}" data-ok="no"' in after.text
