"""What a dry run says is coded: every note, failed step (and the step's action) and scenario
problem carries a stable code and its parameters beside the English text, so the web layer
can say it in the page's language (webui/engine_messages/) and a client in its own words.

The company and the draft of 門店預約 are those of tests/engine/test_dry_run.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.casework import dryrun_steps
from engine.casework.dryrun import dry_run, dry_run_diagram
from engine.casework.scenario import MAX_STEPS, ScenarioError, Step, iso_duration
from engine.core.messages import Message
from engine.definitions.sources import SourceFile
from tests.conftest import fixture_files
from tests.engine import test_dry_run as plain_run
from tests.engine.test_dry_run import CUSTOMER, FILENAME, KEY, START, draft, run

company = plain_run.company  # the fixture: 淮海店 and the deployed 門店預約


def codes(report, key):
    return [(e["code"], e["params"]) for e in report[key]]


# ----- the scenario's problems ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "where", "code", "params"),
    [
        (
            {"start": START, "steps": [{"do": "complete", "element": "nope"}]},
            "steps[0].element",
            "scenario_no_such_task",
            {"element": "nope"},
        ),
        ({"start": "next Tuesday"}, "start", "scenario_not_a_time", {"value": "next Tuesday"}),
        ({"start": None}, "start", "scenario_time_missing", {}),
        ({"start": "9999-01-01T00:00"}, "start", "scenario_time_out_of_range", {}),
        (
            {"start": START, "steps": [{"do": "clock", "by": "P1M"}]},
            "steps[0].by",
            "scenario_not_a_duration",
            {"value": "P1M"},
        ),
        (
            {"start": START, "steps": [{"do": "clock", "by": "P999D"}]},
            "steps[0].by",
            "scenario_clock_too_far",
            {"days": 400},
        ),
        ({"start": START, "steps": [{"do": "clock"}]}, "steps[0]", "scenario_clock_by_or_to", {}),
        (
            {"start": START, "steps": [{"do": "fly"}]},
            "steps[0].do",
            "scenario_unknown_action",
            {"value": "fly"},
        ),
        (
            {"start": START, "steps": [{"do": "run_to_end", "x": 1}]},
            "steps[0].x",
            "scenario_step_unknown_key",
            {"action": "run_to_end", "allowed": ["timers_first"]},
        ),
        ({"start": START, "steps": [7]}, "steps[0]", "scenario_step_not_an_object", {}),
        (
            {"start": START, "steps": [{"do": "complete", "element": "attend", "answers": 1}]},
            "steps[0].answers",
            "scenario_answers_not_an_object",
            {},
        ),
        (
            {"start": START, "steps": [{"do": "complete"}]},
            "steps[0].element",
            "scenario_task_unnamed",
            {},
        ),
        (
            {"start": START, "steps": [{"do": "message", "name": "bribe"}]},
            "steps[0].name",
            "scenario_no_such_message",
            {"name": "bribe"},
        ),
        (
            {"start": START, "steps": [{"do": "message"}]},
            "steps[0].name",
            "scenario_message_unnamed",
            {},
        ),
        (
            {"start": START, "steps": [{"do": "message", "name": "cancel_request", "payload": 1}]},
            "steps[0].payload",
            "scenario_payload_not_an_object",
            {},
        ),
        (
            {"start": START, "steps": [{"do": "run_to_end", "timers_first": "yes"}]},
            "steps[0].timers_first",
            "scenario_timers_first_not_boolean",
            {},
        ),
        (
            {"start": START, "steps": [{"do": "clock", "by": "PT1H"}] * (MAX_STEPS + 1)},
            "steps",
            "scenario_too_many_steps",
            {"max": MAX_STEPS, "num": MAX_STEPS + 1},
        ),
        ({"start": START, "steps": {}}, "steps", "scenario_steps_not_a_list", {}),
        ({"start": START, "data": ["a"]}, "data", "scenario_data_not_an_object", {}),
        ({"start": START, "evil": True}, "evil", "scenario_unknown_key", {}),
        ("{not json", "", "scenario_not_json", {}),
        ("[" * 150_000 + "]" * 150_000, "", "scenario_too_long", {"max": 200_000}),
        ("[" * 5_000 + "]" * 5_000, "", "scenario_too_deep", {}),
        (42, "", "scenario_not_an_object", {}),
    ],
)
def test_each_problem_of_a_scenario_has_a_code_and_params(company, scenario, where, code, params):
    with pytest.raises(ScenarioError) as refused:
        run(company, scenario)
    said = [m for m in refused.value.errors[where] if getattr(m, "code", None) == code]
    assert said, refused.value.errors
    assert params.items() <= said[0].params.items()
    # The whole refusal is coded too.
    assert refused.value.reason in ("scenario_problems", code)


def test_a_process_the_draft_does_not_define(company):
    with pytest.raises(ScenarioError) as refused:
        dry_run_diagram(company, FILENAME, draft(), "other_process", {"start": START})
    (said,) = refused.value.errors["process"]
    assert said.code == "dry_run_no_such_process"
    assert said.params == {"process": "other_process", "known": ["store_appointment"]}


def test_start_data_the_start_form_refuses_keeps_the_forms_field_codes(company):
    with pytest.raises(ScenarioError) as refused:
        run(company, {"start": START, "data": {**CUSTOMER, "phone": "abc"}})
    assert refused.value.reason == "dry_run_start_refused"
    (said,) = refused.value.errors["data.phone"]
    assert said.code == "pattern"  # the JSON Schema keyword: the web layer's form messages


# ----- a step that cannot be done ------------------------------------------------------------------


def test_no_task_open_there_names_the_element_and_the_open_tasks(company):
    report = run(
        company,
        {
            "start": START,
            "data": CUSTOMER,
            "steps": [{"do": "complete", "element": "satisfaction"}],
        },
    )
    (error,) = report["errors"]
    assert (error["code"], error["params"]) == (
        "dry_run_no_open_task",
        {"element": "satisfaction", "open": ["attend"]},
    )
    assert (error["action_code"], error["action_params"]) == (
        "dry_run_step_complete",
        {"element": "satisfaction"},
    )
    assert error["action"] == "complete satisfaction"  # English unless the web says otherwise


def test_the_clock_going_back_gives_the_time_it_is(company):
    report = run(
        company,
        {"start": START, "data": CUSTOMER, "steps": [{"do": "clock", "to": "2026-11-20T09:00"}]},
    )
    (error,) = report["errors"]
    assert error["code"] == "dry_run_clock_back"
    assert error["params"] == {"at": "2026-11-23T01:30:00+00:00"}
    assert error["action_code"] == "dry_run_step_clock_to"
    assert error["action_params"] == {"to": "2026-11-20T01:00:00+00:00"}


def test_refused_answers_carry_the_forms_field_codes(company):
    report = run(
        company,
        {
            "start": START,
            "data": CUSTOMER,
            "steps": [{"do": "complete", "element": "attend", "answers": {"attendance": "也許"}}],
        },
    )
    (error,) = report["errors"]
    assert error["code"] == "dry_run_answers_refused"
    assert error["params"]["element"] == "attend"
    (field,) = error["params"]["errors"]["attendance"]
    assert field["code"] == "enum"


def test_a_step_on_a_closed_case_says_the_status(company):
    report = run(
        company,
        {
            "start": START,
            "data": CUSTOMER,
            "steps": [
                {"do": "message", "name": "cancel_request", "payload": {"reason": "臨時有事"}},
                {"do": "complete", "element": "attend"},
            ],
        },
    )
    (error,) = report["errors"]
    assert (error["code"], error["params"]) == (
        "dry_run_case_not_running",
        {"status": "completed"},
    )
    assert error["step"] == 1


def test_a_case_error_of_the_draft_is_the_engines_text_without_a_code(company):
    xml = draft().replace("reminded_at = now()", "reminded_at = no_such_name + 1")
    report = run(
        company, {"start": START, "data": CUSTOMER, "steps": [{"do": "clock", "by": "P3D"}]}, xml
    )
    (error,) = report["errors"]
    assert error["code"] is None and error["params"] == {}
    assert "no_such_name" in error["message"]


# ----- notes -------------------------------------------------------------------------------------


def test_a_case_waiting_for_a_message_is_noted_with_its_names(settings):
    files = [SourceFile(p.name, p.read_bytes()) for p in fixture_files("message_flow.bpmn")]
    report = dry_run(
        settings, files, "message_flow", {"start": START, "steps": [{"do": "run_to_end"}]}
    ).to_dict()
    assert codes(report, "notes") == [("dry_run_waits_for_messages", {"names": ["customer_reply"]})]
    assert report["notes"][0]["message"].endswith("message(s) customer_reply")


def test_the_clock_and_the_timers_stop_at_the_longest_span(company, monkeypatch):
    monkeypatch.setattr(dryrun_steps, "MAX_SPAN", timedelta(days=1))
    report = run(
        company,
        {
            "start": START,
            "data": CUSTOMER,
            "steps": [{"do": "clock", "by": "P2D"}, {"do": "run_to_end", "timers_first": True}],
        },
    )
    # The reminder is due 2026-11-24 10:00 company time: one day and half an hour on.
    assert codes(report, "notes") == [
        ("dry_run_clock_capped", {"days": 1}),
        ("dry_run_timer_too_far", {"at": "2026-11-24T02:00:00+00:00", "days": 1}),
    ]


def test_out_of_time_is_noted(company, monkeypatch):
    monkeypatch.setattr(dryrun_steps, "MAX_SECONDS", -1.0)
    report = run(company, {"start": START, "data": CUSTOMER, "steps": [{"do": "run_to_end"}]})
    assert codes(report, "notes") == [("dry_run_stopped_seconds", {"num": -1})]
    assert report["end"] == {} and report["errors"] == []  # the case never started


# ----- the parts ---------------------------------------------------------------------------------


def test_to_dict_says_each_message_with_the_function_it_is_given(company):
    report = dry_run_diagram(
        company,
        FILENAME,
        draft(),
        KEY,
        {
            "start": START,
            "data": CUSTOMER,
            "steps": [{"do": "clock", "to": "2026-11-20T09:00"}],
        },
    )
    said = report.to_dict(say=lambda m: f"<{m.code}>")
    (error,) = said["errors"]
    assert (error["message"], error["action"]) == (
        "<dry_run_clock_back>",
        "<dry_run_step_clock_to>",
    )
    assert report.to_dict()["errors"][0]["message"].startswith("the clock cannot go back")


@pytest.mark.parametrize(
    ("step", "code", "params"),
    [
        (Step("complete", element="attend"), "dry_run_step_complete", {"element": "attend"}),
        (Step("message", name="x"), "dry_run_step_message", {"name": "x"}),
        (Step("clock", by=timedelta(days=2, hours=3)), "dry_run_step_clock_by", {"by": "P2DT3H"}),
        (Step("run_to_end"), "dry_run_step_run_to_end", {}),
        (Step("run_to_end", timers_first=True), "dry_run_step_run_to_end_timers_first", {}),
    ],
)
def test_each_step_describes_itself_with_a_code(step, code, params):
    said = step.describe()
    assert isinstance(said, Message) and (said.code, said.params) == (code, params)


def test_iso_durations():
    assert iso_duration(timedelta(hours=24)) == "P1D"
    assert iso_duration(timedelta(minutes=90)) == "PT1H30M"
    assert iso_duration(timedelta(days=2, seconds=5)) == "P2DT5S"
    assert iso_duration(timedelta(0)) == "P0D"
