"""Tests of the test infrastructure: tests/pgserver.py and tests/ci_guard.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests` importable however pytest was started
    sys.path.insert(0, str(ROOT))

from tests import pgserver  # noqa: E402
from tests.pgserver import _port_open  # noqa: E402


@pytest.mark.postgres
def test_server_lifecycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pgserver.EXTERNAL_URL_ENV, raising=False)  # test the local server
    t0 = time.monotonic()
    server = pgserver.start_or_none()
    if server is None:
        pytest.skip(f"PostgreSQL unavailable: {pgserver.UNAVAILABLE_REASON}")
    print(f"server start: {time.monotonic() - t0:.2f} s")
    try:
        assert server.port is not None and server.tmpdir is not None
        tmpdir, port = server.tmpdir, server.port
        assert server.url == f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        assert _port_open(port)
        if os.geteuid() == 0:
            assert server.run_as in pgserver.RUN_AS_CANDIDATES
            assert tmpdir.stat().st_mode & 0o777 == 0o700

        url = server.create_database("pgserver_selftest")
        assert url.endswith(f"127.0.0.1:{port}/pgserver_selftest")
        _check_queries(url)
        # Creating it again gives a fresh, empty database.
        assert server.create_database("pgserver_selftest") == url
        _check_empty(url)
        _check_external_url(monkeypatch, server)
    finally:
        t1 = time.monotonic()
        server.stop()
        print(f"server stop: {time.monotonic() - t1:.2f} s")
    assert not _port_open(port)
    assert not tmpdir.exists()
    assert server.url is None
    server.stop()  # idempotent


def _check_queries(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
            conn.execute(text("create table jobs (id int primary key, state text not null)"))
            conn.execute(text("insert into jobs values (1, 'ready'), (2, 'ready'), (3, 'done')"))
        claim = text(
            "select id from jobs where state = 'ready' order by id limit 1 for update skip locked"
        )
        # Two workers each claim a different ready job while both transactions are open.
        with engine.connect() as first, engine.connect() as second:
            assert first.execute(claim).scalar_one() == 1
            assert second.execute(claim).scalar_one() == 2
            with engine.connect() as third:
                assert third.execute(claim).scalar_one_or_none() is None
            first.execute(text("update jobs set state = 'done' where id = 1"))
            first.commit()
            second.rollback()
        with engine.connect() as conn:
            assert conn.execute(claim).scalar_one() == 2
    finally:
        engine.dispose()


def _check_empty(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select to_regclass('jobs')")).scalar_one() is None
    finally:
        engine.dispose()


def _check_external_url(monkeypatch: pytest.MonkeyPatch, server: pgserver.PgServer) -> None:
    """CASEFLOW_TEST_PG_URL: use that server, start none, and leave it running on stop()."""
    assert server.url is not None
    monkeypatch.setenv(pgserver.EXTERNAL_URL_ENV, server.url.replace("+psycopg", ""))
    external = pgserver.start_or_none()
    assert external is not None, pgserver.UNAVAILABLE_REASON
    assert external.external and external.tmpdir is None
    assert external.url == server.url
    assert external.create_database("pgserver_external") == server.database_url("pgserver_external")
    external.stop()
    assert _port_open(server.port or 0)
    monkeypatch.delenv(pgserver.EXTERNAL_URL_ENV)


def test_unavailable_without_binaries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(pgserver.EXTERNAL_URL_ENV, raising=False)
    monkeypatch.setattr(pgserver, "PG_ROOT", tmp_path)
    assert pgserver.find_pg_bin() is None
    assert pgserver.start_or_none() is None
    assert "no PostgreSQL server binaries" in (pgserver.UNAVAILABLE_REASON or "")


def test_find_pg_bin_prefers_highest_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for version in ("9.6", "15", "16"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        for exe in ("initdb", "pg_ctl", "postgres"):
            (bin_dir / exe).write_text("#!/bin/sh\n")
            (bin_dir / exe).chmod(0o755)
    (tmp_path / "17" / "bin").mkdir(parents=True)  # client-only install: no initdb
    monkeypatch.setattr(pgserver, "PG_ROOT", tmp_path)
    assert pgserver.find_pg_bin() == tmp_path / "16" / "bin"


# -- ci_guard ---------------------------------------------------------------------------

GUARDED_TESTS = textwrap.dedent(
    """
    import pytest

    @pytest.mark.postgres
    def test_pg_skipped():
        pytest.skip("no server here")

    @pytest.mark.e2e
    @pytest.mark.skipif(True, reason="no browser here")
    def test_e2e_skipif():
        pass

    def test_plain_skipped():
        pytest.skip("unrelated")

    @pytest.mark.postgres
    def test_pg_passes():
        pass

    @pytest.mark.postgres
    @pytest.mark.xfail(reason="expected")
    def test_pg_xfail():
        assert False
    """
)

PYTEST_INI = textwrap.dedent(
    """
    [pytest]
    markers =
        postgres: needs PostgreSQL
        e2e: browser test
    """
)


def _run_guarded(tmp_path: Path, ci: str) -> tuple[int, dict[str, str], str]:
    (tmp_path / "test_guarded.py").write_text(GUARDED_TESTS)
    (tmp_path / "pytest.ini").write_text(PYTEST_INI)
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, CI=ci, PYTHONPATH=pythonpath)
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_guard", "-p", "no:cacheprovider"]
        + ["-v", "--strict-markers", "-W", "error", "test_guarded.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = proc.stdout + proc.stderr
    outcomes = dict(
        re.findall(r"^test_guarded\.py::(\w+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL)", out, re.M)
    )
    return proc.returncode, outcomes, out


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_ci_guard_fails_guarded_skips_under_ci(tmp_path: Path, ci: str) -> None:
    rc, outcomes, out = _run_guarded(tmp_path, ci)
    assert rc == 1, out
    assert outcomes == {
        "test_pg_skipped": "FAILED",
        "test_e2e_skipif": "ERROR",  # skipif skips in setup: a failed setup is an error
        "test_plain_skipped": "SKIPPED",
        "test_pg_passes": "PASSED",
        "test_pg_xfail": "XFAIL",
    }, out
    assert "Skip reason: Skipped: no server here" in out
    assert "Skip reason: Skipped: no browser here" in out
    assert "CI=true forbids skipping" in out


@pytest.mark.parametrize("ci", ["false", ""])
def test_ci_guard_keeps_skips_outside_ci(tmp_path: Path, ci: str) -> None:
    rc, outcomes, out = _run_guarded(tmp_path, ci)
    assert rc == 0, out
    assert outcomes == {
        "test_pg_skipped": "SKIPPED",
        "test_e2e_skipif": "SKIPPED",
        "test_plain_skipped": "SKIPPED",
        "test_pg_passes": "PASSED",
        "test_pg_xfail": "XFAIL",
    }, out
