"""The database: engine, sessions and SQLite settings (SQLAlchemy 2).

SQLite in WAL mode is the embedded default; `DATABASE_URL` switches to PostgreSQL. Write
transactions on SQLite start with BEGIN IMMEDIATE so that two writers queue instead of failing
late; on both databases the version counters detect a concurrent change to a case or task.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.store import writerlock
from engine.store.walcheckpoint import BACKSTOP_PAGES, Checkpointer

DEFAULT_DATABASE_URL = "sqlite:///caseflow.db"


def database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def _normalise_url(url: str) -> str:
    # Plain postgresql:// URLs would pick psycopg2, which we do not install.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """An engine with the session factories the runtime needs."""

    def __init__(self, url: str | None = None, echo: bool = False):
        self.url = _normalise_url(url or database_url())
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(self.url, **kwargs)
        self.checkpointer: Checkpointer | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine, sqlite_path(self.url))
            path = sqlite_path(self.url)
            if path is not None:
                self.checkpointer = checkpointer = Checkpointer(path)
                event.listen(self.engine, "commit", lambda _conn: checkpointer.touch())
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        write_bind = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._write = sessionmaker(write_bind, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for one step; the caller commits. Rolled back on any exception."""
        with self._write() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


def _configure_sqlite(engine: Engine, path: Path | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Checkpoints run beside the steps (engine/walcheckpoint.py); this is the backstop.
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE" and path is not None:
            writerlock.acquire(connection.info, path)
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            writerlock.release(connection.info)
            raise

    if path is None:
        return

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        writerlock.release(connection.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        writerlock.release(record.info)  # never kept by an idle connection

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection: Any, record: Any) -> None:
        writerlock.close(record.info)


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    return Path(url[len("sqlite:///") :])
