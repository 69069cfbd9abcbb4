"""The dry run: a draft of 門店預約 (store_appointment) run against scenarios in a throw-away
database, as a process owner tries a change before it reaches customers.

The company as in tests/processes/test_store_appointment.py: 淮海店 with one beautician
(facial) on shift Wednesday 25 November 10:00–11:00 and one room. The clock of the real
runtime stands at Monday 23 November 09:30; so does each scenario's start.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.casework import dryrun as dryrun_module
from engine.casework import dryrun_steps
from engine.casework.dryrun import dry_run, dry_run_diagram
from engine.casework.dryrun_draft import simplest_start_data
from engine.casework.dryrun_report import sms_length
from engine.casework.resources import (
    SlotBooking,
    add_resource,
    add_service_item,
    add_shift,
    add_store,
)
from engine.casework.scenario import MAX_STEPS, ScenarioError
from engine.core.errors import Conflict
from engine.definitions.simplest import simplest_data, simplest_match
from engine.definitions.sources import DefinitionError, SourceFile
from engine.runtime.versions import blank_diagram
from engine.store.tables import Case, Event, Form, Outbox, ProcessVersion, Task, Timer

ROOT = Path(__file__).resolve().parents[2]
BPMN = ROOT / "processes" / "store_appointment.bpmn"
FILENAME = "store_appointment.bpmn"
KEY = "store_appointment"
CUSTOMER = {
    "customer_name": "王美玲",
    "phone": "13800138000",
    "service_item": "facial",
    "appointment_at": "2026-11-25T10:00",  # Wednesday, company time
}
START = "2026-11-23T09:30"  # Monday, company time
REMINDER_24 = "王美玲 您好：提醒您即將到來的預約：2026-11-25 10:00，淮海店 1號房"


@pytest.fixture
def company(runtime, db):
    with db.write() as session:
        add_store(session, "淮海店", "上海市黃浦區淮海中路300號")
        add_service_item(session, "facial", "面部護理", 60, "facial", prep_notes="請勿化妝。")
        beautician = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "room", "1號房", "淮海店")
        add_shift(session, beautician.id, "2026-11-25T10:00", "2026-11-25T11:00")
        session.commit()
    runtime.deploy([BPMN, *sorted((ROOT / "forms").glob("store_appointment.*.json"))])
    return runtime


def draft(reminder_hours: int = 24) -> str:
    xml = BPMN.read_text(encoding="utf-8")
    old = '<spiffworkflow:property name="default:reminder_hours" value="24"/>'
    assert old in xml
    return xml.replace(old, old.replace('"24"', f'"{reminder_hours}"'))


def run(runtime, scenario, xml=None):
    return dry_run_diagram(runtime, FILENAME, xml or draft(), KEY, scenario).to_dict()


def reminders(report):
    return [m for m in report["messages"] if m["channel"] == "sms" and "提醒" in m["text"]]


def counts(db):
    tables = (Case, ProcessVersion, Form, Outbox, Event, Task, Timer, SlotBooking)
    with db.read() as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in tables
        }


# ----- what would happen ------------------------------------------------------------------------


def test_the_reminder_goes_24_hours_before_the_appointment_with_its_text(company):
    report = run(
        company,
        {"start": START, "data": CUSTOMER, "steps": [{"do": "clock", "to": "2026-11-25T09:00"}]},
    )
    assert report["errors"] == []
    (reminder,) = reminders(report)
    assert reminder["queued"] == {"at": "2026-11-24T02:00:00+00:00", "local": "2026-11-24 10:00"}
    assert reminder["recipient"] == "13800138000"
    assert reminder["text"].startswith(REMINDER_24)
    assert "面部護理" in reminder["text"] and "請勿化妝" in reminder["text"]
    assert reminder["sms"] == {
        "characters": len(reminder["text"].rstrip("\n")),
        "segments": 2,
        "encoding": "UCS-2",
    }
    # The confirmation went at once, the reminder at its time; the store still waits.
    assert report["messages"][0]["queued"]["local"] == "2026-11-23 09:30"
    assert "已確認" in report["messages"][0]["text"]
    path = [(p["element"], p["local"]) for p in report["path"]]
    assert ("book_requested", "2026-11-23 09:30") in path
    assert ("reminder_due", "2026-11-24 10:00") in path
    assert path.index(("send_confirmation", "2026-11-23 09:30")) < path.index(
        ("send_reminder", "2026-11-24 10:00")
    )
    attend = [t for t in report["tasks"] if t["element"] == "attend"]
    assert attend and attend[0]["role"] == "store_ops" and attend[0]["status"] == "open"
    end = report["end"]
    assert end["status"] == "running" and end["clock"]["local"] == "2026-11-25 09:00"
    assert [t["element"] for t in end["waiting"]["tasks"]] == ["attend"]
    assert {"change_request", "cancel_request"} <= set(end["waiting"]["messages"])


def test_the_same_draft_with_the_default_changed_to_12_reminds_12_hours_before(company):
    report = run(
        company,
        {"start": START, "data": CUSTOMER, "steps": [{"do": "clock", "by": "P2D"}]},
        xml=draft(reminder_hours=12),
    )
    (reminder,) = reminders(report)
    assert reminder["queued"]["local"] == "2026-11-24 22:00"
    assert reminder["text"].startswith(REMINDER_24)
    assert ("reminder_due", "2026-11-24 22:00") in [
        (p["element"], p["local"]) for p in report["path"]
    ]


def test_the_real_database_is_never_written(company, db):
    before = counts(db)
    report = run(company, {"start": START, "steps": [{"do": "run_to_end", "timers_first": True}]})
    assert report["end"]["status"] == "completed" and report["end"]["outcome"] == "served"
    assert len(reminders(report)) == 1
    assert counts(db) == before
    assert before["case"] == 0 and before["outbox"] == 0


def test_without_start_data_the_case_starts_with_the_simplest_valid_answers(company):
    expected = {
        "service_item": "facial",
        "appointment_at": "2026-11-25T02:00:00+00:00",  # the first free slot
        "customer_name": "x",
        "phone": "13000000000",
    }
    at = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert simplest_start_data(company, KEY, at) == expected
    assert simplest_start_data(company, KEY, "2026-11-23T09:30") == expected
    report = run(company, {"start": START})
    assert report["start_data"] == expected
    assert report["tasks"][0]["element"] == "attend"


def test_run_to_end_completes_tasks_with_the_simplest_answers(company):
    report = run(company, {"start": START, "data": CUSTOMER, "steps": [{"do": "run_to_end"}]})
    # Tasks first: the store records the visit at once, so no reminder is ever due.
    assert reminders(report) == []
    assert [(t["element"], t["status"]) for t in report["tasks"]] == [
        ("attend", "done"),
        ("satisfaction", "done"),
    ]
    assert report["tasks"][0]["answers"]["attendance"] == "已到店"
    assert report["end"]["outcome"] == "served" and report["end"]["waiting"] is None
    assert report["path"][-1]["element"] == "end_served"


def test_a_customer_cancels_by_message(company):
    report = run(
        company,
        {
            "start": START,
            "data": CUSTOMER,
            "steps": [
                {"do": "message", "name": "cancel_request", "payload": {"reason": "臨時有事"}}
            ],
        },
    )
    assert report["errors"] == []
    assert report["end"]["outcome"] == "cancelled_by_customer"
    assert "取消" in report["messages"][-1]["text"]


def test_answers_given_in_the_scenario_are_checked_by_the_form(company):
    report = run(
        company,
        {
            "start": START,
            "data": CUSTOMER,
            "steps": [{"do": "complete", "element": "attend", "answers": {"attendance": "也許"}}],
        },
    )
    (error,) = report["errors"]
    assert error["step"] == 0 and error["element"] == "attend"
    assert "attendance" in error["message"]
    assert report["end"]["status"] == "running"


# ----- hostile scenarios and drafts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "where", "words"),
    [
        (
            {"start": START, "steps": [{"do": "complete", "element": "nope"}]},
            "steps[0].element",
            "no user task 'nope'",
        ),
        ({"start": "next Tuesday"}, "start", "not a time"),
        ({"start": "2026-13-45T09:30"}, "start", "not a time"),
        ({"start": "9999-01-01T00:00"}, "start", "between the years"),
        (
            {"start": START, "steps": [{"do": "clock", "by": "P1M"}]},
            "steps[0].by",
            "not a duration",
        ),
        (
            {"start": START, "steps": [{"do": "clock", "by": "P999D"}]},
            "steps[0].by",
            "at most 400 days",
        ),
        ({"start": START, "steps": [{"do": "fly"}]}, "steps[0].do", "not a step"),
        (
            {"start": START, "steps": [{"do": "message", "name": "bribe"}]},
            "steps[0].name",
            "no message",
        ),
        (
            {"start": START, "steps": [{"do": "clock", "by": "PT1H"}] * (MAX_STEPS + 1)},
            "steps",
            f"at most {MAX_STEPS} steps",
        ),
        ({"start": START, "data": ["a"]}, "data", "JSON object"),
        ({"start": START, "data": {"phone": "abc"}}, "data.phone", "expected format"),
        ({"start": START, "evil": True}, "evil", "unknown key"),
        ("{not json", "", "not valid JSON"),
        ("[" * 150_000 + "]" * 150_000, "", "at most"),
        ("[" * 5_000 + "]" * 5_000, "", "nested too deeply"),
        (42, "", "JSON object"),
    ],
)
def test_a_hostile_scenario_gets_a_clear_message_and_runs_nothing(
    company, db, scenario, where, words
):
    before = counts(db)
    with pytest.raises(ScenarioError) as refused:
        run(company, scenario)
    assert where in refused.value.errors
    assert any(words in message for message in refused.value.errors[where]), refused.value.errors
    assert counts(db) == before


def test_a_step_that_cannot_be_done_is_reported_and_the_run_stops_there(company):
    report = run(
        company,
        {
            "start": START,
            "data": CUSTOMER,
            "steps": [
                {"do": "complete", "element": "satisfaction"},
                {"do": "run_to_end"},
            ],
        },
    )
    (error,) = report["errors"]
    assert error["step"] == 0 and error["action"] == "complete satisfaction"
    assert "no task is open at satisfaction" in error["message"] and "attend" in error["message"]
    assert report["end"]["status"] == "running" and report["tasks"][0]["status"] == "open"


def test_the_clock_does_not_go_back(company):
    report = run(
        company,
        {"start": START, "data": CUSTOMER, "steps": [{"do": "clock", "to": "2026-11-20T09:00"}]},
    )
    assert "cannot go back" in report["errors"][0]["message"]


def test_a_script_error_in_the_draft_is_reported_on_its_element(company):
    xml = draft().replace("reminded_at = now()", "reminded_at = no_such_name + 1")
    assert xml != draft()
    report = run(
        company, {"start": START, "data": CUSTOMER, "steps": [{"do": "clock", "by": "P3D"}]}, xml
    )
    (error,) = report["errors"]
    assert error["element"] == "send_reminder" and error["name"] == "發送預約提醒"
    assert "no_such_name" in error["message"]
    assert error["local"] == "2026-11-24 10:00"
    assert report["end"]["status"] == "error"
    assert ("send_reminder", "error") in [(p["element"], p["kind"]) for p in report["path"]]


def test_a_draft_that_does_not_validate_gives_the_deploy_problems(company, db):
    before = counts(db)
    broken = draft().replace(
        "<bpmn:timeDate>hours_before(appointment_at, reminder_hours)</bpmn:timeDate>",
        "<bpmn:timeDate>__import__('os').system('true')</bpmn:timeDate>",
    )
    with pytest.raises(DefinitionError) as refused:
        run(company, {"start": START, "data": CUSTOMER}, broken)
    assert any(p.element_id == "reminder_due" for p in refused.value.problems)
    assert counts(db) == before


def test_the_process_must_be_in_the_draft(company):
    with pytest.raises(ScenarioError) as refused:
        dry_run_diagram(company, FILENAME, draft(), "other_process", {"start": START})
    assert "process" in refused.value.errors


def test_a_loop_stops_after_the_step_limit_with_a_note(settings):
    loop = blank_diagram("loop_again", "循環").replace(
        '<bpmn:sequenceFlow id="flow_end" sourceRef="first_task" targetRef="end" />',
        '<bpmn:sequenceFlow id="flow_end" sourceRef="first_task" targetRef="gw" />'
        '<bpmn:sequenceFlow id="flow_back" sourceRef="gw" targetRef="first_task" />'
        '<bpmn:sequenceFlow id="flow_out" sourceRef="gw" targetRef="end">'
        "<bpmn:conditionExpression>False</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:exclusiveGateway id="gw" default="flow_back"><bpmn:incoming>flow_end</bpmn:incoming>'
        "<bpmn:outgoing>flow_back</bpmn:outgoing><bpmn:outgoing>flow_out</bpmn:outgoing>"
        "</bpmn:exclusiveGateway>",
    )
    loop = loop.replace(
        "<bpmn:incoming>flow_start</bpmn:incoming>",
        "<bpmn:incoming>flow_start</bpmn:incoming><bpmn:incoming>flow_back</bpmn:incoming>",
    ).replace(
        "<bpmn:incoming>flow_end</bpmn:incoming>\n    </bpmn:endEvent>",
        "<bpmn:incoming>flow_out</bpmn:incoming>\n    </bpmn:endEvent>",
    )
    report = dry_run(
        settings,
        [SourceFile("loop_again.bpmn", loop.encode())],
        "loop_again",
        {"start": START, "steps": [{"do": "run_to_end"}]},
    ).to_dict()
    assert report["actions"] == dryrun_steps.MAX_ACTIONS
    (note,) = report["notes"]
    assert "stopped after 200 engine steps" in note["message"]
    assert (note["code"], note["params"]) == ("dry_run_stopped_steps", {"num": 200})
    assert report["end"]["status"] == "running"


def test_dry_runs_at_once_are_bounded(company, monkeypatch):
    import threading

    monkeypatch.setattr(dryrun_module, "_running", threading.BoundedSemaphore(1))
    dryrun_module._running.acquire()
    with pytest.raises(Conflict):
        run(company, {"start": START})


# ----- the parts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, (160, 1, "GSM-7")),
        ("a" * 161, (161, 2, "GSM-7")),
        ("a" * 306, (306, 2, "GSM-7")),
        ("a" * 307, (307, 3, "GSM-7")),
        ("{" * 80, (80, 1, "GSM-7")),  # an extension character counts twice
        ("{" * 81, (81, 2, "GSM-7")),
        ("預" * 70 + "\n", (70, 1, "UCS-2")),
        ("預" * 71, (71, 2, "UCS-2")),
        ("預" * 134, (134, 2, "UCS-2")),
        ("預" * 135, (135, 3, "UCS-2")),
        ("ok 好", (4, 1, "UCS-2")),
    ],
)
def test_sms_length_and_segments(text, expected):
    found = sms_length(text)
    assert (found.characters, found.segments, found.encoding) == expected


def test_simplest_data_follows_the_form():
    schema = {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["甲", "乙"]},
            "count": {"type": "integer", "minimum": 3},
            "price": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
            "day": {"type": "string", "format": "date"},
            "at": {"type": "string", "format": "date-time"},
            "mobile": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
            "channel": {"type": "string", "default": "電話"},
            "agree": {"type": "boolean"},
            "rows": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}},
                    "required": ["n"],
                },
            },
            "why": {"type": "string"},
            "optional": {"type": "string"},
        },
        "required": ["kind", "count", "price", "day", "at", "mobile", "agree", "rows"],
        "if": {"properties": {"kind": {"const": "甲"}}},
        "then": {"required": ["why"]},
    }
    from zoneinfo import ZoneInfo

    now = datetime(2026, 11, 23, 17, 5, tzinfo=UTC)  # 01:05 on the 24th in Shanghai
    answer = simplest_data(schema, now, ZoneInfo("Asia/Shanghai"))
    assert answer == {
        "kind": "甲",
        "count": 3,
        "price": 0.5,
        "day": "2026-11-24",
        "at": "2026-11-24T01:05",
        "mobile": "13000000000",
        "agree": False,
        "rows": [{"n": 0}],
        "channel": "電話",
        "why": "x",
    }


def test_simplest_match_of_patterns():
    assert simplest_match("^[A-Z]{2}-\\d+$") == "AA-0"
    assert simplest_match("^(ab|c)+$", 5) == "ababab"
    assert simplest_match("^[^0-9]{3}$") == "aaa"
    assert simplest_match("(a)\\1") is None  # a back-reference is beyond it


def test_the_scenario_text_may_be_json(company):
    report = run(company, json.dumps({"start": START, "data": CUSTOMER}))
    assert report["end"]["status"] == "running"


def test_an_unexpected_failure_of_a_step_is_reported_not_raised(company, monkeypatch):
    from engine.runtime.tracing import TracingRuntime

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(TracingRuntime, "send_message", broken)
    report = run(
        company,
        {"start": START, "data": CUSTOMER, "steps": [{"do": "message", "name": "cancel_request"}]},
    )
    (error,) = report["errors"]
    assert error["step"] == 0 and "RuntimeError: disk on fire" in error["message"]
    assert (error["code"], error["params"]) == (
        "dry_run_step_crashed",
        {"error": "RuntimeError: disk on fire"},
    )
    assert report["end"]["status"] == "running"
