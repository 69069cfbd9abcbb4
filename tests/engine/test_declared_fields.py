"""Only declared fields: a task completion or a start stores only what its form declares.

Every form in forms/ is checked with an undeclared key: refused (naming it) or dropped, never
passed on to the case. Read-only fields and the fields of declared rows are covered too, and
the engine verbs note what they refused or dropped in the case's history.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.core.errors import ValidationFailed
from engine.definitions.forms import load_form_schema
from engine.definitions.submission import (
    EXTRAS_DROP,
    EXTRAS_REFUSE,
    declared_submission,
    split_declared,
)
from engine.store.tables import Event
from tests.conftest import fixture_files

FORMS = sorted((Path(__file__).resolve().parents[2] / "forms").glob("*.json"))
EXTRA = "is_vip"  # no form declares it; a process could read it later


def _schema(path: Path) -> dict:
    return load_form_schema(path.read_bytes(), path.name)


@pytest.mark.parametrize("path", FORMS, ids=[p.stem for p in FORMS])
def test_every_form_refuses_or_drops_an_undeclared_key(path):
    schema = _schema(path)
    assert EXTRA not in schema["properties"]
    first = next(iter(schema["properties"]))
    data = {EXTRA: True, "price": 0} if "price" not in schema["properties"] else {EXTRA: True}

    kept, dropped = split_declared(schema, {**data, first: None})
    assert set(dropped) == set(data) and set(kept) == {first}

    with pytest.raises(ValidationFailed) as refused:
        declared_submission(schema, data, extras=EXTRAS_REFUSE)
    assert all(name in refused.value.errors for name in data)
    assert all(name in str(refused.value) for name in data)
    assert refused.value.errors[EXTRA][0] == "not a field of this form; it cannot be submitted"

    # Dropped: what is left is checked as usual (so required fields are still asked for).
    try:
        kept, dropped = declared_submission(schema, data, extras=EXTRAS_DROP)
    except ValidationFailed as exc:
        assert not set(data) & set(exc.errors)  # only the form's own fields are reported
    else:
        assert kept == {} and dropped == sorted(data)


def test_read_only_and_row_fields():
    schema = {
        "type": "object",
        "properties": {
            "note": {"type": "string"},
            "price": {"type": "number", "readOnly": True},
            "parts": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            "free": {"type": "object"},
            "open": {"type": "object", "properties": {}, "additionalProperties": True},
        },
    }
    data = {
        "note": "ok",
        "price": 1,
        "parts": [{"name": "a", "cost": 9}, {"name": "b"}],
        "free": {"any": 1},
        "open": {"any": 2},
    }
    kept, dropped = split_declared(schema, data)
    assert dropped == ["parts.0.cost", "price"]
    assert kept == {
        "note": "ok",
        "parts": [{"name": "a"}, {"name": "b"}],
        "free": {"any": 1},
        "open": {"any": 2},
    }


def test_the_real_row_form_drops_a_cell_it_does_not_declare():
    schema = _schema(next(p for p in FORMS if p.name == "repair_dispatch.visit_report.json"))
    row_fields = schema["properties"]["parts_replaced"]["items"]["properties"]
    row = {name: None for name in row_fields}
    _, dropped = split_declared(schema, {"parts_replaced": [{**row, "unit_cost": 0}]})
    assert dropped == ["parts_replaced.0.unit_cost"]


def _events(db, kind):
    with db.read() as session:
        return [e.detail for e in session.scalars(select(Event).where(Event.kind == kind))]


@pytest.fixture
def review(runtime, users):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    case = runtime.start_case("review_flow", {"customer_name": "王小明"})
    return case.number, case.open_tasks[0].id


def test_a_refused_completion_changes_nothing_and_is_noted(runtime, db, review):
    number, task_id = review
    with pytest.raises(ValidationFailed, match="escalated") as refused:
        runtime.complete_task(task_id, {"approve": True, "escalated": True}, "alice")
    assert set(refused.value.errors) == {"escalated"}
    case = runtime.get_case(number)
    assert [t.id for t in case.open_tasks] == [task_id] and "escalated" not in case.data
    assert _events(db, "task_submission_refused") == [{"task": task_id, "refused": ["escalated"]}]
    assert _events(db, "task_completed") == []


def test_a_dropped_key_is_not_stored_and_is_noted(runtime, db, review):
    number, task_id = review
    case = runtime.complete_task(
        task_id, {"approve": False, "escalated": True}, "alice", extras=EXTRAS_DROP
    )
    assert case.status == "completed" and "escalated" not in case.data
    done = _events(db, "task_completed")
    assert done == [{"task": task_id, "data": {"approve": False}, "dropped": ["escalated"]}]
    with db.read() as session:
        from engine.store.tables import Task

        assert session.get(Task, task_id).data == {"approve": False}


def test_a_start_keeps_only_the_start_forms_fields(runtime, users):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    with pytest.raises(ValidationFailed, match="approve") as refused:
        runtime.start_case("review_flow", {"customer_name": "王", "approve": True})
    assert set(refused.value.errors) == {"approve"}
    assert runtime.list_tasks() == []
    case = runtime.start_case("review_flow", {"customer_name": "王"})
    assert case.data["customer_name"] == "王"


def test_a_process_without_a_start_form_takes_no_start_data(runtime, users):
    runtime.deploy(fixture_files("quote_flow.bpmn", "quote.dmn"))
    with pytest.raises(ValidationFailed, match="has no start form") as refused:
        runtime.start_case("quote_flow", {"kind": "deep", "area": 120})
    assert set(refused.value.errors) == {"area", "kind"}
    # The engine's own callers that checked their data already (the portal) still may.
    assert runtime.start_case("quote_flow", {"kind": "deep", "area": 120}, prevalidated=True)


def test_a_staff_start_form_is_stored_apart_from_the_booking_page(runtime):
    root = Path(__file__).resolve().parents[2]
    runtime.deploy(
        [root / "processes" / "consultation.bpmn", root / "processes" / "consultation.category.dmn"]
        + sorted((root / "forms").glob("consultation.*.json"))
    )
    from engine.casework import portal

    assert [p.key for p in portal.bookable(runtime)] == ["consultation"]
    with pytest.raises(ValidationFailed) as refused:  # the staff form: fields optional, no extras
        runtime.start_case("consultation", {"channel": "電話", "vip_level": 3})
    assert set(refused.value.errors) == {"vip_level"}
    case = runtime.start_case("consultation", {"channel": "電話", "customer_name": "周先生"})
    assert case.data["customer_name"] == "周先生"
