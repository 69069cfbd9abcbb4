"""What the supervisors' lists offer to choose from and show beside a case: the deployed
processes (keys, the newest version's name), the steps a case of each can wait at, and the BPMN
source of one version for the diagram viewer. Read from the process_version table only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.database import Database
from engine.store.tables import ProcessVersion


def process_keys(db: Database) -> list[str]:
    with db.read() as session:
        return sorted(set(session.scalars(select(ProcessVersion.key))))


def read_process_names(session: Session) -> dict[str, tuple[str, int]]:
    names: dict[str, tuple[str, int]] = {}
    for key, name, version in session.execute(
        select(ProcessVersion.key, ProcessVersion.name, ProcessVersion.version).order_by(
            ProcessVersion.key, ProcessVersion.version
        )
    ):
        names[key] = (name or key, version)
    return names


def process_names(db: Database) -> dict[str, tuple[str, int]]:
    """Process key -> (the name of its newest version, that version's number), by name."""
    with db.read() as session:
        found = read_process_names(session)
    return dict(sorted(found.items(), key=lambda item: (item[1][0], item[0])))


@dataclass(frozen=True)
class ProcessSteps:
    key: str
    name: str
    steps: list[str]  # the names of its user tasks over all its versions, newest first


def process_steps(db: Database, key: str | None = None) -> list[ProcessSteps]:
    """The steps a case of each process (or of `key`) can wait at, by name: the user tasks of
    every version (called processes' included), the newest version's order first."""
    query = select(ProcessVersion.key, ProcessVersion.name, ProcessVersion.task_meta).order_by(
        ProcessVersion.key, ProcessVersion.version.desc()
    )
    if key:
        query = query.where(ProcessVersion.key == key)
    found: dict[str, ProcessSteps] = {}
    with db.read() as session:
        for row_key, name, meta in session.execute(query):
            entry = found.setdefault(row_key, ProcessSteps(row_key, name or row_key, []))
            for element, task in (meta or {}).items():
                step = (task or {}).get("name") or element
                if step not in entry.steps:
                    entry.steps.append(step)
    return sorted(found.values(), key=lambda p: (p.name, p.key))


def version_source(db: Database, key: str, version: int) -> dict[str, Any]:
    """The BPMN source of one process version (for the diagram viewer)."""
    with db.read() as session:
        row = session.scalars(
            select(ProcessVersion).where(
                ProcessVersion.key == key, ProcessVersion.version == version
            )
        ).first()
        if row is None:
            from engine.core.errors import NotFound

            raise NotFound(
                f"no version {version} of process {key!r}",
                reason="version_not_found",
                version=version,
                process=key,
            )
        bpmn = next(
            (s for s in row.sources if s["kind"] == "bpmn" and f'id="{key}"' in s["text"]), None
        )
        bpmn = bpmn or next((s for s in row.sources if s["kind"] == "bpmn"), None)
        return {
            "key": key,
            "version": version,
            "name": row.name,
            "xml": bpmn["text"] if bpmn else "",
            "deployed_at": row.deployed_at,
            "deployed_by": row.deployed_by,
        }
