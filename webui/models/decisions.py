"""The decision table editor: a deployed DMN file opened in the dmn-js modeler, and the JSON
endpoints its script calls to check the edited table (with the processes that use it) and to
deploy it as a new version of each of them."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import DefinitionError, check_decision, decision_table, deploy_decision

from ..auth import role_required, runtime
from . import PROCESS_OWNER, bp
from .diagrams import problems_json

DMN_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,150}\.dmn$")


def _strings() -> dict[str, str]:
    return {
        "checking": _("Checking…"),
        "deploying": _("Deploying…"),
        "valid": _("No problems found: this decision table can be deployed."),
        "problems": _("%(count)s problem(s) found; nothing was deployed."),
        "deployed": _(
            "Deployed: %(versions)s. New cases use this table; running cases keep the version "
            "they started with."
        ),
        "unchanged": _("Nothing changed: %(versions)s already use this table."),
        "unsaved": _("Changed since the last check."),
        "failed": _("The server did not answer: %(reason)s"),
        "leave": _("The decision table has changes that were not deployed."),
    }


@bp.get("/decisions/<filename>")
@role_required(PROCESS_OWNER)
def decision_edit(filename: str) -> Any:
    if not DMN_FILENAME.match(filename):
        abort(404)
    table = decision_table(runtime(), filename)
    config = {
        "validateUrl": url_for("models.decision_validate"),
        "deployUrl": url_for("models.decision_deploy"),
        "filename": filename,
        "decisionId": table.decision_id,
        "strings": _strings(),
    }
    return render_template("models/decision_edit.html", table=table, config=config)


def _decision_request() -> tuple[str, str, Any]:
    """(filename, xml, None) from the JSON body, or ("", "", an error answer)."""
    body = request.get_json(silent=True) or {}
    filename, xml = body.get("filename"), body.get("xml")
    message = None
    if not isinstance(filename, str) or not DMN_FILENAME.match(filename):
        message = _("The file name must end in .dmn and use letters and digits.")
    elif not isinstance(xml, str) or not xml.strip():
        message = _("The decision table is empty.")
    if message:
        error = {"element_id": None, "file": filename, "message": message}
        return "", "", (jsonify(ok=False, problems=[error]), 400)
    return filename, xml, None


@bp.post("/decisions/validate")
@role_required(PROCESS_OWNER)
def decision_validate() -> Any:
    filename, xml, error = _decision_request()
    if error:
        return error
    problems = problems_json(check_decision(runtime(), filename, xml), filename)
    return jsonify(ok=not problems, problems=problems)


@bp.post("/decisions/deploy")
@role_required(PROCESS_OWNER)
def decision_deploy() -> Any:
    filename, xml, error = _decision_request()
    if error:
        return error
    try:
        results = deploy_decision(runtime(), filename, xml, actor=current_user.name)
    except DefinitionError as exc:
        return jsonify(ok=False, problems=problems_json(exc.problems, filename)), 422
    return jsonify(
        ok=True,
        changed=any(d.changed for d in results),
        processes=[
            {**d.to_dict(), "url": url_for("models.show", key=d.key, version=d.version)}
            for d in results
        ],
    )
