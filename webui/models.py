"""Process owners: processes and their versions, the bpmn-js modeler (validate, deploy), version
comparison, moving running cases to another version, and the form editor."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import (
    CaseflowError,
    DefinitionError,
    FormError,
    SourceFile,
    blank_diagram,
    check_diagram,
    deploy_diagram,
    form_fields,
    load_form_schema,
    migrate_case,
    migration_candidates,
)

from .auth import desk, role_required, runtime

bp = Blueprint("models", __name__, url_prefix="/models")
PROCESS_OWNER = "process_owner"

BPMN_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,150}\.bpmn$")
FORM_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,150}\.json$")
PROCESS_KEY = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
RESERVED_KEYS = {"new", "forms", "validate", "deploy"}
NEW_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "新表單",
    "type": "object",
    "required": ["note"],
    "properties": {"note": {"type": "string", "title": "備註", "maxLength": 500}},
}


# ----- processes and versions -------------------------------------------------------------------


@bp.get("")
@role_required(PROCESS_OWNER)
def index() -> Any:
    return render_template("models/index.html", processes=desk().list_processes())


MAX_VERSION = 2**31 - 1  # the version column is a 32-bit integer on PostgreSQL


def _version(value: int | None) -> int | None:
    """A version number from a form or query, or 404 for one no database could hold."""
    if value is not None and not 1 <= value <= MAX_VERSION:
        abort(404)
    return value


@bp.before_request
def _check_version_in_path() -> None:
    _version((request.view_args or {}).get("version"))


@bp.get("/<key>/<int:version>")
@role_required(PROCESS_OWNER)
def show(key: str, version: int) -> Any:
    process = desk().get_process(key)
    info = next((v for v in process.versions if v.version == version), None)
    if info is None:
        abort(404)
    source = desk().version_source(key, version)
    source["xml"] = _with_layout(source["xml"])[0]
    sources = [v for v in process.versions if v.version != version and v.running_cases]
    from_version = _version(request.args.get("from", type=int))
    candidates = (
        migration_candidates(runtime(), key, from_version, version)
        if from_version and from_version != version
        else None
    )
    return render_template(
        "models/show.html",
        process=process,
        info=info,
        source=source,
        sources=sources,
        from_version=from_version,
        candidates=candidates,
    )


@bp.post("/<key>/<int:version>/migrate")
@role_required(PROCESS_OWNER)
def migrate(key: str, version: int) -> Any:
    from_version = _version(request.form.get("from", type=int))
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
            flash(_("%(number)s not moved: %(reason)s", number=check.number, reason=str(exc)))
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
    b = _version(request.args.get("b", type=int)) or newest
    a = _version(request.args.get("a", type=int)) or max(b - 1, 1)
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
        xml=_with_layout(desk().version_source(key, b)["xml"])[0],
        markers=markers,
    )


# ----- the modeler ------------------------------------------------------------------------------


def _with_layout(xml: str) -> tuple[str, bool]:
    """Files deployed without a diagram layout (BPMN DI) get one drawn, when the layout tool
    is installed beside the app, so the modeler has something to show."""
    if "BPMNShape" in xml:
        return xml, False
    try:
        from engine import layout
    except ImportError:
        return xml, False
    try:
        return layout(xml.encode("utf-8")).decode("utf-8"), True
    except Exception:  # noqa: BLE001 - without a layout the page says so
        return xml, False


def _modeler(
    xml: str, filename: str, key: str | None, laid_out: bool = False, new: bool = False
) -> Any:
    config = {
        "validateUrl": url_for("models.validate"),
        "deployUrl": url_for("models.deploy"),
        "filename": filename,
        "forms": sorted(desk().deployed_forms()),
        "roles": runtime().settings.roles,
        "strings": _modeler_strings(),
    }
    return render_template(
        "models/modeler.html",
        xml=xml,
        filename=filename,
        key=key,
        new=new,
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
    xml, laid_out = _with_layout(source["xml"])
    return _modeler(xml, latest.filename or f"{key}.bpmn", key, laid_out=laid_out)


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
            return _modeler(xml, f"{key}.bpmn", key, new=True)
    return render_template("models/new.html", key=key, name=name, error=error), (
        422 if error else 200
    )


def _diagram_request() -> tuple[str, str, Any]:
    """(filename, xml, None) from the JSON body, or ("", "", an error answer)."""
    body = request.get_json(silent=True) or {}
    filename, xml = body.get("filename"), body.get("xml")
    message = None
    if not isinstance(filename, str) or not BPMN_FILENAME.match(filename):
        message = _("The file name must end in .bpmn and use letters and digits.")
    elif not isinstance(xml, str) or not xml.strip():
        message = _("The diagram is empty.")
    if message:
        error = {"element_id": None, "file": filename, "message": message}
        return "", "", (jsonify(ok=False, problems=[error]), 400)
    return filename, xml, None


def _problems(problems: list[Any], filename: str) -> list[dict[str, Any]]:
    return [
        {
            "element_id": p.element_id if p.file == filename else None,
            "file": p.file,
            "message": p.message,
        }
        for p in problems
    ]


@bp.post("/validate")
@role_required(PROCESS_OWNER)
def validate() -> Any:
    filename, xml, error = _diagram_request()
    if error:
        return error
    problems = _problems(check_diagram(runtime(), filename, xml), filename)
    return jsonify(ok=not problems, problems=problems)


@bp.post("/deploy")
@role_required(PROCESS_OWNER)
def deploy() -> Any:
    filename, xml, error = _diagram_request()
    if error:
        return error
    try:
        results = deploy_diagram(runtime(), filename, xml, actor=current_user.name)
    except DefinitionError as exc:
        return jsonify(ok=False, problems=_problems(exc.problems, filename)), 422
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


# ----- forms ------------------------------------------------------------------------------------


@bp.get("/forms")
@role_required(PROCESS_OWNER)
def forms() -> Any:
    return render_template("models/forms.html", forms=desk().deployed_forms())


def _preview(name: str, text: str) -> dict[str, Any]:
    try:
        schema = load_form_schema(text, name or "form.json")
    except FormError as exc:
        return {"error": str(exc), "schema": None, "fields": []}
    return {"error": None, "schema": schema, "fields": form_fields(schema)}


def _form_page(name: str, text: str, new: bool, status: int = 200, **extra: Any) -> Any:
    form = desk().deployed_forms().get(name)
    return (
        render_template(
            "models/form_edit.html",
            name=name,
            text=text,
            new=new,
            form=form,
            users=desk().form_users(name) if form else [],
            preview=_preview(name, text),
            **extra,
        ),
        status,
    )


@bp.get("/forms/new")
@role_required(PROCESS_OWNER)
def form_new() -> Any:
    return _form_page("", json.dumps(NEW_FORM, ensure_ascii=False, indent=2), new=True)


@bp.get("/forms/<name>")
@role_required(PROCESS_OWNER)
def form_edit(name: str) -> Any:
    return _form_page(name, desk().form_text(name), new=False)


@bp.post("/forms/preview")
@role_required(PROCESS_OWNER)
def form_preview() -> Any:
    name = (request.form.get("name") or "").strip()
    text = request.form.get("text") or ""
    if request.headers.get("X-Preview") == "fragment":
        return render_template("models/_form_preview.html", preview=_preview(name, text))
    return _form_page(name, text, new=request.form.get("new") == "1")


@bp.post("/forms/deploy")
@role_required(PROCESS_OWNER)
def form_deploy() -> Any:
    name = (request.form.get("name") or "").strip()
    text = request.form.get("text") or ""
    is_new = request.form.get("new") == "1"
    if not FORM_FILENAME.match(name):
        error = _("The form's file name must end in .json and use letters and digits.")
        return _form_page(name, text, new=is_new, status=422, problems=[error])
    if is_new and name in desk().deployed_forms():
        error = _("A form with this name exists already; edit it instead.")
        return _form_page(name, text, new=is_new, status=422, problems=[error])
    try:
        results = runtime().deploy(
            [SourceFile(name, text.encode("utf-8"))], actor=current_user.name
        )
    except DefinitionError as exc:
        return _form_page(
            name, text, new=is_new, status=422, problems=[p.message for p in exc.problems]
        )
    result = results[0]
    if result.changed:
        flash(
            _("Form %(name)s deployed as version %(version)d.", name=name, version=result.version)
        )
    else:
        flash(
            _(
                "Nothing changed: version %(version)d already has this content.",
                version=result.version,
            )
        )
    return redirect(url_for("models.form_edit", name=name))
