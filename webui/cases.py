"""Supervisors: every case with filters and exports, the case page with its diagram, timeline
and data, case actions (message, reassign, cancel, retry), the incident list and the heat map
of where a process version's running cases wait."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from engine import (
    CaseFilter,
    CaseflowError,
    NotFound,
    Supervision,
    ValidationFailed,
    coerce_form_data,
    datacodec,
    form_fields,
)

from .auth import desk, role_required, runtime
from .messages import translate, translate_errors
from .openapi_schemas import MAX_ID
from .tasks import attachment_list

bp = Blueprint("cases", __name__, url_prefix="/cases")
SUPERVISOR = "supervisor"
PROCESS_OWNER = "process_owner"
STATUSES = ["running", "completed", "cancelled", "error"]


def supervision() -> Supervision:
    """The supervisor's questions on the app's runtime (engine.casework.supervision)."""
    return current_app.extensions.setdefault("caseflow_supervision", Supervision(runtime()))


@bp.before_request
def _no_absurd_task_ids() -> None:
    # Ids beyond what the database stores are unknown (SQLite cannot even bind them: a 500).
    for name in ("task_id", "version"):
        value = (request.view_args or {}).get(name)
        if value is not None and value > MAX_ID:
            kind = name.removesuffix("_id")
            if kind == "task":
                raise NotFound(f"no task {value}", reason="task_not_found", task=value)
            raise NotFound(f"no {kind} {value}", reason="process_version_not_found", id=value)


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


@bp.app_template_filter("case_instant")
def case_instant(text: str) -> str:
    """An ISO 8601 instant kept in case data, in the company's zone ("2026-11-25 10:00");
    text that is no instant as it is."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return text
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(runtime().settings.timezone))
    return value.strftime("%Y-%m-%d %H:%M")


def _version() -> int | None:
    """The version filter (a process's version number, asked for with the process only)."""
    text = request.args.get("version") or ""
    if not text or not request.args.get("process"):
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        abort(400, description=_("A version is a number such as 3."))
    return int(text)


def _filter() -> CaseFilter:
    args = request.args
    return CaseFilter(
        process=args.get("process") or None,
        version=_version(),
        status=args.get("status") or None,
        step=args.get("step") or None,
        overdue=args.get("overdue") == "1",
        assignee=args.get("assignee") or None,
        customer=args.get("customer") or None,
        started_from=_day(args.get("from")),
        started_to=_day(args.get("to"), end=True),
    )


def _query() -> dict[str, str]:
    """The filter's arguments, for links that keep it (paging, exports, the heat map)."""
    return {k: v for k, v in request.args.items() if k not in ("after", "before") and v}


@bp.get("")
@role_required(SUPERVISOR)
def index() -> Any:
    args = request.args
    page = supervision().list_cases(
        _filter(), after=args.get("after") or None, before=args.get("before") or None
    )
    names = supervision().process_names()
    steps = supervision().process_steps()
    process, step = args.get("process") or "", args.get("step") or ""
    versions = supervision().versions_of(process) if process in names else []
    listed = {s for p in steps if not process or p.key == process for s in p.steps}
    return render_template(
        "cases/index.html",
        page=page,
        processes=names,
        steps=steps,
        versions=versions,
        # A step the list of names lacks (an event's id from the heat map), by name.
        step_label=_step_name(process, _version() or (versions or [0])[0], step)
        if step and step not in listed
        else None,
        args=args,
        query=_query(),
        chosen=names.get(process),
    )


def _step_name(process: str, version: int, step: str) -> str:
    """The name of the element `step` in a version of `process` (the step itself when there
    is no such version or element)."""
    if not process or not version:
        return step
    try:
        return supervision().diagram(process, version).name(step) or step
    except NotFound:
        return step


# ----- exports ---------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "number",
    "process",
    "status",
    "outcome",
    "steps",
    "assignees",
    "customer_name",
    "customer_phone",
    "service_item",
    "started_at",
    "ended_at",
]


def _export_table() -> tuple[str, list[str], list[list[Any]]]:
    status, outcome = (current_app.jinja_env.filters[n] for n in ("status", "outcome"))
    labels = {
        "number": _("Case"),
        "process": _("Process"),
        "status": _("Status"),
        "outcome": _("Outcome"),
        "steps": _("Current step"),
        "assignees": _("Assignee"),
        "customer_name": _("Customer"),
        "customer_phone": _("Phone"),
        "service_item": _("Service"),
        "started_at": _("Started"),
        "ended_at": _("Ended"),
    }
    zone = ZoneInfo(runtime().settings.timezone)

    def local(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    body = [
        [
            row.number,
            row.process_name or row.process,
            status(row.status),
            outcome(row.outcome),
            "、".join(dict.fromkeys(t["name"] for t in row.open_tasks)),
            "、".join(dict.fromkeys(t["assignee"] for t in row.open_tasks if t["assignee"])),
            row.customer_name or "",
            row.customer_phone or "",
            row.service_item or "",
            local(row.started_at),
            local(row.ended_at),
        ]
        for row in supervision().export_cases(_filter())
    ]
    stamp = runtime().clock.now().astimezone(zone).strftime("%Y%m%d-%H%M")
    return f"cases-{stamp}", [labels[c] for c in EXPORT_COLUMNS], body


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/export.csv")
@role_required(SUPERVISOR)
def export_csv() -> Response:
    name, header, body = _export_table()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(body)
    return Response(
        "\ufeff" + buffer.getvalue(),  # BOM so spreadsheet programs read UTF-8 Chinese
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}.csv"},
    )


