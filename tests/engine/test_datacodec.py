"""Case data stays data: the converter between case data and stored text, the stored case
state around it, and the conversion of states written in the older format."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from alembic import command
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import select, text

from engine.core import datacodec
from engine.core.datacodec import DataError
from engine.spiff import adapter as spiff
from engine.store.migrate import alembic_config, upgrade
from engine.store.tables import Case, ProcessVersion
from tests.conftest import FIXTURES, fixture_files


def _real_workflow_shape() -> dict:
    """What SpiffWorkflow's own serializer writes for a live workflow: the shape an attacker
    plants so that the registry would rebuild it (with a stock, unrestricted script engine)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(FIXTURES / "booking_flow.bpmn"))
    spec = parser.get_spec(parser.get_process_ids()[0])
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return json.loads(serializer.serialize_json(BpmnWorkflow(spec)))


def test_plain_values_and_caseflow_value_types_round_trip() -> None:
    value = {
        "name": "王小明",
        "n": 3,
        "price": 1.5,
        "ok": True,
        "none": None,
        "items": [1, "a", [2, {"b": None}]],
        "at": datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        "day": date(2026, 12, 1),
        "clock": time(9, 30),
        "span": timedelta(days=3, seconds=5),
        "fee": Decimal("760.50"),
    }
    assert datacodec.loads(datacodec.dumps(value)) == value


def test_a_dict_of_the_data_cannot_forge_a_typed_value() -> None:
    forged = {"$cf": "datetime", "v": "2026-12-01T10:00:00"}
    back = datacodec.loads(datacodec.dumps({"x": forged}))
    assert back == {"x": forged}
    assert isinstance(back["x"], dict)


def test_typename_dicts_are_only_data() -> None:
    shapes = {
        "workflow": _real_workflow_shape(),
        "nope": {"typename": "nope"},
        "huge_span": {"typename": "timedelta", "days": 10**12, "seconds": 0},
    }
    back = datacodec.loads(datacodec.dumps(shapes))
    assert back == shapes
    assert all(type(v) is dict for v in back.values())


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        ({1: "a"}, "not text"),
        (print, "cannot be stored"),
        (object(), "cannot be stored"),
        (10**20000, "too large"),
        (Decimal("Infinity"), "finite"),
    ],
    ids=["nan", "inf", "int-key", "function", "object", "huge-int", "decimal-inf"],
)
def test_values_that_are_not_data_are_refused_with_where_they_were(value, problem) -> None:
    with pytest.raises(DataError, match=problem) as info:
        datacodec.dumps({"outer": [value]})
    assert info.value.path == "outer[0]"


def test_deep_nesting_is_refused() -> None:
    deep: list = []
    for _ in range(200_000):
        deep = [deep]
    with pytest.raises(DataError, match="nested deeper"):
        datacodec.dumps(deep)


def test_non_finite_numbers_in_text_are_refused() -> None:
    for bad in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'):
        with pytest.raises(DataError):
            datacodec.loads(bad)


def test_sets_and_tuples_are_stored_as_lists() -> None:
    assert datacodec.loads(datacodec.dumps({"t": (1, 2), "s": {3}})) == {"t": [1, 2], "s": [3]}


def _started(runtime, users, data=None):
    runtime.deploy(fixture_files("booking_flow.bpmn"))
    return runtime.start_case("booking_flow", data or {"customer_name": "王"}, prevalidated=True)


def _specs(runtime, session, row):
    return runtime._specs_for(session.get(ProcessVersion, row.process_version_id))


def test_a_planted_workflow_comes_back_as_a_dict_after_a_reload(fresh_runtime, users) -> None:
    rt = fresh_runtime()
    case = _started(rt, users)
    shape = _real_workflow_shape()
    number = case.number
    with rt.db.write() as session:
        row = session.scalars(select(Case).where(Case.number == number)).one()
        spec, subs = _specs(rt, session, row)
        workflow = spiff.load_case_state(row.state, spec, subs, rt.script_engine)
        workflow.task_tree.data["planted"] = shape
        for task in workflow.get_tasks():
            task.data["planted"] = shape
        row.state = spiff.dump_case_state(workflow)
        session.commit()
    loaded = fresh_runtime().get_case(number)
    assert type(loaded.data["planted"]) is dict
    assert loaded.data["planted"] == shape


def _legacy_state(state: str, planted: dict) -> str:
    """A state as Caseflow wrote it before this format: data encoded by SpiffWorkflow's
    JSON encoder (dates as typename dicts)."""
    dct = json.loads(state)
    for task in dct["tasks"].values():
        if task["parent"] is None:
            task["data"] = {
                "when": {"typename": "datetime", "value": "2026-12-01T10:00:00+00:00"},
                "wait": {"typename": "timedelta", "days": 2, "seconds": 60},
                "planted": planted,
                "marked": {"$cf": "date", "v": "2026-12-01"},
            }
    dct["serializer_version"] = spiff.LEGACY_VERSION
    return json.dumps(dct)


def _expect_converted(data: dict, planted: dict) -> None:
    assert data["when"] == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert data["wait"] == timedelta(days=2, seconds=60)
    assert type(data["planted"]) is dict and data["planted"] == planted
    assert data["marked"] == {"$cf": "date", "v": "2026-12-01"}  # data, not a date


def test_a_state_of_the_older_format_loads_without_rebuilding_objects(runtime, users) -> None:
    case = _started(runtime, users)
    planted = _real_workflow_shape()
    with runtime.db.read() as session:
        row = session.scalars(select(Case).where(Case.number == case.number)).one()
        legacy = _legacy_state(row.state, planted)
        spec, subs = _specs(runtime, session, row)
    workflow = spiff.load_case_state(legacy, spec, subs, runtime.script_engine)
    _expect_converted(workflow.task_tree.data, planted)


def test_migration_rewrites_states_of_the_older_format(db, runtime, users) -> None:
    case = _started(runtime, users)
    planted = {"typename": "nope", "inner": {"typename": "BpmnWorkflow"}}
    with db.write() as session:
        row = session.scalars(select(Case).where(Case.number == case.number)).one()
        row.state = _legacy_state(row.state, planted)
        row.serializer_version = spiff.LEGACY_VERSION
        session.commit()
    cfg = alembic_config(db)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0007")
    upgrade(db)
    with db.read() as session:
        version, state = session.execute(
            text('SELECT serializer_version, state FROM "case" WHERE number = :n'),
            {"n": case.number},
        ).one()
        row = session.scalars(select(Case).where(Case.number == case.number)).one()
        spec, subs = _specs(runtime, session, row)
    assert version == spiff.SERIALIZER_VERSION
    assert '"typename": "datetime"' not in state
    root = spiff.load_case_state(state, spec, subs, runtime.script_engine).task_tree
    _expect_converted(root.data, planted)
