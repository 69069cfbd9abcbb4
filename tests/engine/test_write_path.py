"""One write path: every verb that changes a case or a task (start, complete, claim, unclaim,
reassign, cancel, retry, message, migrate, purge) runs in the step transaction, with its version
check. Each verb is shown to open exactly one step transaction and no other write session, and,
when another writer changes the same row between the verb's read and its write, to answer
Conflict and save nothing of its own (no lost update)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from engine.core.errors import Conflict
from engine.definitions.sources import SourceFile
from engine.runtime.migration import migrate_case
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.rows import Rows
from engine.store.tables import Case, Event, Task
from tests.conftest import FIXTURES, fixture_files

pytestmark = pytest.mark.usefixtures("users")

REVIEW = (FIXTURES / "review_flow.bpmn").read_text()


def deploy(runtime: Runtime) -> None:
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    runtime.deploy(fixture_files("message_flow.bpmn"))
    runtime.deploy(fixture_files("divide_flow.bpmn"))


def open_task(runtime: Runtime) -> tuple[str, int]:
    case = runtime.start_case("review_flow")
    return case.number, case.open_tasks[0].id


@contextmanager
def counted_transactions(runtime: Runtime, db: Database) -> Iterator[dict[str, int]]:
    """Count the step transactions a verb opens and the other write sessions (db.write())."""
    seen = {"steps": 0, "other_writes": 0}
    make, write = runtime._transaction, db.write

    def step() -> Any:
        seen["steps"] += 1
        return make()

    @contextmanager
    def other() -> Iterator[Session]:
        seen["other_writes"] += 1
        with write() as session:
            yield session

    runtime._transaction = step  # type: ignore[method-assign]
    db.write = other  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        runtime._transaction = make  # type: ignore[method-assign]
        db.write = write  # type: ignore[method-assign]


@contextmanager
def another_writer_after_the_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Between the verb's read of its case or task and its write, another writer changes the
    same row (its version counter moves on), as a second web process would."""
    bumped: list[str] = []

    def bump(rows_or_session: Any, table: str, row_id: int) -> None:
        if bumped:
            return
        sql = f'UPDATE "{table}" SET version = version + 1 WHERE id = {int(row_id)}'
        if isinstance(rows_or_session, Rows):
            rows_or_session.run(sql)
        else:  # the ORM session's own connection, below the ORM
            cursor = rows_or_session.connection().connection.driver_connection.cursor()
            cursor.execute(sql)
        bumped.append(f"{table} {row_id}")

    read_case, read_task = Rows.case_by_number, Rows.task_and_number

    def case_by_number(self: Rows, number: str) -> Any:
        found = read_case(self, number)
        if found is not None:
            bump(self, "case", found.id)
        return found

    def task_and_number(self: Rows, task_id: int) -> Any:
        found = read_task(self, task_id)
        if found is not None:
            bump(self, "task", found[0].id)
        return found

    monkeypatch.setattr(Rows, "case_by_number", case_by_number)
    monkeypatch.setattr(Rows, "task_and_number", task_and_number)

    def loaded(session: Session, instance: Any) -> None:  # ORM reads (cancel, migrate)
        if isinstance(instance, Case):
            bump(session, "case", instance.id)

    event.listen(Session, "loaded_as_persistent", loaded)
    try:
        yield bumped
    finally:
        event.remove(Session, "loaded_as_persistent", loaded)


def history(db: Database, number: str) -> list[str]:
    with db.read() as session:
        case_id = session.scalars(select(Case.id).where(Case.number == number)).one()
        return list(session.scalars(select(Event.kind).where(Event.case_id == case_id)))


def task_row(db: Database, task_id: int) -> tuple[str, str | None, int]:
    with db.read() as session:
        task = session.get(Task, task_id)
        return task.status, task.assignee, task.version


def case_row(db: Database, number: str) -> tuple[str, int, int]:
    with db.read() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        return case.status, case.version, case.process_version_id


