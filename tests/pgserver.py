"""A throw-away PostgreSQL server for the test session.

Usage (e.g. from a session fixture in tests/conftest.py)::

    from tests import pgserver

    server = pgserver.start_or_none()
    if server is None:
        pytest.skip(f"PostgreSQL unavailable: {pgserver.UNAVAILABLE_REASON}")
    url = server.create_database("caseflow_test")  # SQLAlchemy URL
    ...
    server.stop()

The server lives in a fresh directory under /tmp (data directory, unix socket and
log), listens on a free TCP port on 127.0.0.1 only, trusts every local connection
and runs with durability switched off (fsync, synchronous_commit, full_page_writes),
which is fine for data that is thrown away.

initdb and postgres refuse to run as root. When this process is root, both run as
the ``postgres`` system user (created by Debian's postgresql package) through
``runuser -u USER --``; if that user does not exist, a system user ``caseflowpg``
is created with ``useradd --system``. The temporary directory is then chowned to
that user (mode 0700).

If the environment variable ``CASEFLOW_TEST_PG_URL`` is set (a SQLAlchemy URL such
as ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), no server is started:
that server is used instead and ``stop()`` leaves it alone.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
EXTERNAL_URL_ENV = "CASEFLOW_TEST_PG_URL"
FALLBACK_USER = "caseflowpg"
SUPERUSER = "postgres"
# Users to run initdb/postgres as when we are root, first existing one wins; the
# last one is created when none exists.
RUN_AS_CANDIDATES = ("postgres", FALLBACK_USER)

# Why start_or_none() returned None the last time it did (None after a success).
UNAVAILABLE_REASON: str | None = None

SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "max_locks_per_transaction": "256",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %d '",
}

_DB_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PgUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (no binaries, failed startup...)."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in path.parent.name.split("."))


def find_pg_bin() -> Path | None:
    """The highest-version /usr/lib/postgresql/*/bin that has initdb and pg_ctl."""
    candidates = [
        d
        for d in PG_ROOT.glob("*/bin")
        if all(os.access(d / exe, os.X_OK) for exe in ("initdb", "pg_ctl", "postgres"))
    ]
    if not candidates:
        return None
    return max(candidates, key=_version_key)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _ensure_run_user() -> str:
    """The unprivileged user to run initdb/postgres as when we are root."""
    for name in RUN_AS_CANDIDATES:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            RUN_AS_CANDIDATES[-1],
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 9):  # 9: user already exists (race with another process)
        raise PgUnavailable(f"useradd {RUN_AS_CANDIDATES[-1]} failed: {proc.stderr.strip()}")
    return RUN_AS_CANDIDATES[-1]


