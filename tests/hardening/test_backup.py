"""Backup: `caseflow backup FILE` and `caseflow restore FILE` for SQLite, with the online
backup API, safe while the app writes; restore refuses what is not a Caseflow database and
will not overwrite a database without --force. PostgreSQL is pointed to pg_dump.

These tests use their own SQLite file even on the PostgreSQL pass (the feature is SQLite's)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.core.errors import NotFound
from engine.identity.users import add_user
from engine.runtime.verbs import Runtime
from engine.store.backup import BackupError, backup, check_file, restore
from engine.store.database import Database
from engine.store.tables import Case, Event, Task
from tests.hardening.helpers import HARDENING_FIXTURES, HERE, require_wiring

REPO = HERE.parent.parent
BACKUPS = 5


@pytest.fixture
def sqlite_app(template_db, tmp_path, settings, clock):
    """A runtime on its own SQLite file (whatever CASEFLOW_TEST_DB says)."""
    path = tmp_path / "live.db"
    shutil.copy(template_db, path)
    db = Database(f"sqlite:///{path}")
    add_user(db, settings, "alice", ["service_desk"], clock.now())
    runtime = Runtime(db, settings, clock)
    runtime.deploy([HARDENING_FIXTURES / "tiny_task.bpmn"])
    yield runtime
    db.dispose()


def consistent(path: Path, settings, clock) -> int:
    """Every case in the copy is whole: a completed case has its completion, its done task and
    its end; a running one none of them. Returns the number of cases."""
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as session:
            cases = dict(session.execute(select(Case.id, Case.status)).all())
            tasks = dict(session.execute(select(Task.case_id, Task.status)).all())
            events: dict[int, list[str]] = {}
            for case_id, kind in session.execute(select(Event.case_id, Event.kind)):
                events.setdefault(case_id, []).append(kind)
        for case_id, status in cases.items():
            kinds = events[case_id]
            if status == "completed":
                assert tasks[case_id] == "done", case_id
                assert kinds.count("task_completed") == kinds.count("case_completed") == 1
            else:
                assert status == "running" and tasks[case_id] == "open", case_id
                assert "task_completed" not in kinds and "case_completed" not in kinds
        if cases:  # and the engine can work with the copy
            runtime = Runtime(db, settings, clock)
            with db.read() as session:
                number = session.scalar(select(Case.number).order_by(Case.id.desc()).limit(1))
            runtime.get_case(number)
        return len(cases)
    finally:
        db.dispose()


def test_backup_while_the_app_writes(sqlite_app, tmp_path, settings, clock, figure):
    runtime = sqlite_app
    stop = threading.Event()
    steps: list[str] = []
    failures: list[BaseException] = []

    def app_at_work() -> None:  # starts cases and completes half of them, as fast as it can
        try:
            while not stop.is_set():
                number = runtime.start_case("tiny_task").number
                if len(steps) % 2 == 0:
                    task = runtime.list_tasks(case=number)[0]
                    runtime.complete_task(task.id, {"confirmed": True}, "alice")
                steps.append(number)
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    writer = threading.Thread(target=app_at_work, name="app")
    writer.start()
    copies = []
    took = []
    try:
        for i in range(BACKUPS):
            time.sleep(0.15)
            started = time.perf_counter()
            info = backup(runtime.db.url, tmp_path / f"copy-{i}.db")
            took.append(time.perf_counter() - started)
            copies.append(info)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not failures, failures
    counts = []
    for info in copies:
        path = Path(info["path"])
        assert not Path(f"{path}-wal").exists()  # one self-contained file
        assert check_file(path)["cases"] == info["cases"]
        counts.append(consistent(path, settings, clock))
    assert counts == sorted(counts) and counts[-1] > counts[0] > 0  # snapshots along the way
    assert counts[-1] <= len(steps) + 1
    figure(
        f"backup: {BACKUPS} online backups while the app wrote {len(steps)} cases "
        f"(0 failed steps); each copy consistent ({counts[0]}..{counts[-1]} cases), "
        f"{max(took) * 1000:.0f} ms at most per backup"
    )


def test_backup_to_a_folder_and_restore_into_a_new_file(sqlite_app, tmp_path, settings, clock):
    runtime = sqlite_app
    number = runtime.start_case("tiny_task").number
    folder = tmp_path / "backups"
    folder.mkdir()
    info = backup(runtime.db.url, folder)
    assert Path(info["path"]).parent == folder and info["path"].endswith(".db")
    assert info["up_to_date"] and info["cases"] == 1
    target = tmp_path / "elsewhere" / "caseflow.db"
    result = restore(info["path"], f"sqlite:///{target}")
    assert result["previous_saved_as"] is None and not result["needs_upgrade"]
    db = Database(f"sqlite:///{target}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert Runtime(db, settings, clock).get_case(number).status == "running"
    finally:
        db.dispose()


def test_restore_will_not_overwrite_a_database_without_force(sqlite_app, tmp_path, figure):
    runtime = sqlite_app
    kept = runtime.start_case("tiny_task").number
    saved = backup(runtime.db.url, tmp_path / "saved.db")
    lost = runtime.start_case("tiny_task").number  # after the backup
    live = Path(runtime.db.url.split("///", 1)[1])

    with pytest.raises(BackupError, match="already holds a database that is in use"):
        restore(saved["path"], runtime.db.url)
    assert runtime.get_case(lost).status == "running"  # untouched

    # Forced, while the app still holds its connections: it keeps working on the restored data.
    result = restore(saved["path"], runtime.db.url, force=True)
    previous = Path(result["previous_saved_as"])
    assert previous.parent == live.parent and previous.name.startswith("live.db.before-restore-")
    assert check_file(previous)["cases"] == 2  # what was there is kept
    assert runtime.get_case(kept).status == "running"
    with pytest.raises(NotFound):
        runtime.get_case(lost)
    again = runtime.start_case("tiny_task")
    assert again.number == lost  # the case counter came back with the data
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 2
    figure(
        "backup: restore refused over a database in use without --force; forced, it kept the "
        "old database beside it and the running app went on with the restored data"
    )


def test_restore_refuses_what_is_not_a_caseflow_database(sqlite_app, tmp_path):
    runtime = sqlite_app
    number = runtime.start_case("tiny_task").number
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    future = tmp_path / "future.db"
    backup(runtime.db.url, future)
    with sqlite3.connect(future) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    cases = [
        (junk, "not a SQLite database"),
        (other, "not a Caseflow one"),
        (future, "does not know"),
        (tmp_path / "missing.db", "does not exist"),
    ]
    for path, message in cases:
        with pytest.raises(BackupError, match=message):
            restore(path, runtime.db.url, force=True)
    assert runtime.get_case(number).status == "running"
    # Nor does a backup overwrite, or come from, something that is not ours.
    with pytest.raises(BackupError, match="not a Caseflow database"):
        backup(f"sqlite:///{other}", tmp_path / "x.db")
    good = backup(runtime.db.url, tmp_path / "good.db")["path"]
    with pytest.raises(BackupError, match="not a Caseflow database"):
        restore(good, f"sqlite:///{other}", force=True)  # forced or not, not over a stranger
    with pytest.raises(BackupError, match="no database"):
        backup(f"sqlite:///{tmp_path / 'nothing.db'}", tmp_path / "y.db")


def test_postgresql_is_backed_up_with_its_own_tools(tmp_path):
    for call in (
        lambda: backup("postgresql://caseflow@db/caseflow", tmp_path / "x.db"),
        lambda: restore(tmp_path / "x.db", "postgresql+psycopg://caseflow@db/caseflow"),
    ):
        with pytest.raises(BackupError, match="pg_dump"):
            call()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    require_wiring("the README's PostgreSQL backup section", "pg_dump" in readme)
    assert "pg_restore" in readme and "caseflow backup" in readme


def test_backup_and_restore_commands(sqlite_app, tmp_path, settings):
    from caseflow.cli import main

    require_wiring("caseflow backup / restore", {"backup", "restore"} <= set(main.commands))
    runtime = sqlite_app
    number = runtime.start_case("tiny_task").number
    env = {"DATABASE_URL": runtime.db.url, "CASEFLOW_SETTINGS": str(settings.path)}
    run = CliRunner().invoke
    result = run(main, ["backup", str(tmp_path / "b.db"), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cases"] == 1
    runtime.start_case("tiny_task")
    result = run(main, ["restore", str(tmp_path / "b.db")], env=env)
    assert result.exit_code == 1 and "--force" in result.output
    result = run(main, ["restore", str(tmp_path / "b.db"), "--force", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["previous_saved_as"]
    with runtime.db.read() as session:
        assert session.scalars(select(Case.number)).all() == [number]
