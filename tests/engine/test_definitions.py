"""Deploy-time validation: the bad-BPMN corpus is refused with messages naming the element,
and nothing is deployed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.definitions.sources import DefinitionError, SourceFile
from engine.definitions.timers import check_timer
from engine.store.tables import Form, ProcessVersion
from tests.conftest import FIXTURES

GOOD = (FIXTURES / "review_flow.bpmn").read_text()
FORM = (FIXTURES / "review_form.json").read_bytes()
START_FORM = SourceFile("review_start.json", (FIXTURES / "review_start.json").read_bytes())


def variant(old: str, new: str) -> bytes:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1).encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">&lol3;</bpmn:process></bpmn:definitions>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p" name="&xxe;"/></bpmn:definitions>"""

NO_PROCESS = b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x"/>"""

CORPUS = {
    "not_xml": (b"this is not XML at all", None, "not well-formed XML"),
    "external_entity": (EXTERNAL_ENTITY, None, "DOCTYPE"),
    "billion_laughs": (BILLION_LAUGHS, None, "DOCTYPE"),
    "no_process": (NO_PROCESS, None, "no process"),
    "missing_form": (
        variant('value="review_form.json"', 'value="missing_form.json"'),
        "task_a",
        "form 'missing_form.json' is not among the files",
    ),
    "unknown_lane": (
        variant('name="senior_service"', 'name="夜班"'),
        "lane_b",
        "lane '夜班' is not a known role",
    ),
    "unsafe_condition": (
        variant("approve == True", "__import__('os').system('touch /tmp/pwned')"),
        "f_yes",
        "refused",
    ),
    "dunder_script": (
        variant("escalated = True", "x = ().__class__.__base__.__subclasses__()"),
        "mark_escalated",
        "refused",
    ),
    "invalid_timer": (variant('"P3D"', '"P3X"'), "wait_3_days", "not a valid ISO 8601 duration"),
    "timer_not_iso": (
        variant('"P3D"', "three_days + 1"),
        "wait_3_days",
        "must be an ISO 8601 value",
    ),
    "ten_megabytes": (GOOD.encode() + b"<!--" + b"x" * 10_000_000 + b"-->", None, "limit is"),
    "broken_flow": (variant('targetRef="task_b"', 'targetRef="nowhere"'), None, "nowhere"),
    "camunda_juel": (variant("approve == True", "${approve}"), "f_yes", "Camunda"),
    "bad_instructions": (variant("{{ customer_name }}", "{{ customer_name "), "task_a", "template"),
}


def count_versions(db) -> tuple[int, int]:
    with db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(ProcessVersion)),
            session.scalar(select(func.count()).select_from(Form)),
        )


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_bpmn_is_refused_and_nothing_is_deployed(name, runtime, db):
    data, element_id, message = CORPUS[name]
    files = [SourceFile("bad.bpmn", data), SourceFile("review_form.json", FORM)]
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy(files)
    problems = refused.value.problems
    assert any(message in p.message for p in problems), problems
    if element_id:
        assert element_id in [p.element_id for p in problems], problems
    assert all(p.file for p in problems)
    assert count_versions(db) == (0, 0)
    assert not __import__("os").path.exists("/tmp/pwned")


def test_invalid_form_schema_refused(runtime, db):
    with pytest.raises(DefinitionError, match="review_form.json"):
        runtime.deploy(
            [
                SourceFile("review.bpmn", GOOD.encode()),
                SourceFile("review_form.json", b'{"type": "objekt"}'),
            ]
        )
    assert count_versions(db) == (0, 0)


def test_camunda_bare_iso_timer_accepted(runtime):
    runtime.deploy(
        [
            SourceFile("review.bpmn", variant('"P3D"', "P3D")),
            SourceFile("review_form.json", FORM),
            START_FORM,
        ]
    )


def test_camunda_form_key_accepted(runtime):
    data = variant(
        '<bpmn:userTask id="task_a" name="受理審核">',
        '<bpmn:userTask id="task_a" name="受理審核" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:formKey="review_form.json">',
    ).replace(
        b'<spiffworkflow:property name="formJsonSchemaFilename" value="review_form.json" />', b""
    )
    runtime.deploy(
        [SourceFile("review.bpmn", data), SourceFile("review_form.json", FORM), START_FORM]
    )
    number = runtime.start_case("review_flow").number
    task = runtime.get_case(number).open_tasks[0]
    assert runtime.get_task(task.id).form["title"] == "受理審核"


@pytest.mark.parametrize(
    ("kind", "text", "ok"),
    [
        ("timeDuration", '"P3D"', True),
        ("timeDuration", '"PT24H"', True),
        ("timeDuration", '"P1Y2M"', True),
        ("timeDuration", '"3 days"', False),
        ("timeDuration", '"P"', False),
        ("timeDate", '"2026-12-01T09:00:00+08:00"', True),
        ("timeDate", '"2026-13-01"', False),
        ("timeDate", "working_days_from_now(2)", True),
        ("timeDate", "hours_before(appointment_at, 24)", True),
        ("timeDuration", "working_days_from_now(2)", False),
        ("timeCycle", '"R3/PT1H"', True),
        ("timeCycle", '"PT1H"', False),
        ("timeDate", "__import__('os')", False),
        ("timeDate", "open('/etc/passwd')", False),
    ],
)
def test_timer_expressions(kind, text, ok):
    assert (check_timer(kind, text) is None) is ok


@pytest.mark.parametrize(
    ("kind", "area", "price"),
    [("deep", 120, 1440), ("deep", 50, 750), ("regular", 30, 200), ("regular", 80, 400)],
)
def test_dmn_decision_table_runs_in_the_restricted_engine(runtime, kind, area, price):
    runtime.deploy([FIXTURES / "quote_flow.bpmn", FIXTURES / "quote.dmn"])
    case = runtime.start_case("quote_flow", {"kind": kind, "area": area}, prevalidated=True)
    assert case.status == "running" and case.data["price"] == price


def test_unsafe_dmn_cell_is_refused(runtime, db):
    dmn = (FIXTURES / "quote.dmn").read_bytes().replace(b"area * 12", b"().__class__")
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy(
            [
                SourceFile("quote_flow.bpmn", (FIXTURES / "quote_flow.bpmn").read_bytes()),
                SourceFile("quote.dmn", dmn),
            ]
        )
    assert refused.value.problems[0].element_id == "o1"
    assert count_versions(db) == (0, 0)


def test_changed_dmn_makes_a_new_version(runtime):
    runtime.deploy([FIXTURES / "quote_flow.bpmn", FIXTURES / "quote.dmn"])
    dmn = (FIXTURES / "quote.dmn").read_bytes().replace(b"area * 12", b"area * 11")
    result = runtime.deploy(
        [
            SourceFile("quote_flow.bpmn", (FIXTURES / "quote_flow.bpmn").read_bytes()),
            SourceFile("quote.dmn", dmn),
        ]
    )
    assert [(d.key, d.version) for d in result] == [("quote_flow", 2)]
    assert (
        runtime.start_case("quote_flow", {"kind": "deep", "area": 100}, prevalidated=True).data[
            "price"
        ]
        == 1100
    )
