"""A step's transaction: one connection (or the held one of a worker's batch), the SQLite
writer's turn in this process, the ORM session service helpers may use, and a savepoint per
engine task that writes. engine.runtime.verbs runs every step inside one of these."""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.exc import StaleDataError

from engine.core.errors import Conflict
from engine.spiff import adapter as spiff
from engine.store.database import Database
from engine.store.records import CaseRecord
from engine.store.rows import Rows
from engine.store.tables import Case

held_connection_var: ContextVar[Any] = ContextVar("caseflow_held_connection", default=None)


class StepTransaction:
    """The one transaction of a step, on a plain connection (BEGIN IMMEDIATE on SQLite). Plain
    SQL runs on its DBAPI cursor (`rows`); an ORM Session joined to the same transaction is
    made only when something asks for it (service helpers, mostly), since making one costs
    more than the rest of a small step's database work."""

    def __init__(self, engine: Any, writer_lock: Any = None):
        # SQLite has one writer at a time. Threads of this process wait for their turn here, in
        # order, rather than in SQLite's busy handler, which sleeps and retries (1, 2, 5, 10 …
        # 100 ms) and so turns a few milliseconds of queueing into tens.
        self._lock = writer_lock
        if writer_lock is not None:
            writer_lock.acquire()
        try:
            held = held_connection_var.get()
            self._owned = held is None
            self.conn = engine.connect() if held is None else held
            try:
                self.conn.begin()
                self.rows = Rows(None, self.conn.connection.driver_connection, self.conn.dialect)
            except BaseException:
                self._end_connection()
                raise
        except BaseException:
            if writer_lock is not None:
                writer_lock.release()
            raise
        self._session: Session | None = None

    @property
    def has_session(self) -> bool:
        return self._session is not None

    def session(self) -> Session:
        if self._session is None:
            # Joins the connection's transaction; never commits or rolls it back itself.
            self._session = Session(bind=self.conn, expire_on_commit=False)
            self.rows.session = self._session
        return self._session

    def commit(self) -> None:
        """Commit, and give the writer's turn to the next thread; the connection stays open
        for reads (each its own transaction) until close()."""
        self.rows.flush_kpi()
        if self._session is not None:
            self._session.flush()
        self.conn.commit()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close(self) -> None:
        try:
            if self._session is not None:
                self._session.close()
        finally:
            try:
                self._end_connection()
            finally:
                self._release()

    def _end_connection(self) -> None:
        """Close our connection (which rolls back what was not committed), or leave a held one
        (see Runtime.held_connection) out of any transaction for the next step."""
        if self._owned:
            self.conn.close()
            return
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
            # Reads after the commit may have opened one below SQLAlchemy (psycopg).
            self.conn.connection.driver_connection.rollback()
        except Exception:  # noqa: BLE001 - a broken connection: SQLAlchemy reconnects it
            self.conn.invalidate()

    def __enter__(self) -> StepTransaction:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class FairLock:
    """A reentrant lock that hands itself to the waiters in the order they came (a plain
    Lock lets a thread that just released it take it again, so under load some writers wait
    far longer than their turn)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: collections.deque[threading.Lock] = collections.deque()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by the owner handing over
        with self._mutex:
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a lock not held")
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            if self._waiters:
                self._owner = -1  # reserved for the next in line until it runs
                self._waiters.popleft().release()


_WRITER_LOCKS: weakref.WeakKeyDictionary[Database, FairLock] = weakref.WeakKeyDictionary()
_WRITER_LOCKS_LOCK = threading.Lock()


def sqlite_writer_lock(db: Database) -> FairLock:
    """One lock per database for the steps of all runtimes of this process on it."""
    with _WRITER_LOCKS_LOCK:
        lock = _WRITER_LOCKS.get(db)
        if lock is None:
            lock = _WRITER_LOCKS[db] = FairLock()
        return lock


def absorb_orm_case(session: Session, case: CaseRecord) -> None:
    """A service helper may have changed the case row through the ORM in this step (e.g. the
    appointment time): take the version it wrote, so the step's own write follows it."""
    session.flush()
    versions = session.info.get(_ORM_CASE_VERSIONS)
    if versions and case.id in versions:
        case.version = versions.pop(case.id)
    if session.identity_map:
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Case) and obj.id == case.id:
                session.expire(obj)


