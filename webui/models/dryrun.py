"""The dry run on the modeler page: the draft being edited run against a scenario in a
throw-away database (engine.casework.dryrun), answered as JSON for the page's panel
(templates/models/_dry_run.html, static/dry-run.js). Only process owners may run one (the
engine's rule, engine.core.rules.model_refusal), as only they may deploy.

What the engine says (the report's notes and failed steps, the scenario's problems, the start
form's field errors) is coded; the answer says each in the page's language, with its "code"
and "params" beside the text for clients that say it in their own words."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import (
    Conflict,
    DefinitionError,
    ScenarioError,
    dry_run_diagram,
    model_refusal,
    simplest_start_data,
)

from ..auth import runtime
from ..errors import json_params
from ..messages import translate, translate_errors
from . import bp
from .diagrams import diagram_request, problems_json


def _check_owner() -> None:
    """403 (the error page, as for the other process owners' pages) unless the signed-in
    user may work on process definitions."""
    if model_refusal(set(current_user.roles), current_user.name) is not None:
        abort(403)


@bp.post("/<key>/dry-run")
@login_required
def dry_run(key: str) -> Any:
    """Body: {"filename", "xml", "scenario"}; answers {"ok": true, "report": {...}}, or 422
    with the scenario's problems ("errors", by where) or the draft's ("problems")."""
    _check_owner()
    filename, xml, error = diagram_request()
    if error:
        return error
    scenario = (request.get_json(silent=True) or {}).get("scenario")
    try:
        report = dry_run_diagram(runtime(), filename, xml, key, scenario)
    except ScenarioError as exc:
        return jsonify(
            ok=False,
            message=_("The scenario cannot be run; nothing was run."),
            reason=exc.reason,
            params=json_params(exc.params),
            errors=translate_errors(exc.errors),
            codes=_codes(exc.errors),
        ), 422
    except DefinitionError as exc:
        return jsonify(
            ok=False,
            message=_("The draft cannot be deployed, so it cannot be run."),
            problems=problems_json(exc.problems, filename),
        ), 422
    except Conflict:
        return jsonify(ok=False, message=_("Other dry runs are running; try again shortly.")), 409
    return jsonify(ok=True, report=report.to_dict(say=translate))


def _codes(errors: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    """The code and params of each message of a field-error map, beside its text."""
    return {
        where: [
            {"code": getattr(m, "code", None), "params": json_params(getattr(m, "params", None))}
            for m in messages
        ]
        for where, messages in (errors or {}).items()
    }


@bp.get("/<key>/dry-run/start-data")
@login_required
def dry_run_start_data(key: str) -> Any:
    """The simplest valid answers to the process's start form at `?start=` (company time;
    now when left out), to prefill the scenario's start data."""
    _check_owner()
    at = request.args.get("start") or None
    try:
        data = simplest_start_data(runtime(), key, at)
    except ValueError:
        return jsonify(ok=False, message=_("Not a valid date and time.")), 422
    return jsonify(ok=True, data=data)