def in_error(runtime: Runtime) -> str:
    case = runtime.start_case("divide_flow", {"total": 10, "people": 0}, prevalidated=True)
    assert case.status == "error"
    return case.number


def migratable(runtime: Runtime) -> str:
    number = runtime.start_case("review_flow").number
    runtime.deploy([SourceFile("review_flow.bpmn", REVIEW.replace("受理審核", "受理").encode())])
    return number


# verb name -> (set-up returning its argument, the verb)
VERBS: dict[str, tuple[Callable[[Runtime], Any], Callable[[Runtime, Any], Any]]] = {
    "start": (lambda rt: None, lambda rt, _: rt.start_case("review_flow")),
    "complete": (
        open_task,
        lambda rt, a: rt.complete_task(a[1], {"approve": True}, "alice"),
    ),
    "claim": (open_task, lambda rt, a: rt.claim(a[1], "alice")),
    "unclaim": (
        lambda rt: (lambda a: (rt.claim(a[1], "alice"), a)[1])(open_task(rt)),
        lambda rt, a: rt.unclaim(a[1], "alice"),
    ),
    "reassign": (open_task, lambda rt, a: rt.reassign(a[1], "carol", "sue")),
    "cancel": (open_task, lambda rt, a: rt.cancel_case(a[0], "客戶取消", actor="sue")),
    "retry": (in_error, lambda rt, n: rt.retry_case(n, data={"people": 2})),
    "message": (
        lambda rt: rt.start_case("message_flow").number,
        lambda rt, n: rt.send_message(n, "customer_reply", {"answer": "好"}, actor="portal"),
    ),
    "migrate": (migratable, lambda rt, n: migrate_case(rt, n, 2, actor="sue")),
}


@pytest.mark.parametrize("verb", list(VERBS))
def test_each_verb_writes_in_one_step_transaction_only(runtime, db, verb):
    deploy(runtime)
    setup, act = VERBS[verb]
    argument = setup(runtime)
    with counted_transactions(runtime, db) as seen:
        act(runtime, argument)
    assert seen == {"steps": 1, "other_writes": 0}


CONFLICTING = ["complete", "claim", "unclaim", "reassign", "cancel", "retry", "message", "migrate"]


@pytest.mark.parametrize("verb", CONFLICTING)
def test_a_change_by_another_writer_meanwhile_is_a_conflict_and_nothing_is_saved(
    runtime, db, monkeypatch, verb
):
    deploy(runtime)
    setup, act = VERBS[verb]
    argument = setup(runtime)
    number = argument[0] if isinstance(argument, tuple) else argument
    task_id = argument[1] if isinstance(argument, tuple) else None
    case_before, events_before = case_row(db, number), history(db, number)
    task_before = task_row(db, task_id) if task_id else None

    with another_writer_after_the_read(monkeypatch) as bumped, pytest.raises(Conflict):
        act(runtime, argument)

    assert bumped, "the verb read no case or task row"
    # Nothing of the verb (nor of the simulated writer, in the same rolled-back transaction).
    assert case_row(db, number) == case_before
    assert history(db, number) == events_before
    if task_id:
        assert task_row(db, task_id) == task_before
    # And the verb works once nobody else writes.
    act(runtime, argument)


def test_two_starts_at_once_get_two_numbers(db, settings, clock):
    """Two runtimes (two web processes) starting cases at the same moment."""
    first, second = Runtime(db, settings, clock), Runtime(db, settings, clock)
    deploy(first)
    numbers: list[str] = []
    barrier = threading.Barrier(2)

    def start(rt: Runtime) -> None:
        barrier.wait()
        numbers.append(rt.start_case("review_flow").number)

    threads = [threading.Thread(target=start, args=(rt,)) for rt in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(numbers)) == 2


