"""The heat map counts the cases that wait for a message: at a message catch event after an
event-based gateway, at a receive task, at a message boundary event. The rows it counts are
written by each step with the task and timer rows, and go when the message arrives, the case
ends, is cancelled or moves to another version. Every count below is worked out by hand from
the steps the test takes; each step saves the case and the next one loads it again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.casework.supervision import Supervision
from engine.definitions.sources import SourceFile
from engine.runtime.migration import migrate_case
from engine.store.tables import Case, MessageWait
from engine.worker.timers import fire_due_timers
from tests.conftest import FIXTURES, fixture_files

pytestmark = pytest.mark.usefixtures("users")

FLOW = "reply_wait_flow"


def start(runtime, n: int) -> list[str]:
    return [runtime.start_case(FLOW).number for _ in range(n)]


def complete(runtime, number: str, element: str) -> None:
    task = next(t for t in runtime.get_case(number).open_tasks if t.element_id == element)
    runtime.complete_task(task.id, {"confirmed": True}, "alice")


def counts(runtime, version: int = 1) -> tuple[int, dict[str, dict[str, int]]]:
    heat = Supervision(runtime).heat_map(FLOW, version)
    return heat.running, heat.by_element()


def at(tasks: int = 0, timers: int = 0, messages: int = 0, errors: int = 0) -> dict[str, int]:
    return {"tasks": tasks, "timers": timers, "messages": messages, "errors": errors}


def waits(db, number: str) -> set[tuple[str, str]]:
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return {
            (w.element_id, w.message)
            for w in session.scalars(select(MessageWait).where(MessageWait.case_id == case_id))
        }


def test_cases_waiting_for_a_message_are_counted_where_they_wait(runtime, db, clock):
    runtime.deploy(fixture_files(f"{FLOW}.bpmn"))
    a, b, c, d, e, f, g, h = start(runtime, 8)
    for number in (a, b, c, f, g, h):
        complete(runtime, number, "task_intake")  # → waits for the reply, or three days
    runtime.send_message(f, "customer_reply", actor="portal")  # → waits for the payment
    runtime.send_message(h, "customer_reply", actor="portal")
    runtime.send_message(h, "payment_received", actor="portal")  # → 結案, or withdrawn
    runtime.cancel_case(g, "客戶取消", actor="sue")  # waited for the reply: counted no more
    assert waits(db, g) == set()
    assert waits(db, a) == {("reply", "customer_reply")}
    assert waits(db, h) == {("withdrawn", "customer_withdraws")}
    # By hand: d, e at 受理; a, b, c at the gateway (the reply and the three days); f at the
    # payment; h at 結案 with its withdrawal boundary event; g cancelled.
    assert counts(runtime) == (
        7,
        {
            "task_intake": at(tasks=2),
            "reply": at(messages=3),
            "no_reply": at(timers=3),
            "receive_payment": at(messages=1),
            "task_close": at(tasks=1),
            "withdrawn": at(messages=1),
        },
    )
    heat = Supervision(runtime).heat_map(FLOW, 1)
    first = heat.counts[0]
    assert (first.element_id, first.name, first.total) == ("no_reply", "三天未回覆", 3)
    assert {x.element_id: x.name for x in heat.counts}["receive_payment"] == "收到付款"
    assert sum(x.messages for x in heat.counts) == 5

    # The reply reaches a: it moves on to the payment. h's customer pays, 結案 is done: ended.
    runtime.send_message(a, "customer_reply", actor="portal")
    complete(runtime, h, "task_close")
    assert runtime.get_case(h).status == "completed" and waits(db, h) == set()
    assert counts(runtime) == (
        6,
        {
            "task_intake": at(tasks=2),
            "reply": at(messages=2),
            "no_reply": at(timers=2),
            "receive_payment": at(messages=2),
        },
    )

    # Three days later b and c have not replied: their timers end them, and with the timers
    # their wait for the reply goes.
    clock.advance(days=3, minutes=1)
    assert fire_due_timers(runtime).fired == 2
    assert runtime.get_case(b).status == "completed" and waits(db, b) == set()
    assert counts(runtime) == (
        4,
        {"task_intake": at(tasks=2), "receive_payment": at(messages=2)},
    )
    # What the case page offers to send is unchanged by the rows.
    assert runtime.get_case(a).waiting_messages == ["payment_received"]


def test_a_case_moved_to_another_version_waits_where_that_version_says(runtime, db):
    runtime.deploy(fixture_files(f"{FLOW}.bpmn"))
    (number,) = start(runtime, 1)
    complete(runtime, number, "task_intake")
    text = (FIXTURES / f"{FLOW}.bpmn").read_text()
    runtime.deploy([SourceFile(f"{FLOW}.bpmn", text.replace("客戶回覆", "客戶已回覆").encode())])
    migrate_case(runtime, number, 2, actor="sue")
    assert waits(db, number) == {("reply", "customer_reply")}
    assert counts(runtime, 1) == (0, {})
    assert counts(runtime, 2) == (1, {"reply": at(messages=1), "no_reply": at(timers=1)})
    heat = Supervision(runtime).heat_map(FLOW, 2)
    assert {x.element_id: x.name for x in heat.counts}["reply"] == "客戶已回覆"


def test_the_migration_adds_the_table_and_takes_it_away(db):
    from alembic import command
    from sqlalchemy import inspect

    from engine.store.migrate import alembic_config, upgrade

    cfg = alembic_config(db)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0015")
    assert "message_wait" not in inspect(db.engine).get_table_names()
    upgrade(db)
    inspector = inspect(db.engine)
    assert "message_wait" in inspector.get_table_names()
    assert {i["name"] for i in inspector.get_indexes("message_wait")} == {"ix_message_wait_element"}


def test_cases_from_before_the_table_are_written_by_reproject(runtime, db, db_url, settings, clock):
    """A database upgraded to 0016 has no rows for the cases already waiting (the migration
    does not load workflows): `caseflow reproject` writes them, one step per case."""
    import json

    from click.testing import CliRunner
    from sqlalchemy import delete

    from caseflow.cli import main

    runtime.deploy(fixture_files(f"{FLOW}.bpmn"))
    a, b, c = start(runtime, 3)
    for number in (a, b):
        complete(runtime, number, "task_intake")
    runtime.cancel_case(c, "客戶取消", actor="sue")
    with db.write() as session:  # as the cases stood before the upgrade
        session.execute(delete(MessageWait))
        session.commit()
    assert counts(runtime) == (2, {"no_reply": at(timers=2)})
    result = CliRunner().invoke(
        main,
        ["reproject", "--json"],
        env={
            "DATABASE_URL": db_url,
            "CASEFLOW_SETTINGS": str(settings.path),
            "CASEFLOW_NOW": clock.now().isoformat(),  # the timers are not due yet
        },
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"cases": 2, "changed_meanwhile": []}
    assert counts(runtime) == (2, {"no_reply": at(timers=2), "reply": at(messages=2)})
    assert runtime.get_case(a).status == "running"  # nothing else moved
    assert [e.kind for e in runtime.get_case(a).history][-1] == "task_completed"
