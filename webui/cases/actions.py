"""What a supervisor does to a case from its page: cancel it (a confirmation page with a
required reason), retry a failed step (the case's fields under their labels, raw JSON as an
advanced option), deliver a message the case waits for (with the message's form) and reassign
an open task to another holder of its role. Each ends back on the case page with what was
done or why not."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import CaseflowError, ValidationFailed, coerce_form_data, datacodec, form_fields

from ..auth import role_required, runtime
from ..messages import translate, translate_errors
from . import SUPERVISOR, bp, supervision


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
