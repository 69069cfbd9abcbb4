"""Supervisors: every case with filters, the case page with its diagram, and case actions."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import (
    CaseFilter,
    CaseflowError,
    NotFound,
    datacodec,
)

from .auth import desk, role_required, runtime
from .messages import translate
from .openapi_schemas import MAX_ID
from .tasks import attachment_list

bp = Blueprint("cases", __name__, url_prefix="/cases")
SUPERVISOR = "supervisor"


@bp.before_request
def _no_absurd_task_ids() -> None:
    # Ids beyond what the database stores are unknown (SQLite cannot even bind them: a 500).
    task_id = (request.view_args or {}).get("task_id")
    if task_id is not None and task_id > MAX_ID:
        raise NotFound(f"no task {task_id}", reason="task_not_found", task=task_id)


MIN_YEAR, MAX_YEAR = 1900, 2999


def _day(text: str | None, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        abort(400, description=_("Dates are written YYYY-MM-DD."))
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        abort(400, description=_("Dates must lie between %(a)s and %(b)s.", a=MIN_YEAR, b=MAX_YEAR))
    zone = ZoneInfo(runtime().settings.timezone)
    return datetime.combine(day + timedelta(days=1 if end else 0), time(0), zone)


@bp.get("")
@role_required(SUPERVISOR)
def index() -> Any:
    args = request.args
    flt = CaseFilter(
        process=args.get("process") or None,
        status=args.get("status") or None,
        step=args.get("step") or None,
        overdue=args.get("overdue") == "1",
        assignee=args.get("assignee") or None,
        customer=args.get("customer") or None,
        started_from=_day(args.get("from")),
        started_to=_day(args.get("to"), end=True),
    )
    page = desk().list_cases(flt, after=args.get("after"))
    query = {k: v for k, v in args.items() if k != "after" and v}
    return render_template(
        "cases/index.html", page=page, processes=desk().process_keys(), args=args, query=query
    )


@bp.get("/<number>")
@role_required(SUPERVISOR)
def show(number: str) -> Any:
    case = runtime().get_case(number)
    desk().record_view(current_user.name, number, "case_page")
    source = desk().version_source(case.process, case.version)
    markers = {
        "active": case.active_elements,
        "completed": case.completed_elements,
        "waiting": sorted({t.element_id for t in case.timers}),
        "error": [case.error_element] if case.error_element else [],
    }
    return render_template(
        "cases/show.html",
        case=case,
        source=source,
        markers_json=json.dumps(markers),
        data_json=json.dumps(case.data, ensure_ascii=False, indent=2, default=str),
        attachments=attachment_list(number),
    )


def _done(message: str, number: str) -> Any:
    flash(message)
    return redirect(url_for("cases.show", number=number))


def _fail(exc: CaseflowError, number: str) -> Any:
    flash(_("Not done: %(reason)s", reason=translate(exc)))
    return redirect(url_for("cases.show", number=number))


@bp.post("/<number>/cancel")
@role_required(SUPERVISOR)
def cancel(number: str) -> Any:
    try:
        runtime().cancel_case(number, request.form.get("reason", ""), actor=current_user.name)
    except CaseflowError as exc:
        return _fail(exc, number)
    return _done(_("Case cancelled."), number)


def _posted_object(number: str) -> dict[str, Any] | None:
    """The form's "data" field as a JSON object ({} when empty); None (with a message shown)
    when it is not one."""
    try:
        data = datacodec.parse_json(request.form.get("data") or "{}")
        if not isinstance(data, dict):
            raise ValueError
    except datacodec.DataError as exc:
        flash(_("Message data cannot be used: %(reason)s", reason=str(exc)))
        return None
    except ValueError:
        flash(_("Message data must be a JSON object."))
        return None
    return data


@bp.post("/<number>/retry")
@role_required(SUPERVISOR)
def retry(number: str) -> Any:
    data = _posted_object(number)
    if data is None:
        return redirect(url_for("cases.show", number=number))
    try:
        runtime().retry_case(number, actor=current_user.name, data=data or None)
    except CaseflowError as exc:
        return _fail(exc, number)
    return _done(_("The failed step was run again."), number)


@bp.post("/<number>/message")
@role_required(SUPERVISOR)
def message(number: str) -> Any:
    data = _posted_object(number)
    if data is None:
        return redirect(url_for("cases.show", number=number))
    try:
        runtime().send_message(
            number, request.form.get("name", "").strip(), data, actor=current_user.name
        )
    except CaseflowError as exc:
        return _fail(exc, number)
    return _done(_("Message delivered."), number)


@bp.post("/<number>/tasks/<int:task_id>/reassign")
@role_required(SUPERVISOR)
def reassign(number: str, task_id: int) -> Any:
    task = runtime().get_task(task_id)
    if task.case_number != number:
        abort(404)
    try:
        runtime().reassign(task_id, request.form.get("user", "").strip(), actor=current_user.name)
    except CaseflowError as exc:
        return _fail(exc, number)
    return _done(_("Task reassigned."), number)
