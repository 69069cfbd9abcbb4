"""Deploy of immutable versions: validates the files (engine.definitions.validation) and stores
a new version of each process and form whose content changed, in one transaction.

Unchanged content is a no-op; changed content makes a new version; running cases stay on the
version they started on. A changed form also makes a new version of every process whose newest
version uses it (rebuilt from that version's stored files), so new cases get the new form while
running cases keep the version, and the form, they started with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.clock import Clock
from engine.core.settings import Settings
from engine.definitions.sources import ProcessPlan, SourceFile
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
    # A process version made because forms or message templates it uses changed (not its own
    # files): their file names.
    forms_changed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "version": self.version,
            "changed": self.changed,
        }
        if self.forms_changed:
            found["forms_changed"] = list(self.forms_changed)
        return found


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
        changed_forms = {r.key for r in results if r.kind == "form" and r.changed}
        for plan in plans:
            current = _newest(session, plan.key)
            if current is not None and current.content_hash == plan.content_hash:
                results.append(Deployed("process", plan.key, current.version, False))
                continue
            results.append(_store(session, plan, current, form_ids, actor, now))
        # A message template deployed with changed wording, like a changed form, makes a new
        # version of every process whose newest version keeps it.
        templates = {f.filename: f.data.decode("utf-8") for f in files if f.kind == "template"}
        if changed_forms or templates:
            known = {n: f.schema for n, f in existing_forms.items()}
            known.update({fp.name: fp.schema for fp in form_plans})
            deployed = {plan.key for plan in plans}
            for current in _newest_versions(session):
                used = _forms_used(current) & changed_forms
                worded = {
                    f["filename"]
                    for f in current.sources
                    if f.get("kind") == "template"
                    and templates.get(f["filename"], f["text"]) != f["text"]
                }
                if current.key in deployed or not (used or worded):
                    continue
                files = [
                    SourceFile(f["filename"], templates.get(f["filename"], f["text"]).encode())
                    if f["filename"] in worded
                    else SourceFile(f["filename"], f["text"].encode())
                    for f in current.sources
                ]
                rebuilt = [p for p in validate(files, settings, known)[0] if p.key == current.key]
                if not rebuilt or rebuilt[0].content_hash == current.content_hash:
                    continue
                results.append(
                    _store(
                        session,
                        rebuilt[0],
                        current,
                        form_ids,
                        actor,
                        now,
                        tuple(sorted(used | worded)),
                    )
                )
        session.commit()
    return results


def _newest(session: Session, key: str) -> ProcessVersion | None:
    return session.scalars(
        select(ProcessVersion)
        .where(ProcessVersion.key == key)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    ).first()


def _newest_versions(session: Session) -> list[ProcessVersion]:
    newest = (
        select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
        .group_by(ProcessVersion.key)
        .subquery()
    )
    return list(
        session.scalars(
            select(ProcessVersion)
            .join(
                newest,
                (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.v),
            )
            .order_by(ProcessVersion.key)
        )
    )


def _forms_used(version: ProcessVersion) -> set[str]:
    """The forms a version's tasks (its called processes' too) and start pages name."""
    used = {m.get("form") for m in (version.task_meta or {}).values() if m.get("form")}
    portal = version.portal or {}
    used |= {portal[n] for n in ("start_form", "staff_start_form") if portal.get(n)}
    used |= set((portal.get("message_forms") or {}).values())
    return used


def _store(
    session: Session,
    plan: ProcessPlan,
    current: ProcessVersion | None,
    form_ids: dict[str, int],
    actor: str | None,
    now: Any,
    forms_changed: tuple[str, ...] = (),
) -> Deployed:
    """Store `plan` as the next version of its process, its forms bound to their newest ids."""
    from engine.store.audit import record

    for meta in plan.task_meta.values():
        meta["form_id"] = form_ids.get(meta["form"]) if meta["form"] else None
    for name in ("start_form", "staff_start_form"):
        if plan.portal and plan.portal.get(name):
            plan.portal[f"{name}_id"] = form_ids.get(plan.portal[name])
    if plan.portal and plan.portal.get("message_forms"):
        plan.portal["message_form_ids"] = {
            message: form_ids.get(form) for message, form in plan.portal["message_forms"].items()
        }
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
    detail: dict[str, Any] = {
        "process": plan.key,
        "version": row.version,
        "hash": plan.content_hash,
    }
    if forms_changed:
        detail["forms_changed"] = list(forms_changed)
    record(session, "process_deployed", actor=actor, at=now, detail=detail)
    return Deployed("process", plan.key, row.version, True, forms_changed)
