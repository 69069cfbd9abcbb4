"""Every startable procedure in processes/ runs from its start to an end by itself.

processes/ and forms/ are deployed together, the demo data of `caseflow demo-data` is loaded
(directory of people, service items, stores with rooms and staff shifts), and one user per role
is created. A case is started with the simplest data its staff start form (else its start
form) accepts and driven by tests/processes/driver.py: open tasks are completed with the
simplest answer their forms accept, by a user of their role; when no task is open, a message
the case waits for on its way is delivered, else the clock moves to the next timer and the
worker fires it, else a request the case accepts (a customer's change or cancellation) is sent.
Each case must end (completed or cancelled) with an outcome within 300 steps and 400 days.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from caseflow.demo import load_demo
from engine.core.outcomes import Outcome
from engine.identity.users import add_user
from tests.processes.driver import Driver, awaited_catchers, simplest_valid

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def _startable() -> list[str]:
    """Keys of the processes that may be started on their own (no startable=false)."""
    keys = []
    for path in sorted(PROCESSES.glob("*.bpmn")):
        root = etree.fromstring(path.read_bytes())
        for process in root.iterfind(f"{{{BPMN}}}process"):
            props = {
                p.get("name"): p.get("value")
                for p in process.iterfind(f"{{{BPMN}}}extensionElements//{{{SPIFF}}}property")
            }
            if process.get("isExecutable") != "false" and props.get("startable") != "false":
                keys.append(process.get("id"))
    return keys


STARTABLE = _startable()
# Processes that cannot reach an end with the simplest data because of a defect in the process
# itself: key → reason (strict: the test fails once the process is fixed, so this is removed).
KNOWN_DEFECTS: dict[str, str] = {}


def test_the_eleven_procedures_are_startable():
    assert len(STARTABLE) == 11, STARTABLE


@pytest.fixture
def driver(runtime, db, settings, clock):
    runtime.deploy([PROCESSES, FORMS], actor="owner")
    load_demo(db, settings, clock.now())
    users = {}
    for role in settings.roles:
        users[role] = f"driver-{role.replace('_', '-')}"
        add_user(db, settings, users[role], [role], clock.now())
    return Driver(runtime, clock, users, catchers=awaited_catchers(PROCESSES))


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(
            key,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[key])]
            if key in KNOWN_DEFECTS
            else [],
        )
        for key in STARTABLE
    ],
)
def test_simplest_case_runs_to_an_end_with_an_outcome(driver, key):
    case = driver.start(key)
    ended = driver.run(case.number)
    assert ended.status in ("completed", "cancelled")
    assert ended.outcome in {o.value for o in Outcome}, (
        f"{key} case {ended.number} ended at {ended.completed_elements[-3:]} without an outcome"
    )


# ----- the generator itself


def test_simplest_valid_answers_required_fields_with_the_simplest_values(runtime, clock):
    schema = {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["b", "a"]},
            "count": {"type": "integer", "minimum": 2},
            "amount": {"type": "number", "exclusiveMinimum": 0},
            "ok": {"type": "boolean"},
            "sure": {"type": "boolean", "const": True},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "phone": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
            "name": {"type": "string", "minLength": 2},
            "rows": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "required": ["a"],
                },
            },
            "optional": {"type": "string"},
            "fee": {"type": "number", "minimum": 5},
        },
        "required": ["kind", "count", "amount", "ok", "sure", "when", "day", "phone", "name"]
        + ["rows"],
        "if": {"properties": {"ok": {"const": False}}, "required": ["ok"]},
        "then": {"required": ["fee"]},
    }
    # Monday 23 November 2026 09:30 in Shanghai: the next working day is Tuesday.
    answer = simplest_valid(schema, clock.now(), runtime.calendar)
    assert answer == {
        "kind": "b",
        "count": 2,
        "amount": 1,
        "ok": False,
        "sure": True,
        "when": "2026-11-24T10:00",
        "day": "2026-11-24",
        "phone": "13000000000",
        "name": "xx",
        "rows": [{"a": "x"}],
        "fee": 5,
    }


def test_a_task_brought_back_gets_the_next_option_of_each_choice(runtime, clock):
    schema = {
        "type": "object",
        "properties": {
            "satisfied": {"type": "boolean"},
            "decision": {"type": "string", "enum": ["again", "reset", "cancel"]},
            "note": {"type": "string"},
        },
        "required": ["satisfied", "decision", "note"],
    }
    answers = [simplest_valid(schema, clock.now(), runtime.calendar, variant=n) for n in range(4)]
    assert [(a["satisfied"], a["decision"]) for a in answers] == [
        (False, "again"),
        (True, "reset"),
        (False, "cancel"),
        (True, "again"),
    ]


def test_a_prefilled_field_keeps_its_value(runtime, clock):
    schema = {
        "type": "object",
        "properties": {
            "customer_name": {"type": "string", "minLength": 1, "x-prefill": "customer_name"},
            "phone": {"type": "string", "pattern": "^1[3-9][0-9]{9}$", "x-prefill": "phone"},
        },
        "required": ["customer_name", "phone"],
    }
    start = {"customer_name": "王小明", "phone": "12345"}  # a phone the form would refuse
    answer = simplest_valid(schema, clock.now(), runtime.calendar, start=start)
    assert answer == {"customer_name": "王小明", "phone": "13000000000"}