_ORM_CASE_VERSIONS = "caseflow_case_versions"


@event.listens_for(Case, "after_update")
def _note_orm_case_version(_mapper: Any, _connection: Any, target: Case) -> None:
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_ORM_CASE_VERSIONS, {})[target.id] = target.version


class HelperSession:
    """What service helpers get as `stepcontext.current().session`: the step's Session, made
    on first use. Their first use of it inside an engine task opens that task's savepoint, so
    tasks that never touch the database (nearly all) cost no session and no savepoint."""

    __slots__ = ("_txn", "_guard")

    def __init__(self, txn: StepTransaction):
        self._txn = txn
        self._guard: Savepoints | None = None

    def __getattr__(self, name: str) -> Any:
        guard = self._guard
        if guard is not None:
            guard.touch()
        return getattr(self._txn.session(), name)


class Savepoints:
    """A savepoint per engine task that writes, so a failing task's writes can be undone
    alone. The savepoint is opened lazily: when a service helper first uses the session, or
    never. Writes the task itself makes (the completion of a user task, its event) are staged
    and written inside that savepoint, or after the task succeeded if it opened none; a task
    that fails without one leaves nothing to undo."""

    def __init__(self, txn: StepTransaction, helpers: HelperSession):
        self.txn = txn
        self.helpers = helpers
        self.open: Any = None
        self.in_task = False
        self.staged: list[Callable[[], None]] = []
        self.kpi_mark = 0

    def before(self, _task: Any = None) -> None:
        self.in_task = True
        self.helpers._guard = self

    def touch(self) -> None:
        if self.in_task and self.open is None:
            self.helpers._guard = None
            try:
                self.open = self.txn.session().begin_nested()
                self.kpi_mark = self.txn.rows.kpi_mark()
                self._write_staged()
            finally:
                self.helpers._guard = self

    def stage(self, write: Callable[[], None]) -> None:
        if self.open is not None:
            write()
        else:
            self.staged.append(write)

    def _write_staged(self) -> None:
        staged, self.staged = self.staged, []
        for write in staged:
            write()

    def after(self, _task: Any = None) -> None:
        self.helpers._guard = None
        self.in_task = False
        self._write_staged()
        if self.open is not None:
            self.open.commit()
            self.open = None

    def rollback(self) -> None:
        self.helpers._guard = None
        self.in_task = False
        self.staged = []
        if self.open is not None:
            self.open.rollback()
            self.txn.rows.kpi_undo(self.kpi_mark)
            self.open = None

    def close(self) -> None:
        self.helpers._guard = None

    def around(self, fn: Callable[[], Any]) -> Any:
        self.before()
        result = fn()
        self.after()
        return result


def engine_steps(workflow: BpmnWorkflow) -> Callable[[Savepoints], None]:
    def run(sp: Savepoints) -> None:
        def did_complete(task: Any) -> None:
            sp.after(task)
            spiff.note_outcome(task)  # an end event may declare how the case ended

        workflow.do_engine_steps(will_complete_task=sp.before, did_complete_task=did_complete)

    return run


def step_transaction(db: Database) -> StepTransaction:
    """A step transaction on `db` for code that has no Runtime (the retention purge): the same
    object, writer's turn and BEGIN IMMEDIATE as a runtime's steps."""
    engine = db.engine.execution_options(sqlite_begin="IMMEDIATE") if db.is_sqlite else db.engine
    return StepTransaction(engine, sqlite_writer_lock(db) if db.is_sqlite else None)


@contextmanager
def committed(
    begin: Callable[[], StepTransaction], conflict: Callable[[], str]
) -> Iterator[StepTransaction]:
    """Run the block in a step transaction and commit when it ends without an exception; a
    concurrent change found by a version check (StaleDataError) or a busy database becomes
    Conflict(conflict()), and nothing of the block is saved."""
    try:
        with begin() as txn:
            yield txn
            txn.commit()
    except StaleDataError as exc:
        raise Conflict(conflict()) from exc
    except OperationalError as exc:
        if "locked" in str(exc).lower():
            raise Conflict(conflict()) from exc
        raise


def write_step(db: Database, conflict: Callable[[], str]) -> Any:
    """committed() on a step transaction of `db` (see step_transaction)."""
    return committed(lambda: step_transaction(db), conflict)