def _clean_env() -> dict[str, str]:
    """Our environment without PG* variables that could redirect initdb/pg_ctl."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


class PgServer:
    """One PostgreSQL server in a temporary directory (or an external one, see module doc)."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.url: str | None = None
        self.tmpdir: Path | None = None
        self.run_as: str | None = None
        self.external = False
        self.startup_seconds: float | None = None
        self.version: str | None = None

    # -- paths ---------------------------------------------------------------------------

    @property
    def datadir(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "postgres.log"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> PgServer:
        """Start the server (or attach to CASEFLOW_TEST_PG_URL); raises PgUnavailable."""
        if self.url is not None:
            return self
        t0 = time.monotonic()
        external = os.environ.get(EXTERNAL_URL_ENV, "").strip()
        if external:
            self._attach_external(external)
        else:
            try:
                self._start_local()
            except BaseException:
                self.stop()
                raise
        self.startup_seconds = time.monotonic() - t0
        where = "external" if self.external else f"started {self.version} in {self.tmpdir}"
        print(
            f"pgserver: PostgreSQL at {self.host}:{self.port} ({where}) "
            f"ready in {self.startup_seconds:.2f} s",
            file=sys.stderr,
        )
        return self

    def stop(self) -> None:
        """Stop the server and remove its directory. Idempotent; no-op for an external server."""
        atexit.unregister(self.stop)
        if self.external:
            self.url = None
            return
        if self.tmpdir is None:
            return
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._stop_postgres()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
            self.url = None

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases -----------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """Create (or re-create, empty) database ``name``; return its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        if self.url is None:
            raise RuntimeError("server not started")
        if not _DB_NAME_RE.match(name):
            raise ValueError(f"bad database name: {name!r}")
        with psycopg.connect(**self.connect_kwargs(), autocommit=True) as conn:
            ident = sql.Identifier(name)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        return self.database_url(name)

    def database_url(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        assert self.url is not None
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def connect_kwargs(self, database: str | None = None) -> dict[str, object]:
        """Keyword arguments for psycopg.connect() to this server."""
        from sqlalchemy.engine import make_url

        assert self.url is not None
        u = make_url(self.url)
        kw: dict[str, object] = {
            "host": u.host or self.host,
            "port": u.port or 5432,
            "user": u.username or SUPERUSER,
            "dbname": database or u.database or "postgres",
            "connect_timeout": 5,
        }
        if u.password:
            kw["password"] = u.password
        return kw

    # -- internals -----------------------------------------------------------------------

    def _attach_external(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        self.external = True
        self.url = u.render_as_string(hide_password=False)
        self.host = u.host or "127.0.0.1"
        self.port = u.port or 5432
        self.version = "external"
        try:
            self._wait_ready(timeout=10)
        except PgUnavailable:
            self.url = None
            raise

    def _cmd(self, *argv: str | os.PathLike[str]) -> list[str]:
        args = [os.fspath(a) for a in argv]
        if self.run_as:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            return [runuser, "-u", self.run_as, "--", *args]
        return args

    def _run(self, *argv: str | os.PathLike[str], timeout: float = 60) -> str:
        proc = subprocess.run(
            self._cmd(*argv),
            capture_output=True,
            text=True,
            cwd=self.tmpdir,
            env=_clean_env(),
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise PgUnavailable(
                f"{Path(os.fspath(argv[0])).name} failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
            )
        return proc.stdout

    def _start_local(self) -> None:
        bin_dir = self.bin_dir or find_pg_bin()
        if bin_dir is None:
            raise PgUnavailable(
                f"no PostgreSQL server binaries (initdb, pg_ctl) under {PG_ROOT}/*/bin; "
                "run scripts/ensure-test-deps.sh (as root) to install the postgresql package"
            )
        self.bin_dir = bin_dir
        self.version = f"PostgreSQL {bin_dir.parent.name}"

        if os.geteuid() == 0:
            self.run_as = _ensure_run_user()
        # /tmp explicitly (not $TMPDIR): it must be reachable by the run-as user.
        self.tmpdir = Path(tempfile.mkdtemp(prefix="caseflow-pg-", dir="/tmp"))
        atexit.register(self.stop)
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.tmpdir, 0o700)

        self._run(
            bin_dir / "initdb",
            "-D",
            self.datadir,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-U",
            SUPERUSER,
            "--no-sync",
            "--no-instructions",
        )

        last_error: Exception | None = None
        for _attempt in range(3):  # a free port may be taken before postgres binds it
            self.port = _free_port()
            self._write_config()
            try:
                self._pg_ctl_start()
                break
            except PgUnavailable as exc:
                last_error = exc
                if "already in use" not in str(exc):
                    raise
        else:
            assert last_error is not None
            raise last_error

        self.url = f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/postgres"
        self._wait_ready(timeout=10)

    def _write_config(self) -> None:
        settings = dict(SERVER_SETTINGS)
        settings["port"] = str(self.port)
        settings["unix_socket_directories"] = f"'{self.tmpdir}'"
        # postgresql.auto.conf is read last and overrides postgresql.conf; rewritten on
        # each attempt. Written as root it stays readable (0644) by the run-as user.
        auto = self.datadir / "postgresql.auto.conf"
        auto.write_text(
            "# written by tests/pgserver.py\n"
            + "".join(f"{k} = {v}\n" for k, v in settings.items())
        )
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            os.chown(auto, pw.pw_uid, pw.pw_gid)

    def _pg_ctl_start(self) -> None:
        assert self.bin_dir is not None
        try:
            self._run(
                self.bin_dir / "pg_ctl",
                "start",
                "-D",
                self.datadir,
                "-l",
                self.logfile,
                "-w",
                "-t",
                "30",
                timeout=45,
            )
        except PgUnavailable as exc:
            raise PgUnavailable(f"{exc}\n--- server log ---\n{self._log_tail()}") from None

    def _stop_postgres(self) -> None:
        assert self.bin_dir is not None
        try:
            self._run(
                self.bin_dir / "pg_ctl",
                "stop",
                "-D",
                self.datadir,
                "-m",
                "immediate",
                "-w",
                timeout=30,
            )
        except (PgUnavailable, subprocess.TimeoutExpired):
            # Last resort: kill the postmaster named in postmaster.pid, if it is one.
            try:
                pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
                if b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(**self.connect_kwargs()) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PgUnavailable(
                        f"PostgreSQL at {self.host}:{self.port} not accepting connections: {exc}"
                    ) from None
                time.sleep(0.1)

    def _log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def start_or_none() -> PgServer | None:
    """Start a server; None if impossible, with the reason in UNAVAILABLE_REASON."""
    global UNAVAILABLE_REASON
    try:
        server = PgServer().start()
    except (PgUnavailable, OSError, subprocess.SubprocessError) as exc:
        UNAVAILABLE_REASON = str(exc)
        return None
    UNAVAILABLE_REASON = None
    return server
