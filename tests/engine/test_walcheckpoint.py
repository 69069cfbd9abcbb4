"""SQLite checkpoints run on the database's own thread, not inside a step's commit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.store.database import Database
from engine.store.walcheckpoint import BACKSTOP_PAGES, Checkpointer


@pytest.fixture
def sqlite_db(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)"))
    yield db
    db.dispose()


def _wal_frames(path: Path) -> tuple[int, int]:
    """(frames in the log, frames already copied into the database)."""
    conn = sqlite3.connect(path)
    try:
        _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return frames, copied
    finally:
        conn.close()


def test_step_connections_leave_checkpoints_to_the_thread(sqlite_db):
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
    checkpointer = sqlite_db.checkpointer
    assert checkpointer is not None and checkpointer.checkpoints == 0
    with sqlite_db.write() as session:
        session.execute(text("INSERT INTO t (s) VALUES ('x')"))
        session.commit()
    deadline = time.monotonic() + 10
    while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.checkpoints >= 1  # a commit brought a checkpoint within its interval


def test_a_checkpoint_copies_the_log_into_the_database(sqlite_db, tmp_path):
    sqlite_db.checkpointer.stop()  # only the explicit call below
    with sqlite_db.write() as session:
        for n in range(200):
            session.execute(text("INSERT INTO t (s) VALUES (:s)"), {"s": "x" * 500 + str(n)})
        session.commit()
    Checkpointer(tmp_path / "c.db").checkpoint()
    frames, copied = _wal_frames(tmp_path / "c.db")
    assert frames > 0 and copied == frames


def test_dispose_stops_the_thread(sqlite_db):
    with sqlite_db.write() as session:
        session.execute(text("INSERT INTO t (s) VALUES ('x')"))
        session.commit()
    thread = sqlite_db.checkpointer._thread
    assert thread is not None and thread.is_alive()
    sqlite_db.dispose()
    assert not thread.is_alive()


def test_a_removed_database_is_not_created_again(tmp_path):
    missing = tmp_path / "gone.db"
    Checkpointer(missing).checkpoint()
    assert not missing.exists()


def test_a_forked_child_starts_clean_and_writes(sqlite_db, tmp_path):
    """A process that forks (the crash tests' zygote) while the thread checkpoints: the fork
    waits for the checkpoint, and the child writes and checkpoints on its own."""
    import os

    for n in range(20):
        with sqlite_db.write() as session:  # keeps the parent's thread busy
            session.execute(text("INSERT INTO t (s) VALUES (:s)"), {"s": "p" * 300})
            session.commit()
        sqlite_db.engine.dispose()  # no connection may be shared with a child
        pid = os.fork()
        if pid == 0:  # the child: a short life, then exit without pytest's cleanup
            code = 1
            try:
                assert sqlite_db.checkpointer._thread is None
                with sqlite_db.write() as session:
                    session.execute(text("INSERT INTO t (s) VALUES (:s)"), {"s": f"c{n}"})
                    session.commit()
                sqlite_db.checkpointer.checkpoint()
                code = 0
            finally:
                os._exit(code)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            assert time.monotonic() < deadline, "a forked child hung"
            time.sleep(0.01)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    with sqlite_db.read() as session:
        assert session.execute(text("SELECT count(*) FROM t WHERE s LIKE 'c%'")).scalar() == 20
