"""The dry run from the modeler page: POST /models/<key>/dry-run with the draft and a scenario
answers the report as JSON; only process owners may run one; a bad scenario or a draft that
does not validate is answered 422 with its messages, and nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.casework.resources import add_resource, add_service_item, add_shift, add_store
from engine.core.messages import Message
from engine.store.tables import Case, Event, Outbox, ProcessVersion
from tests.webui.conftest import csrf_token
from webui import models
from webui.messages import translate

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


# ----- in the page's language ---------------------------------------------------------------------


def in_language(client, lang):
    client.set_cookie("lang", lang)
    return client


@pytest.mark.parametrize(
    ("lang", "start", "element"),
    [
        (
            "zh_Hant",
            "「tomorrow-ish」不是時間：請以 ISO 8601 填寫，例如 2026-11-23T09:30（公司時間）或"
            " 2026-11-23T01:30Z（UTC）",
            "圖中沒有使用者任務 nope（它的使用者任務：attend、fix_request、",
        ),
        (
            "en",
            "'tomorrow-ish' is not a time: write ISO 8601, e.g. 2026-11-23T09:30 (company time)"
            " or 2026-11-23T01:30Z (UTC)",
            "the diagram has no user task nope (its user tasks: attend, fix_request, ",
        ),
    ],
)
def test_a_scenarios_problems_are_said_in_the_pages_language(app, login, lang, start, element):
    olga = in_language(login("olga"), lang)
    bad = {"start": "tomorrow-ish", "steps": [{"do": "complete", "element": "nope"}]}
    answer = post(olga, {"filename": "store_appointment.bpmn", "xml": XML, "scenario": bad})
    assert answer.status_code == 422
    body = answer.json
    assert body["errors"]["start"] == [start]
    (unknown,) = body["errors"]["steps[0].element"]
    assert unknown.startswith(element)
    # The codes and params beside the text, for clients that say them in their own words.
    assert body["codes"]["start"] == [
        {"code": "scenario_not_a_time", "params": {"value": "tomorrow-ish"}}
    ]
    assert "satisfaction" in body["codes"]["steps[0].element"][0]["params"]["known"]
    assert body["reason"] == "scenario_problems" and body["params"] == {"num": 2}


@pytest.mark.parametrize(
    ("lang", "message", "action"),
    [
        ("zh_Hant", "時鐘不能倒退（現在已是 2026-11-23 09:30）。", "時鐘調到 2026-11-20 09:00"),
        (
            "en",
            "The clock cannot go back (it is 2026-11-23 09:30 already).",
            "move the clock to 2026-11-20 09:00",
        ),
    ],
)
def test_a_step_that_cannot_be_done_is_said_in_the_pages_language(
    app, login, lang, message, action
):
    olga = in_language(login("olga"), lang)
    scenario = {**SCENARIO, "steps": [{"do": "clock", "to": "2026-11-20T09:00"}]}
    answer = post(olga, {"filename": "store_appointment.bpmn", "xml": XML, "scenario": scenario})
    assert answer.status_code == 200, answer.text
    (error,) = answer.json["report"]["errors"]
    assert (error["message"], error["action"]) == (message, action)
    assert error["code"] == "dry_run_clock_back"
    assert error["params"] == {"at": "2026-11-23T01:30:00+00:00"}
    assert error["action_code"] == "dry_run_step_clock_to"


def test_refused_answers_are_said_with_the_forms_messages(app, login):
    scenario = {
        **SCENARIO,
        "steps": [{"do": "complete", "element": "attend", "answers": {"attendance": "也許"}}],
    }
    body = {"filename": "store_appointment.bpmn", "xml": XML, "scenario": scenario}
    chinese = post(login("olga"), body).json["report"]["errors"][0]["message"]
    assert chinese.startswith("attend 的回答不被接受：attendance：必須是以下之一")
    english = post(in_language(login("olga"), "en"), body).json["report"]["errors"][0]
    assert english["message"].startswith(
        "The answers to attend are refused: attendance: must be one of:"
    )
    assert english["params"]["errors"]["attendance"][0]["code"] == "enum"


# Each code of the dry run with parameters as the engine gives them.
SAMPLES = {
    "dry_run_step_complete": {"element": "attend"},
    "dry_run_step_message": {"name": "cancel_request"},
    "dry_run_step_clock_by": {"by": "P2D"},
    "dry_run_step_clock_to": {"to": datetime(2026, 11, 24, 2, 0, tzinfo=UTC)},
    "dry_run_step_run_to_end": {},
    "dry_run_step_run_to_end_timers_first": {},
    "dry_run_stopped_steps": {"num": 200},
    "dry_run_stopped_seconds": {"num": 20},
    "dry_run_timer_too_far": {"at": datetime(2027, 12, 1, 2, 0, tzinfo=UTC), "days": 400},
    "dry_run_clock_capped": {"days": 400},
    "dry_run_waits_for_messages": {"names": ["change_request", "cancel_request"]},
    "dry_run_waits_for_nothing": {},
    "dry_run_timer_does_not_fire": {"element": "reminder_due"},
    "dry_run_step_crashed": {"error": "RuntimeError: disk on fire"},
    "dry_run_case_not_running": {"status": "completed"},
    "dry_run_no_open_task": {"element": "satisfaction", "open": []},
    "dry_run_clock_back": {"at": datetime(2026, 11, 23, 1, 30, tzinfo=UTC)},
    "dry_run_answers_refused": {"element": "attend", "errors": {"": ["x"]}},
    "dry_run_assignee_refused": {"user": "ann", "error": "?"},
    "dry_run_timers_failed": {"error": "?"},
    "dry_run_no_such_process": {"process": "p", "known": []},
    "dry_run_start_refused": {"error": "?"},
    "dry_run_cannot_start": {"error": "?"},
    "scenario_problems": {"num": 3},
    "scenario_too_long": {"max": 200_000},
    "scenario_too_deep": {},
    "scenario_not_json": {"error": "Expecting value"},
    "scenario_not_an_object": {},
    "scenario_unknown_key": {},
    "scenario_data_not_an_object": {},
    "scenario_steps_not_a_list": {},
    "scenario_too_many_steps": {"max": 200, "num": 201},
    "scenario_time_missing": {},
    "scenario_not_a_time": {"value": "soon"},
    "scenario_time_out_of_range": {"value": "9999-01-01"},
    "scenario_step_not_an_object": {},
    "scenario_unknown_action": {"value": "fly", "actions": ["complete", "clock"]},
    "scenario_step_unknown_key": {"action": "clock", "allowed": []},
    "scenario_task_unnamed": {},
    "scenario_no_such_task": {"element": "x", "known": ["attend"]},
    "scenario_answers_not_an_object": {},
    "scenario_message_unnamed": {},
    "scenario_no_such_message": {"name": "x", "known": []},
    "scenario_payload_not_an_object": {},
    "scenario_clock_by_or_to": {},
    "scenario_not_a_duration": {"value": "P1M"},
    "scenario_clock_too_far": {"days": 400},
    "scenario_timers_first_not_boolean": {},
}


def test_every_code_of_the_dry_run_is_said_in_chinese_and_in_english(app):
    import re

    engine_files = [
        ROOT / "engine" / "casework" / n for n in ("dryrun.py", "dryrun_steps.py", "scenario.py")
    ]
    raised = {
        code
        for path in engine_files
        for code in re.findall(
            r'(?:Message|refused)\(\s*"((?:dry_run|scenario)_[a-z_]+)"', path.read_text("utf-8")
        )
    }
    assert raised == set(SAMPLES)
    for code, params in SAMPLES.items():
        english = Message(code, "ENGLISH FALLBACK", **params)
        zh, en = translate(english, "zh_Hant"), translate(english, "en")
        assert "ENGLISH FALLBACK" not in (zh + en), code
        assert re.search(r"[\u4e00-\u9fff]", zh) and zh != en, (code, zh)
