"""The bpmn-js modeler: editing a process's newest version, starting a new process from a blank
diagram, and the JSON endpoints the modeler's script calls to check and to deploy a diagram."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import DefinitionError, blank_diagram, check_diagram, deploy_diagram

from ..auth import desk, role_required, runtime
from . import PROCESS_OWNER, bp
from .diagrams import diagram_request, problems_json, with_layout

PROCESS_KEY = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
RESERVED_KEYS = {"new", "forms", "validate", "deploy", "import", "decisions"}


def modeler_page(
    xml: str,
    filename: str,
    key: str | None,
    laid_out: bool = False,
    new: bool = False,
    imported: bool = False,
    problems: list[dict[str, Any]] | None = None,
    notes: list[str] | None = None,
) -> Any:
    """The modeler on `xml`. An imported diagram comes with the problems deploy would find
    (marked when the page opens) and notes for the owner; nothing of it is stored yet."""
    config = {
        "validateUrl": url_for("models.validate"),
        "deployUrl": url_for("models.deploy"),
        "filename": filename,
        "forms": sorted(desk().deployed_forms()),
        "roles": runtime().settings.roles,
        "strings": _modeler_strings(),
        "imported": imported,
    }
    if problems is not None:
        config["problems"] = problems
    return render_template(
        "models/modeler.html",
        xml=xml,
        filename=filename,
        key=key,
        new=new,
        imported=imported,
        problems=problems,
        notes=notes or [],
        laid_out=laid_out,
        has_layout="BPMNShape" in xml,
        config=config,
    )


def _modeler_strings() -> dict[str, str]:
    return {
        "checking": _("Checking…"),
        "deploying": _("Deploying…"),
        "valid": _("No problems found: this diagram can be deployed."),
        "problems": _("%(count)s problem(s) found; nothing was deployed."),
        "deployed": _("Deployed as version %(version)s."),
        "unchanged": _("Nothing changed: version %(version)s already has this content."),
        "open_version": _("Open the version"),
        "unsaved": _("Changed since the last check."),
        "failed": _("The server did not answer: %(reason)s"),
        "nothing": _("Select an element to edit its properties."),
        "id": _("Id"),
        "name": _("Name"),
        "form": _("Form"),
        "process_name": _("Process name"),
        "case_prefix": _("Case number prefix (1–6 capital letters)"),
        "no_form": _("— none (confirmation only) —"),
        "assignee": _("Assignee (expression giving a user name; empty: the whole role)"),
        "startable": _("Can be started on its own (untick for a process only others call)"),
        "start_roles": _("Roles that may start it (comma-separated)"),
        "start_roles_default": _("Empty: the role of the first user task, and supervisors"),
        "lane": _("Lane (role)"),
        "role": _("Role"),
        "unknown_role": _("not a known role"),
        "no_lane": _("Outside every lane: default role"),
        "condition": _("Condition (Python expression)"),
        "timer": _("Timer"),
        "timer_duration": _("Duration"),
        "timer_date": _("Date"),
        "timer_cycle": _("Cycle"),
        "script": _("Script (Python)"),
        "id_taken": _("This id is already used."),
        "id_invalid": _("Use letters, digits and _; start with a letter."),
        "leave": _("The diagram has changes that were not deployed."),
    }


@bp.get("/<key>/edit")
@role_required(PROCESS_OWNER)
def edit(key: str) -> Any:
    process = desk().get_process(key)
    latest = process.latest
    source = desk().version_source(key, latest.version)
    xml, laid_out = with_layout(source["xml"])
    return modeler_page(xml, latest.filename or f"{key}.bpmn", key, laid_out=laid_out)


@bp.get("/new")
@role_required(PROCESS_OWNER)
def new() -> Any:
    key = (request.args.get("key") or "").strip()
    name = (request.args.get("name") or "").strip()
    error = None
    if key:
        known = {p.key for p in desk().list_processes()}
        if not PROCESS_KEY.match(key) or key in RESERVED_KEYS:
            error = _("Use 2–61 lower-case letters, digits and _, starting with a letter.")
        elif key in known:
            error = _("A process with this id exists already; edit it instead.")
        else:
            xml = blank_diagram(key, name or key, runtime().settings.default_role)
            return modeler_page(xml, f"{key}.bpmn", key, new=True)
    return render_template("models/new.html", key=key, name=name, error=error), (
        422 if error else 200
    )


@bp.post("/validate")
@role_required(PROCESS_OWNER)
def validate() -> Any:
    filename, xml, error = diagram_request()
    if error:
        return error
    problems = problems_json(check_diagram(runtime(), filename, xml), filename)
    return jsonify(ok=not problems, problems=problems)


@bp.post("/deploy")
@role_required(PROCESS_OWNER)
def deploy() -> Any:
    filename, xml, error = diagram_request()
    if error:
        return error
    try:
        results = deploy_diagram(runtime(), filename, xml, actor=current_user.name)
    except DefinitionError as exc:
        return jsonify(ok=False, problems=problems_json(exc.problems, filename)), 422
    if not results:
        problem = {
            "element_id": None,
            "file": filename,
            "message": _("The file defines no process."),
        }
        return jsonify(ok=False, problems=[problem]), 422
    first = results[0]
    return jsonify(
        ok=True,
        key=first.key,
        version=first.version,
        changed=first.changed,
        url=url_for("models.show", key=first.key, version=first.version),
        processes=[d.to_dict() for d in results],
    )
