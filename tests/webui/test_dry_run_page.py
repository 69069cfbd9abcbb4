"""The dry run from the modeler page: POST /models/<key>/dry-run with the draft and a scenario
answers the report as JSON; only process owners may run one; a bad scenario or a draft that
does not validate is answered 422 with its messages, and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.casework.resources import add_resource, add_service_item, add_shift, add_store
from engine.store.tables import Case, Event, Outbox, ProcessVersion
from tests.webui.conftest import csrf_token
from webui import models

ROOT = Path(__file__).resolve().parents[2]
BPMN = ROOT / "processes" / "store_appointment.bpmn"
XML = BPMN.read_text(encoding="utf-8")
URL = "/models/store_appointment/dry-run"
CUSTOMER = {
    "customer_name": "王美玲",
    "phone": "13800138000",
    "service_item": "facial",
    "appointment_at": "2026-11-25T10:00",
}
SCENARIO = {"start": "2026-11-23T09:30", "data": CUSTOMER, "steps": [{"do": "clock", "by": "P2D"}]}


@pytest.fixture
def app(app, runtime, db):
    if "models" not in app.blueprints:  # until webui/__init__.py registers it
        app.register_blueprint(models.bp)
    with db.write() as session:
        add_store(session, "淮海店", "上海市黃浦區淮海中路300號")
        add_service_item(session, "facial", "面部護理", 60, "facial")
        beautician = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        add_shift(session, beautician.id, "2026-11-25T10:00", "2026-11-25T11:00")
        session.commit()
    runtime.deploy([BPMN, *sorted((ROOT / "forms").glob("store_appointment.*.json"))])
    return app


def post(client, body):
    token = csrf_token(client.get("/login").text)
    return client.post(URL, json=body, headers={"X-CSRFToken": token})


def rows(db):
    with db.read() as session:
        return [
            session.scalar(select(func.count()).select_from(t))
            for t in (Case, ProcessVersion, Outbox, Event)
        ]


def test_a_process_owner_sees_what_would_happen(app, login, db):
    before = rows(db)
    answer = post(
        login("olga"), {"filename": "store_appointment.bpmn", "xml": XML, "scenario": SCENARIO}
    )
    assert answer.status_code == 200, answer.text
    report = answer.json["report"]
    sent = [(m["channel"], m["queued"]["local"]) for m in report["messages"]]
    assert sent == [("sms", "2026-11-23 09:30"), ("sms", "2026-11-24 10:00")]
    assert report["messages"][1]["text"].startswith("王美玲 您好：提醒您即將到來的預約")
    assert report["messages"][1]["sms"]["segments"] >= 1
    assert report["end"]["status"] == "running"
    assert rows(db) == before


def test_only_process_owners_may_run_a_draft(app, login, db):
    before = rows(db)
    body = {"filename": "store_appointment.bpmn", "xml": XML, "scenario": SCENARIO}
    for name in ("alice", "sue"):
        answer = post(login(name), body)
        assert answer.status_code == 403
        assert login(name).get(f"{URL}/start-data").status_code == 403
    anonymous = app.test_client().post(URL, json=body)
    assert anonymous.status_code in (302, 400, 401)
    assert rows(db) == before


def test_without_the_csrf_header_nothing_runs(login):
    olga = login("olga")
    answer = olga.post(
        URL, json={"filename": "store_appointment.bpmn", "xml": XML, "scenario": SCENARIO}
    )
    assert answer.status_code == 400


def test_a_bad_scenario_is_answered_422_with_its_problems(app, login, db):
    olga = login("olga")
    before = rows(db)
    bad = {"start": "tomorrow-ish", "steps": [{"do": "complete", "element": "nope"}] * 3}
    answer = post(olga, {"filename": "store_appointment.bpmn", "xml": XML, "scenario": bad})
    assert answer.status_code == 422
    assert set(answer.json["errors"]) >= {"start", "steps[0].element"}
    not_json = post(olga, {"filename": "store_appointment.bpmn", "xml": XML, "scenario": "{oops"})
    assert not_json.status_code == 422 and "JSON" in not_json.json["errors"][""][0]
    assert rows(db) == before


def test_a_draft_that_does_not_validate_is_answered_with_the_deploy_problems(app, login, db):
    before = rows(db)
    broken = XML.replace(
        "<bpmn:timeDate>hours_before(appointment_at, reminder_hours)</bpmn:timeDate>",
        "<bpmn:timeDate>__import__('os').getcwd()</bpmn:timeDate>",
    )
    answer = post(
        login("olga"), {"filename": "store_appointment.bpmn", "xml": broken, "scenario": SCENARIO}
    )
    assert answer.status_code == 422
    assert any(p["element_id"] == "reminder_due" for p in answer.json["problems"])
    bad_name = post(login("olga"), {"filename": "../x", "xml": XML, "scenario": SCENARIO})
    assert bad_name.status_code == 400
    assert rows(db) == before


def test_the_start_data_is_prefilled_with_the_simplest_valid_answers(app, login):
    olga = login("olga")
    answer = olga.get(f"{URL}/start-data?start=2026-11-23T09:30")
    assert answer.status_code == 200
    assert answer.json["data"]["appointment_at"] == "2026-11-25T02:00:00+00:00"
    assert olga.get(f"{URL}/start-data?start=soon").status_code == 422


def test_the_modeler_page_has_the_panel(app, login):
    page = login("olga").get("/models/store_appointment/edit")
    assert page.status_code == 200
    assert 'id="dry-run"' in page.text and "dry-run.js" in page.text
    assert 'id="dry-run-config"' in page.text
