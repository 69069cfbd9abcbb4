"""Deploy of immutable versions: validates the files (engine.definitions.validation) and stores
a new version of each process and form whose content changed, in one transaction.

Unchanged content is a no-op; changed content makes a new version; running cases stay on the
version they started on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.clock import Clock
from engine.core.settings import Settings
from engine.definitions.sources import SourceFile
from engine.definitions.validation import validate
from engine.spiff import adapter as spiff
from engine.store.database import Database
from engine.store.tables import Form, ProcessVersion


@dataclass(frozen=True)
class Deployed:
    kind: str  # "process" or "form"
    key: str
    version: int
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "version": self.version,
            "changed": self.changed,
        }


def latest_forms(session: Session) -> dict[str, Form]:
    newest = select(Form.name, func.max(Form.version).label("v")).group_by(Form.name).subquery()
    rows = session.scalars(
        select(Form).join(newest, (Form.name == newest.c.name) & (Form.version == newest.c.v))
    )
    return {row.name: row for row in rows}


def deploy(
    db: Database,
    files: Sequence[SourceFile],
    settings: Settings,
    clock: Clock,
    actor: str | None = None,
) -> list[Deployed]:
    """Validate `files` and store new versions of what changed, in one transaction."""
    from engine.store.audit import record

    with db.write() as session:
        existing_forms = latest_forms(session)
        plans, form_plans = validate(
            files, settings, {n: f.schema for n, f in existing_forms.items()}
        )
        now = clock.now()
        results: list[Deployed] = []
        form_ids: dict[str, int] = {n: f.id for n, f in existing_forms.items()}
        for fp in form_plans:
            current = existing_forms.get(fp.name)
            if current is not None and current.content_hash == fp.content_hash:
                results.append(Deployed("form", fp.name, current.version, False))
                continue
            row = Form(
                name=fp.name,
                version=(current.version + 1) if current else 1,
                content_hash=fp.content_hash,
                schema=fp.schema,
                deployed_by=actor,
                deployed_at=now,
            )
            session.add(row)
            session.flush()
            form_ids[fp.name] = row.id
            results.append(Deployed("form", fp.name, row.version, True))
            record(
                session,
                "form_deployed",
                actor=actor,
                at=now,
                detail={"form": fp.name, "version": row.version},
            )
        for plan in plans:
            current = session.scalars(
                select(ProcessVersion)
                .where(ProcessVersion.key == plan.key)
                .order_by(ProcessVersion.version.desc())
                .limit(1)
            ).first()
            if current is not None and current.content_hash == plan.content_hash:
                results.append(Deployed("process", plan.key, current.version, False))
                continue
            for meta in plan.task_meta.values():
                meta["form_id"] = form_ids.get(meta["form"]) if meta["form"] else None
            for name in ("start_form", "staff_start_form"):
                if plan.portal and plan.portal.get(name):
                    plan.portal[f"{name}_id"] = form_ids.get(plan.portal[name])
            row = ProcessVersion(
                key=plan.key,
                version=(current.version + 1) if current else 1,
                name=plan.name,
                content_hash=plan.content_hash,
                case_prefix=plan.case_prefix,
                sources=plan.sources,
                spec_json=plan.spec_json,
                task_meta=plan.task_meta,
                defaults=plan.defaults,
                portal=plan.portal,
                startable=plan.startable,
                called_defaults=plan.called_defaults or None,
                kpi_fields=plan.kpi_fields,
                serializer_version=spiff.SERIALIZER_VERSION,
                deployed_by=actor,
                deployed_at=now,
            )
            session.add(row)
            session.flush()
            results.append(Deployed("process", plan.key, row.version, True))
            record(
                session,
                "process_deployed",
                actor=actor,
                at=now,
                detail={"process": plan.key, "version": row.version, "hash": plan.content_hash},
            )
        session.commit()
    return results
