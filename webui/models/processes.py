"""Process owners' pages of processes and their versions: the list, one version (with the
running cases that could move to it), moving running cases to another version, and the
comparison of two versions."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import (
    CaseflowError,
    migrate_case,
    migration_candidates,
    task_instructions,
    version_message_templates,
    version_parameters,
)

from ..auth import desk, role_required, runtime
from ..messages import translate
from . import PROCESS_OWNER, bp, checked_version
from .diagrams import with_layout


@bp.get("")
@role_required(PROCESS_OWNER)
def index() -> Any:
    return render_template("models/index.html", processes=desk().list_processes())


@bp.get("/<key>/<int:version>")
@role_required(PROCESS_OWNER)
def show(key: str, version: int) -> Any:
    process = desk().get_process(key)
    info = next((v for v in process.versions if v.version == version), None)
    if info is None:
        abort(404)
    source = desk().version_source(key, version)
    source["xml"] = with_layout(source["xml"])[0]
    sources = [v for v in process.versions if v.version != version and v.running_cases]
    from_version = checked_version(request.args.get("from", type=int))
    candidates = (
        migration_candidates(runtime(), key, from_version, version)
        if from_version and from_version != version
        else None
    )
    parameters = [
        {**row, "shown": json.dumps(row["value"], ensure_ascii=False)}
        for row in version_parameters(source["xml"], key)
    ]
    newest = process.latest.version
    return render_template(
        "models/show.html",
        process=process,
        info=info,
        source=source,
        parameters=parameters,
        sources=sources,
        from_version=from_version,
        candidates=candidates,
        # The wording of this version, and what of it the newest version has (to edit).
        templates=version_message_templates(runtime(), key, version),
        newest_templates={t.name: t.text for t in version_message_templates(runtime(), key)},
        instructions=task_instructions(runtime(), key, version),
        newest_tasks={t.element_id for t in task_instructions(runtime(), key, newest)},
    )


@bp.post("/<key>/<int:version>/migrate")
@role_required(PROCESS_OWNER)
def migrate(key: str, version: int) -> Any:
    from_version = checked_version(request.form.get("from", type=int))
    if not from_version:
        abort(400)
    chosen = set(request.form.getlist("case"))
    target = url_for("models.show", key=key, version=version, **{"from": from_version})
    if not chosen:
        flash(_("No case was selected."))
        return redirect(target)
    moved, refused = [], []
    for check in migration_candidates(runtime(), key, from_version, version):
        if check.number not in chosen:
            continue
        if not check.ok:
            refused.append(check.number)
            continue
        try:
            migrate_case(runtime(), check.number, version, actor=current_user.name)
            moved.append(check.number)
        except CaseflowError as exc:
            refused.append(check.number)
            flash(_("%(number)s not moved: %(reason)s", number=check.number, reason=translate(exc)))
    flash(
        _(
            "%(moved)d case(s) moved to version %(version)d; %(refused)d could not move.",
            moved=len(moved),
            version=version,
            refused=len(refused),
        )
    )
    return redirect(target)


@bp.get("/<key>/compare")
@role_required(PROCESS_OWNER)
def compare(key: str) -> Any:
    process = desk().get_process(key)
    newest = process.latest.version
    b = checked_version(request.args.get("b", type=int)) or newest
    a = checked_version(request.args.get("a", type=int)) or max(b - 1, 1)
    diff = desk().compare_versions(key, a, b)
    markers = {
        "added": [e["id"] for e in diff["added"]],
        "changed": [e["id"] for e in diff["changed"]],
    }
    return render_template(
        "models/compare.html",
        process=process,
        a=a,
        b=b,
        diff=diff,
        xml=with_layout(desk().version_source(key, b)["xml"])[0],
        markers=markers,
    )
