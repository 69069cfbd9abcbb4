"""The SQLite writer's turn across processes.

SQLite lets one transaction write at a time. A process that finds the database locked waits in
SQLite's busy handler, which sleeps and retries (1, 2, 5, 10, 15, 20, 25 … 100 ms): with two
web processes (gunicorn) or a web process and a `caseflow worker`, a step that could start 0.5 ms
later starts 10–50 ms later. So a write transaction (BEGIN IMMEDIATE) first takes an advisory
lock on a file next to the database (`<database>-writer`), released at its COMMIT or ROLLBACK;
a waiting process tries it again every `POLL` seconds. Threads of one process already queue in
order before that (engine.runtime.verbs's writer lock), so each process has one waiter at most.

After `WAIT` seconds without the lock the transaction goes on to BEGIN IMMEDIATE anyway,
where SQLite's own busy timeout decides: the file lock only makes waiting prompter; it never
replaces SQLite's locking, and a process that does not use it (the sqlite3 shell) stays safe.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

POLL = 0.0005
WAIT = 30.0
_KEY = "caseflow_writer_fd"
_HELD = "caseflow_writer_held"


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + "-writer")


def acquire(info: dict[str, Any], database: Path) -> None:
    """Take the writer's turn for the connection whose pool record keeps `info`."""
    if info.get(_HELD):
        return
    fd = info.get(_KEY)
    if fd is None:
        try:
            fd = os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return  # a read-only folder: SQLite's busy handler alone
        info[_KEY] = fd
    deadline = time.monotonic() + WAIT
    delay = POLL
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            info[_HELD] = True
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 0.002)


def release(info: dict[str, Any]) -> None:
    if info.pop(_HELD, False):
        fcntl.flock(info[_KEY], fcntl.LOCK_UN)


def close(info: dict[str, Any]) -> None:
    release(info)
    fd = info.pop(_KEY, None)
    if fd is not None:
        os.close(fd)
