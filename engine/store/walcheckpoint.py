"""SQLite checkpoints off the step's path.

In WAL mode SQLite copies the write-ahead log back into the database file (a checkpoint, with
an fsync) inside whichever commit makes the log pass `wal_autocheckpoint` pages. With the
default of 1,000 pages that was every ~50th step here, and that commit took 13–16 ms instead of
0.15 ms: two thirds of all commit time went into those few commits (measured on the 5-step
benchmark case: 358 ms of commits for 300 cases, 242 ms of them in the slowest 2%).

So a database keeps a checkpointer thread: after a commit it runs a PASSIVE checkpoint within
`INTERVAL` seconds on a connection of its own. PASSIVE never waits for or blocks readers and
writers (SQLite lets a checkpoint run beside them); SQLite's own automatic checkpoint stays on
with a higher threshold (`BACKSTOP_PAGES`) as the backstop, so the log stays bounded in a
process whose thread is not running.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL = 0.2  # seconds between a commit and its checkpoint at most
BACKSTOP_PAGES = 8000  # SQLite's own automatic checkpoint (32 MB of log at 4 KB pages)


class Checkpointer:
    """One per Database on a SQLite file; `touch()` after a commit, `stop()` on dispose."""

    def __init__(self, path: Path):
        self.path = path
        self.checkpoints = 0
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Held while the thread is inside SQLite: a fork waits for it (see _before_fork), so a
        # child never starts with one of SQLite's locks taken by a thread it does not have.
        self._working = threading.Lock()
        _ALL.add(self)

    def touch(self) -> None:
        self._dirty.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="sqlite-checkpoint", daemon=True
                    )
                    self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.wait(INTERVAL):
                return
            self._dirty.clear()
            self.checkpoint()

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint on a fresh connection (a file replaced by a restore is seen
        as it is now; mode=rw never creates a file that was removed)."""
        with self._working:
            try:
                conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=0.5)
            except sqlite3.Error:
                return  # the file is gone (a test's folder, a moved database)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except sqlite3.Error as exc:  # busy with another checkpoint: the next catches up
                log.debug("checkpoint of %s skipped: %s", self.path, exc)
            finally:
                conn.close()

    def _after_fork_in_child(self) -> None:
        """The child has no checkpointer thread: the next commit there starts its own."""
        self._working = threading.Lock()
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._thread = None


_ALL: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


def _before_fork() -> None:
    for checkpointer in list(_ALL):
        checkpointer._working.acquire()


def _resume_after_fork() -> None:
    for checkpointer in list(_ALL):
        if checkpointer._working.locked():
            checkpointer._working.release()


def _after_fork_in_child() -> None:
    for checkpointer in list(_ALL):
        checkpointer._after_fork_in_child()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_resume_after_fork,
    after_in_child=_after_fork_in_child,
)
