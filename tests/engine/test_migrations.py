"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.casework import directory, resources  # noqa: F401 - their tables join Base.metadata
from engine.store.tables import Base


def test_migrated_schema_matches_models(db):
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_versions_deployed_before_summary_declarations_count_as_before(db, runtime):
    """Revision 0012 gives each task of an older version the summary kind the code's list
    gave its element (down to 0011 removes the declarations the deploy wrote)."""
    from pathlib import Path

    from alembic import command
    from sqlalchemy import select

    from engine.store.migrate import alembic_config, upgrade
    from engine.store.tables import ProcessVersion

    root = Path(__file__).resolve().parents[2]
    runtime.deploy(
        [
            root / "processes" / "complaint_handling.bpmn",
            *(root / "forms").glob("complaint_handling.*"),
        ]
    )
    cfg = alembic_config(db)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0011")
    with db.read() as session:
        (meta,) = session.scalars(select(ProcessVersion.task_meta)).all()
    assert all("summary" not in entry for entry in meta.values())
    upgrade(db)
    with db.read() as session:
        (meta,) = session.scalars(select(ProcessVersion.task_meta)).all()
    kinds = {element: entry["summary"] for element, entry in meta.items()}
    assert kinds["customer_callback"] == "followup"
    assert kinds["supervisor_handle"] == kinds["chase_department"] == "escalation"
    assert kinds["record_complaint"] is None