@bp.get("/export.xlsx")
@role_required(SUPERVISOR)
def export_xlsx() -> Response:
    from openpyxl import Workbook

    name, header, body = _export_table()
    book = Workbook()
    sheet = book.active
    sheet.title = _("Cases")[:31]
    sheet.append(header)
    for row in body:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        mimetype=XLSX,
        headers={"Content-Disposition": f"attachment; filename={name}.xlsx"},
    )


# ----- incidents and the heat map ------------------------------------------------------------


@bp.get("/incidents")
@role_required(SUPERVISOR)
def incidents() -> Any:
    found, total = supervision().incidents()
    return render_template("cases/incidents.html", incidents=found, total=total)


@bp.get("/heatmap/<key>")
@role_required(SUPERVISOR, PROCESS_OWNER)
def heat_map_latest(key: str) -> Any:
    versions = supervision().versions_of(key)
    return redirect(url_for("cases.heat_map", key=key, version=versions[0]))


@bp.get("/heatmap/<key>/<int:version>")
@role_required(SUPERVISOR, PROCESS_OWNER)
def heat_map(key: str, version: int) -> Any:
    heat = supervision().heat_map(key, version)
    source = desk().version_source(key, version)
    return render_template(
        "cases/heatmap.html",
        heat=heat,
        source=source,
        versions=supervision().versions_of(key),
        heat_json=json.dumps(heat.by_element()),
    )


@bp.get("/heatmap/<key>/<int:version>/counts")
@role_required(SUPERVISOR, PROCESS_OWNER)
def heat_counts(key: str, version: int) -> Any:
    """The heat map's counts as JSON, for the case page's diagram (asked for when shown)."""
    return jsonify(supervision().heat_map(key, version).by_element())


# ----- the case page ---------------------------------------------------------------------------


def _case_parts(number: str) -> dict[str, Any]:
    case = runtime().get_case(number)
    sup = supervision()
    source = desk().version_source(case.process, case.version)
    awaited: dict[str, list[str]] = {}
    for element, message in sup.message_waits(case):
        awaited.setdefault(element, []).append(message)
    markers = {
        "active": case.active_elements,
        "completed": case.completed_elements,
        "waiting": sorted({t.element_id for t in case.timers} | set(awaited)),
        "message": sorted(awaited),
        "error": [case.error_element] if case.error_element else [],
        # What the element waits for, said when the pointer rests on it.
        "titles": {
            element: _("Waiting for message %(message)s", message="、".join(messages))
            for element, messages in awaited.items()
        },
    }
    groups, unlabelled = sup.data_groups(case)
    names = sup.element_names(case)
    return {
        "case": case,
        "source": source,
        "markers_json": json.dumps(markers),
        "timeline": sup.timeline(case),
        "groups": groups,
        "unlabelled": unlabelled,
        "data_json": json.dumps(case.data, ensure_ascii=False, indent=2, default=str),
        "messages": sup.message_choices(case),
        "holders": {t.role: sup.role_holders(t.role) for t in case.open_tasks},
        "timer_names": {t.element_id: names.get(t.element_id) for t in case.timers},
        "error_name": names.get(case.error_element or "", case.error_element),
        "process_name": source["name"],
        "attachments": attachment_list(number),
    }


@bp.get("/<number>")
@role_required(SUPERVISOR)
def show(number: str) -> Any:
    parts = _case_parts(number)
    desk().record_view(current_user.name, number, "case_page")
    return render_template("cases/show.html", **parts)


def _done(message: str, number: str) -> Any:
    flash(message)
    return redirect(url_for("cases.show", number=number))


def _fail(exc: CaseflowError, number: str) -> Any:
    flash(_("Not done: %(reason)s", reason=translate(exc)))
    return redirect(url_for("cases.show", number=number))


# ----- cancel: a confirmation page with a required reason ------------------------------------


def _cancel_page(number: str, reason: str = "", errors: dict | None = None, status: int = 200):
    case = runtime().get_case(number, history_limit=0)
    if case.status not in ("running", "error"):
        flash(_("This case has ended; it cannot be cancelled."))
        return redirect(url_for("cases.show", number=number))
    names = supervision().element_names(case)
    return render_template(
        "cases/cancel.html",
        case=case,
        reason=reason,
        errors=errors or {},
        timer_names={t.element_id: names.get(t.element_id) for t in case.timers},
        process_name=supervision().process_names().get(case.process, (case.process, 0))[0],
    ), status


@bp.get("/<number>/cancel")
@role_required(SUPERVISOR)
def cancel_form(number: str) -> Any:
    return _cancel_page(number)


