"""Backup and restore of the embedded SQLite database, safe while the app and the worker run.

`backup` copies the live database with SQLite's online backup API (`sqlite3.Connection.backup`)
in one step: it reads one consistent snapshot (in WAL mode writers go on meanwhile), writes it
to a temporary file beside the target, checks it (`PRAGMA integrity_check`, the Alembic
revision), switches it to a single self-contained file (no -wal) and renames it into place. A
plain file copy of a database in WAL mode can miss committed transactions or catch a half-written
page; this cannot.

`restore` checks the file is a Caseflow database (an `alembic_version` table with a revision
this Caseflow knows, and an intact file), refuses to overwrite an existing database unless
forced, and then — forced — first keeps a backup of the current database beside it
(`<name>.before-restore-<UTC time>`) and copies the backup in through the same API, under the
database's write lock: connections of a running app see the restored content at their next
transaction instead of a file swapped under them. Restarting the app afterwards is still wise
(in-memory caches, a worker that leased timers in the replaced database).

PostgreSQL is backed up with its own tools (pg_dump / pg_restore; see the README).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.core.errors import CaseflowError
from engine.store.database import _normalise_url, database_url, sqlite_path

ALEMBIC_TABLE = "alembic_version"
PG_HINT = (
    "this is a PostgreSQL database: back it up with pg_dump and restore it with pg_restore "
    "(see the README, 'Backups'); `caseflow backup` and `restore` handle the SQLite file"
)


class BackupError(CaseflowError):
    code = "backup_failed"


def _stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def _sqlite_file(db_url: str | None) -> Path:
    url = _normalise_url(db_url or database_url())
    path = sqlite_path(url)
    if path is None:
        if url.startswith("postgresql"):
            raise BackupError(PG_HINT)
        raise BackupError(f"cannot back up {url.split('://', 1)[0]} databases, only SQLite files")
    if str(path) in ("", ":memory:"):
        raise BackupError("an in-memory database cannot be backed up")
    return path


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def known_revisions() -> dict[str, bool]:
    """Alembic revisions of this Caseflow → whether the revision is the newest (head)."""
    from alembic.script import ScriptDirectory

    from engine.store.migrate import MIGRATIONS

    script = ScriptDirectory(str(MIGRATIONS))
    heads = set(script.get_heads())
    return {rev.revision: rev.revision in heads for rev in script.walk_revisions()}


def check_file(path: str | Path) -> dict[str, Any]:
    """What a file holds: raises BackupError unless it is an intact Caseflow database.
    Returns its revision, whether that is the newest, and how many cases it holds."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    with path.open("rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{path} is not a SQLite database (so not a Caseflow backup)")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if ALEMBIC_TABLE not in tables or "case" not in tables:
            raise BackupError(
                f"{path} is a SQLite database but not a Caseflow one (no {ALEMBIC_TABLE} table)"
            )
        rows = conn.execute(f"SELECT version_num FROM {ALEMBIC_TABLE}").fetchall()
        if len(rows) != 1:
            raise BackupError(f"{path}: {ALEMBIC_TABLE} holds {len(rows)} revisions, not one")
        revision = rows[0][0]
        known = known_revisions()
        if revision not in known:
            raise BackupError(
                f"{path} has schema revision {revision!r}, which this Caseflow does not know "
                "(made by a newer version?)"
            )
        check = conn.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            raise BackupError(f"{path} is damaged: {'; '.join(str(r[0]) for r in check[:5])}")
        cases = conn.execute('SELECT count(*) FROM "case"').fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a database: {exc}") from exc
    finally:
        conn.close()
    return {
        "path": str(path),
        "revision": revision,
        "up_to_date": known[revision],
        "cases": cases,
        "bytes": path.stat().st_size,
    }


def backup(db_url: str | None, path: str | Path, now: datetime | None = None) -> dict[str, Any]:
    """Copy the SQLite database of `db_url` to `path` (a file, or a folder for a timestamped
    file in it) while the app may be writing. Returns what `check_file` says of the copy."""
    source = _sqlite_file(db_url)
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    _require_caseflow(source)
    target = Path(path)
    if target.is_dir():
        target = target / f"caseflow-{_stamp(now)}.db"
    if target.resolve() == source.resolve():
        raise BackupError("the backup file cannot be the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    src = _connect(source)
    try:
        dst = sqlite3.connect(str(partial), isolation_level=None)
        try:
            src.backup(dst)  # one step: one consistent snapshot of the source
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} failed: {exc}") from exc
    finally:
        src.close()
    try:
        info = check_file(partial)
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, target)
    return {
        **info,
        "path": str(target),
        "source": str(source),
        "at": (now or datetime.now(UTC)).isoformat(),
    }


def _require_caseflow(source: Path) -> None:
    """The database to back up must be a Caseflow database (a wrong DATABASE_URL shows here)."""
    conn = _connect(source)
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (ALEMBIC_TABLE,)
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} cannot be read as a database: {exc}") from exc
    finally:
        conn.close()
    if found is None:
        raise BackupError(f"{source} is not a Caseflow database (no {ALEMBIC_TABLE} table)")


def restore(
    path: str | Path, db_url: str | None, force: bool = False, now: datetime | None = None
) -> dict[str, Any]:
    """Put the backup `path` in place of the SQLite database of `db_url`. An existing
    database is only overwritten with `force`, after a safety backup of it."""
    target = _sqlite_file(db_url)
    info = check_file(path)
    if Path(path).resolve() == target.resolve():
        raise BackupError("the backup file is the database itself")
    safety = None
    exists = target.is_file() and target.stat().st_size > 0
    if exists:
        in_use = Path(f"{target}-wal").exists()
        if not force:
            raise BackupError(
                f"{target} already holds a database"
                + (" that is in use (the app or the worker has it open)" if in_use else "")
                + "; nothing was restored. Stop the app and the worker and restore with "
                "--force (the current database is kept as a backup beside it)"
            )
        try:
            _require_caseflow(target)
        except BackupError as exc:
            raise BackupError(
                f"{exc}; nothing was restored (remove that file yourself if it is to go)"
            ) from exc
        safety = target.with_name(f"{target.name}.before-restore-{_stamp(now)}")
        try:
            backup(f"sqlite:///{target}", safety, now)
        except BackupError:
            # Damaged beyond a clean copy (which may be why it is restored): keep the raw files.
            for suffix in ("", "-wal"):
                if Path(f"{target}{suffix}").exists():
                    shutil.copy2(f"{target}{suffix}", f"{safety}{suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=30)
    try:
        dst = _connect(target)
        try:
            src.backup(dst)  # under the target's write lock; readers see old or new, whole
            check = dst.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise BackupError(f"{target} failed its check after the restore: {check[:3]}")
            if not exists:
                dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"restore into {target} failed: {exc}") from exc
    finally:
        src.close()
    return {
        **info,
        "path": str(path),
        "database": str(target),
        "previous_saved_as": str(safety) if safety else None,
        "needs_upgrade": not info["up_to_date"],
    }