@pytest.mark.parametrize("rounds", [20])
def test_migrate_and_complete_at_once_lose_nothing(db, settings, clock, rounds):
    """A supervisor moves a case to a new version while staff complete its task: either the
    completion lands on the moved case or one of the two is told Conflict; the completion is
    never overwritten by a migration that read the case before it."""
    rt_a, rt_b = Runtime(db, settings, clock), Runtime(db, settings, clock)
    deploy(rt_a)
    cases = [rt_a.start_case("review_flow") for _ in range(rounds)]
    rt_a.deploy([SourceFile("review_flow.bpmn", REVIEW.replace("受理審核", "受理").encode())])
    outcomes: dict[str, int] = {}
    for case in cases:
        barrier = threading.Barrier(2)
        result: dict[str, Any] = {}

        def complete(
            case: Any = case, result: dict[str, Any] = result, barrier: Any = barrier
        ) -> None:
            barrier.wait()
            try:
                rt_a.complete_task(case.open_tasks[0].id, {"approve": True}, "alice")
                result["complete"] = "ok"
            except Conflict:
                result["complete"] = "conflict"

        def migrate(
            case: Any = case, result: dict[str, Any] = result, barrier: Any = barrier
        ) -> None:
            barrier.wait()
            try:
                migrate_case(rt_b, case.number, 2, actor="sue")
                result["migrate"] = "ok"
            except Conflict:
                result["migrate"] = "conflict"
            except Exception as exc:  # noqa: BLE001 - a refusal (case moved on) is fine too
                result["migrate"] = type(exc).__name__

        threads = [threading.Thread(target=complete), threading.Thread(target=migrate)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes[f"{result['complete']}/{result['migrate']}"] = (
            outcomes.get(f"{result['complete']}/{result['migrate']}", 0) + 1
        )
        after = rt_a.get_case(case.number)
        task_a_done = any(
            e.kind == "task_completed" and e.element_id == "task_a" for e in after.history
        )
        assert task_a_done == (result["complete"] == "ok"), (result, after.history)
        if result["complete"] == "ok":
            assert [t.element_id for t in after.open_tasks] == ["task_b"], result
        if result["migrate"] == "ok":
            assert after.version == 2
    assert sum(outcomes.values()) == rounds


def ended_long_ago(runtime: Runtime, settings: Any) -> tuple[str, Any]:
    from datetime import timedelta

    number = runtime.start_case("review_flow", {"customer_name": "王小明"}).number
    runtime.cancel_case(number, "客戶取消", actor="sue")
    return number, runtime.clock.now() + timedelta(days=settings.privacy.retention_days + 1)


def test_the_retention_purge_writes_each_case_in_a_step_transaction(
    runtime, db, settings, monkeypatch
):
    from engine.casework import retention as privacy
    from engine.runtime import steptxn

    deploy(runtime)
    number, later = ended_long_ago(runtime, settings)
    seen = {"steps": 0, "other_writes": 0}
    make, write = steptxn.step_transaction, db.write

    def step(database: Database) -> Any:
        seen["steps"] += 1
        return make(database)

    @contextmanager
    def other() -> Iterator[Session]:
        seen["other_writes"] += 1
        with write() as session:
            yield session

    monkeypatch.setattr(steptxn, "step_transaction", step)
    monkeypatch.setattr(db, "write", other)
    report = privacy.purge(db, settings, later)
    assert report.numbers == [number]
    assert seen == {"steps": 2, "other_writes": 0}  # the case, then the run's own event


def test_a_purge_that_meets_a_change_by_another_writer_skips_the_case(
    runtime, db, settings, monkeypatch
):
    from engine.casework import retention as privacy

    deploy(runtime)
    number, later = ended_long_ago(runtime, settings)
    before = case_row(db, number)
    with another_writer_after_the_read(monkeypatch) as bumped:
        report = privacy.purge(db, settings, later)
    assert bumped and report.skipped == 1 and report.numbers == []
    assert case_row(db, number) == before
    assert privacy.purge(db, settings, later).numbers == [number]  # the next run takes it