@bp.post("/<number>/cancel")
@role_required(SUPERVISOR)
def cancel(number: str) -> Any:
    reason = request.form.get("reason", "").strip()
    if request.form.get("confirmed") != "yes":
        # Not from the confirmation page: show it, nothing changes yet.
        return _cancel_page(number, reason)
    if not reason:
        return _cancel_page(
            number, reason, {"reason": [_("Write why the case is cancelled.")]}, 422
        )
    try:
        runtime().cancel_case(number, reason, actor=current_user.name)
    except ValidationFailed as exc:
        return _cancel_page(number, reason, translate_errors(exc.errors), 422)
    except CaseflowError as exc:
        return _fail(exc, number)
    return _done(_("Case cancelled."), number)


# ----- retry: the case's fields under their labels, raw JSON as an advanced option -------------


def _retry_page(
    number: str, values: dict | None = None, errors: dict | None = None, raw: str = "", status=200
):
    case = runtime().get_case(number, history_limit=0)
    if case.status != "error":
        flash(_("This case is not in error; there is nothing to retry."))
        return redirect(url_for("cases.show", number=number))
    form = runtime().correction_form(number)
    fields = form_fields(form.schema)
    groups = [
        (label, [f for f in fields if f["name"].split(".", 1)[0] in names])
        for label, names in form.groups
    ]
    return render_template(
        "cases/retry.html",
        case=case,
        groups=groups,
        values=form.values if values is None else values,
        errors=errors or {},
        raw=raw,
        error_name=supervision().element_names(case).get(case.error_element or "")
        or case.error_element,
        process_name=supervision().process_names().get(case.process, (case.process, 0))[0],
    ), status


@bp.get("/<number>/retry")
@role_required(SUPERVISOR)
def retry_form(number: str) -> Any:
    return _retry_page(number)


def _posted_object(text: str) -> dict[str, Any]:
    """The advanced field's JSON object ({} when empty); ValidationFailed when it is not one."""
    try:
        data = datacodec.parse_json(text or "{}")
    except datacodec.DataError as exc:
        raise ValidationFailed("raw data", {"data": [str(exc)]}) from None
    if not isinstance(data, dict):
        raise ValidationFailed("raw data", {"data": [_('Write a JSON object: {"name": value}.')]})
    return data


@bp.post("/<number>/retry")
@role_required(SUPERVISOR)
def retry(number: str) -> Any:
    raw = (request.form.get("data") or "").strip()
    values: dict[str, Any] | None = None
    try:
        if raw and raw != "{}":
            try:
                runtime().retry_case(number, actor=current_user.name, data=_posted_object(raw))
            except ValidationFailed as exc:  # said beside the JSON, whatever path it names
                messages = translate_errors(exc.errors)
                raise ValidationFailed(
                    "raw data",
                    {
                        "data": [
                            f"{k}: {m}" if k and k != "data" else m
                            for k, ms in messages.items()
                            for m in ms
                        ]
                    },
                ) from None
        else:
            form = runtime().correction_form(number)
            values = coerce_form_data(form.schema, request.form)
            runtime().retry_case_corrected(number, values, actor=current_user.name)
    except ValidationFailed as exc:
        return _retry_page(number, values, translate_errors(exc.errors), raw, 422)
    except CaseflowError as exc:
        return _fail(exc, number)
    return _done(_("The failed step was run again."), number)


# ----- messages: chosen from those the case waits for, with the message's form ---------------


def _message_page(
    number: str,
    name: str | None,
    values: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
):
    case = runtime().get_case(number, history_limit=0)
    choices = supervision().message_choices(case)
    chosen = next((c for c in choices if c.name == name), None)
    if chosen is None and len(choices) == 1 and not name:
        chosen = choices[0]
    schema = runtime().message_form(number, chosen.name) if chosen else None
    return render_template(
        "cases/message.html",
        case=case,
        choices=choices,
        chosen=chosen,
        schema=schema,
        fields=form_fields(schema) if schema else [],
        values=values or {},
        errors=errors or {},
        unknown=bool(name) and chosen is None,
        process_name=supervision().process_names().get(case.process, (case.process, 0))[0],
    ), status


@bp.get("/<number>/message")
@role_required(SUPERVISOR)
def message_form(number: str) -> Any:
    return _message_page(number, request.args.get("name") or None)


@bp.post("/<number>/message")
@role_required(SUPERVISOR)
def message(number: str) -> Any:
    name = request.form.get("name", "").strip()
    schema = runtime().message_form(number, name) if name else None
    values = coerce_form_data(schema, request.form) if schema else {}
    if schema is None and request.form.get("note", "").strip():
        values = {"note": request.form["note"].replace("\r\n", "\n").strip()}
    try:
        runtime().send_message_form(number, name, values, actor=current_user.name)
    except ValidationFailed as exc:
        return _message_page(number, name, values, translate_errors(exc.errors), 422)
    except CaseflowError as exc:
        return _fail(exc, number)
    return _done(_("Message delivered."), number)


# ----- reassign: to a holder of the task's role -----------------------------------------------


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
