"""Records are made from the table definitions: one field per column, read by column name."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from engine.store.records import CaseRecord, TaskRecord
from engine.store.rows import read
from engine.store.tables import Case, Task


@pytest.mark.parametrize(("record", "table"), [(CaseRecord, Case), (TaskRecord, Task)])
def test_a_record_has_a_field_for_every_column_of_its_table(record, table):
    assert sorted(f.name for f in fields(record)) == sorted(c.name for c in table.__table__.columns)


def test_rows_read_by_name_give_the_values_the_orm_wrote(runtime, db, users):
    from tests.conftest import fixture_files

    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = runtime.start_case("review_flow").number
    when = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    with db.write() as session:  # a column the step itself never writes
        case = session.query(Case).filter_by(number=number).one()
        case.appointment_at = when
        session.commit()
    with read(db) as rows:
        record = rows.case_by_number(number)
        (task,) = rows.active_tasks(record.id)
    assert (record.number, record.status, record.appointment_at) == (number, "running", when)
    assert (
        record.started_at.tzinfo is not None and record.version == 3
    )  # started, saved, appointment set
    assert (task.case_id, task.element_id, task.status, task.data) == (
        record.id,
        "task_a",
        "open",
        None,
    )
    # A later step keeps what it does not own.
    runtime.complete_task(task.id, {"approve": True}, "alice")
    with read(db) as rows:
        assert rows.case_by_number(number).appointment_at == when
