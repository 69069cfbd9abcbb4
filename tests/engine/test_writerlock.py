"""The SQLite writer's turn across processes: a file lock held from BEGIN IMMEDIATE to COMMIT or
ROLLBACK, never by an idle connection, and never more than a prompter way of waiting."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.store import writerlock
from engine.store.database import Database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqlite_db(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.write() as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
        session.commit()
    yield db
    db.dispose()


def _free(tmp_path: Path) -> bool:
    """Could another process take the writer's turn now?"""
    fd = os.open(writerlock.lock_path(tmp_path / "w.db"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_held_from_begin_to_commit(sqlite_db, tmp_path):
    assert _free(tmp_path)
    with sqlite_db.write() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert not _free(tmp_path)
        session.commit()
        assert _free(tmp_path)
    with sqlite_db.read() as session:  # reads never take it
        session.execute(text("SELECT count(*) FROM t")).scalar()
        assert _free(tmp_path)


def test_released_by_rollback_and_by_an_abandoned_transaction(sqlite_db, tmp_path):
    with pytest.raises(RuntimeError), sqlite_db.write() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("a failing step")
    assert _free(tmp_path)
    conn = sqlite_db.engine.execution_options(sqlite_begin="IMMEDIATE").connect()
    conn.begin()
    conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    assert not _free(tmp_path)
    conn.close()  # neither commit nor rollback: closing rolls back
    assert _free(tmp_path)
    with sqlite_db.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_a_second_process_waits_for_the_turn_and_both_writes_land(sqlite_db, tmp_path):
    script = textwrap.dedent(
        """
        import fcntl, os, sys
        from sqlalchemy import text
        from engine.store import writerlock
        from engine.store.database import Database
        db = Database(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()
        fd = os.open(writerlock.lock_path(db.checkpointer.path), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            print("free", flush=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            print("held", flush=True)  # the turn is the other process's: wait for it below
        os.close(fd)
        with db.write() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
            session.commit()
        print("done", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, f"sqlite:///{tmp_path / 'w.db'}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        with sqlite_db.write() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            proc.stdin.write("go\n")
            proc.stdin.flush()
            # The other process saw the turn taken and now waits for it (its write cannot have
            # happened: our transaction still sees only its own row).
            assert proc.stdout.readline().strip() == "held"
            assert session.execute(text("SELECT group_concat(n) FROM t")).scalar() == "1"
            session.commit()
        assert proc.stdout.readline().strip() == "done"
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    with sqlite_db.read() as session:
        assert session.execute(text("SELECT group_concat(n) FROM t ORDER BY n")).scalar() in (
            "1,2",
            "2,1",
        )


def test_a_lock_nobody_releases_only_delays_the_write(sqlite_db, tmp_path, monkeypatch):
    monkeypatch.setattr(writerlock, "WAIT", 0.05)
    fd = os.open(writerlock.lock_path(tmp_path / "w.db"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # e.g. a process stopped in a debugger
    try:
        with sqlite_db.write() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            session.commit()
    finally:
        os.close(fd)
    with sqlite_db.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1
