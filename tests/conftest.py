"""Shared fixtures: a migrated temporary database, a fixed clock, a runtime, users."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.core.clock import FixedClock
from engine.core.settings import REPO_SETTINGS, Settings, load_settings
from engine.identity.users import add_user
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.migrate import upgrade

pytest_plugins = ["tests.ci_guard"]

FIXTURES = Path(__file__).parent / "fixtures"
# CASEFLOW_TEST_DB=postgres runs the suite on a throw-away PostgreSQL server instead of SQLite.
DB_BACKEND = os.environ.get("CASEFLOW_TEST_DB", "sqlite")
# Monday 23 November 2026, 09:30 in Shanghai.
MONDAY_0930 = "2026-11-23T01:30:00+00:00"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # On the PostgreSQL pass every test needs the server: under CI a skip must fail.
    if DB_BACKEND == "postgres":
        for item in items:
            item.add_marker(pytest.mark.postgres)


def pytest_report_header(config: pytest.Config) -> str:
    return f"caseflow test database: {DB_BACKEND}"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrations run once)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    copy = tmp_path / "settings.toml"
    shutil.copy(REPO_SETTINGS, copy)
    return load_settings(copy)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from tests import pgserver

    server = pgserver.start_or_none()
    if server is None:
        pytest.skip(f"PostgreSQL is not available: {pgserver.UNAVAILABLE_REASON}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server) -> str:
    db = Database(pg_server.create_database("caseflow_template"))
    upgrade(db)
    db.dispose()
    return "caseflow_template"


@pytest.fixture
def pg_db_url(pg_server, pg_template) -> str:
    """A new, migrated PostgreSQL database (copied from a template, so it is quick)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(**pg_server.connect_kwargs(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    return pg_server.database_url(name)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if DB_BACKEND == "postgres":
        return request.getfixturevalue("pg_db_url")
    path = tmp_path / "caseflow.db"
    shutil.copy(request.getfixturevalue("template_db"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY_0930)


@pytest.fixture
def runtime(db: Database, settings: Settings, clock: FixedClock) -> Runtime:
    return Runtime(db, settings, clock)


@pytest.fixture
def fresh_runtime(db: Database, settings: Settings, clock: FixedClock) -> Callable[[], Runtime]:
    """A new runtime each call: no cached specs or objects carried between steps."""
    return lambda: Runtime(db, settings, clock)


@pytest.fixture
def users(db: Database, settings: Settings, clock: FixedClock) -> dict[str, list[str]]:
    people = {
        "alice": ["service_desk"],
        "carol": ["service_desk"],
        "bob": ["senior_service"],
        "sue": ["supervisor", "service_desk"],
    }
    for name, roles in people.items():
        add_user(db, settings, name, roles, clock.now())
    return people


# Forms a fixture process names that its tests did not list (a start form, a task's form added
# since): deployed with it.
COMPANIONS = {
    "review_flow.bpmn": ("review_start.json",),
    "booking_flow.bpmn": ("booking_alternatives.json",),
    "link_flow.bpmn": ("link_reply.json",),
}


def fixture_files(*names: str) -> list[Path]:
    extra = [c for n in names for c in COMPANIONS.get(n, ()) if c not in names]
    return [FIXTURES / name for name in (*names, *dict.fromkeys(extra))]
