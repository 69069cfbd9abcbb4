"""The bpmn-js modeler: editing a process's newest version, starting a new process from a blank
diagram, and the JSON endpoints the modeler's script calls to check and to deploy a diagram."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import (
    DATE_HELPERS,
    OUTCOMES,
    SUMMARIES,
    DefinitionError,
    blank_diagram,
    check_diagram,
    deploy_diagram,
)

from ..auth import desk, role_required, runtime
from ..filters import outcome_label
from . import PROCESS_OWNER, bp
from .diagrams import diagram_request, problems_json, with_layout
from .panel_strings import panel_strings

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
    (marked when the page opens) and notes for the owner; nothing of it is stored yet.

    The properties panel's choices come from the server: the deployed forms, the roles (a
    lane names one), the outcomes of end events, what a user task counts as in the summaries,
    the processes a call activity can call, the calendar helpers a date timer may use."""
    config = {
        "validateUrl": url_for("models.validate"),
        "deployUrl": url_for("models.deploy"),
        "filename": filename,
        "forms": sorted(desk().deployed_forms()),
        "roles": runtime().settings.roles,
        "outcomes": list(OUTCOMES),
        "outcomeLabels": {o: f"{outcome_label(o)} ({o})" for o in OUTCOMES},
        "summaries": list(SUMMARIES),
        "summaryLabels": _summary_labels(),
        "processes": [{"key": p.key, "name": p.name} for p in desk().list_processes()],
        "timerHelpers": sorted(DATE_HELPERS),
        "strings": _modeler_strings(),
        "panelStrings": panel_strings(),
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
    """The page's own texts (webui/static/modeler.js)."""
    return {
        "checking": _("Checking…"),
        "deploying": _("Deploying…"),
        "valid": _("No problems found: this diagram can be deployed."),
        "problems": _("%(count)s problem(s) found; nothing was deployed."),
        "blocked": _("Fix the problems first: deploy is blocked while a problem remains."),
        "deployed": _("Deployed as version %(version)s."),
        "unchanged": _("Nothing changed: version %(version)s already has this content."),
        "open_version": _("Open the version"),
        "unsaved": _("Changed since the last check."),
        "failed": _("The server did not answer: %(reason)s"),
        "leave": _("The diagram has changes that were not deployed."),
    }


def _summary_labels() -> dict[str, str]:
    labels = {
        "followup": _("follow-up call"),
        "escalation": _("escalation"),
        "placement": _("placement"),
        "reply": _("reply"),
    }
    return {s: f"{labels.get(s, s)} ({s})" for s in SUMMARIES}


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
