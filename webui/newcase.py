"""Staff: start a case from the desk (a phone booking, a complaint, a repair, a placement) with
the process's staff start form. The processes offered, the form, the checks and the start are
the engine's (engine.staff: start roles, `startable`, the same validation as the API)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import ValidationFailed, attachments, coerce_form_data, form_fields, portal, staff

from .auth import desk, runtime
from .messages import translate_errors

bp = Blueprint("newcase", __name__, url_prefix="/new")
CUSTOMER_ARGS = ("customer_name", "phone")


def _customer() -> dict[str, str]:
    """The customer a "new case for this customer" link carries (name, phone)."""
    return {k: request.args[k][:200] for k in CUSTOMER_ARGS if request.args.get(k)}


@bp.get("")
@login_required
def index() -> Any:
    return render_template(
        "newcase/index.html",
        options=staff.startable(runtime(), current_user.name),
        customer=_customer(),
    )


def _fields(schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The form's fields; a field whose options are the company's service items
    ("x-source": "service_items", as on the booking pages) is offered as their list."""
    fields = form_fields(schema) if schema else []
    sources = {
        name: prop.get("x-source")
        for name, prop in ((schema or {}).get("properties") or {}).items()
        if isinstance(prop, dict)
    }
    if "service_items" in sources.values():
        items = portal.service_items(runtime())
        for field in fields:
            if sources.get(field["name"]) == "service_items" and items:
                field["enum"] = [code for code, _label in items]
                field["labels"] = [label for _code, label in items]
    return fields


def _form_key(text: str | None) -> str | None:
    text = (text or "").strip()
    return text if len(text) == 32 and all(c in "0123456789abcdef" for c in text) else None


def _target(started: Any) -> str:
    """Where a started case goes: the first task the starter may work on, else the case."""
    number = started.case.number
    if started.task_id is not None:
        return url_for("tasks.task", task_id=started.task_id)
    if current_user.has_role("supervisor"):
        return url_for("cases.show", number=number)
    if started.visible:
        return url_for("search.index", q=number)
    return url_for("tasks.inbox")


@bp.route("/<key>", methods=["GET", "POST"])
@login_required
def start(key: str) -> Any:
    option = staff.start_option(runtime(), current_user.name, key)
    schema = option.schema
    values: dict[str, Any] = staff.customer_values(
        schema, request.args.get("customer_name"), request.args.get("phone")
    )
    errors: dict[str, list[Any]] = {}
    form_key = _form_key(request.form.get("form_key")) if request.method == "POST" else None
    if request.method == "POST":
        form_key = form_key or secrets.token_hex(16)
        values = coerce_form_data(schema, request.form) if schema else {}
        try:
            started = staff.start(runtime(), current_user.name, key, values, form_key)
        except ValidationFailed as exc:
            errors = exc.errors or {"": [str(exc)]}
        else:
            number = started.case.number
            # A repeat (a double click that reached another server process first) starts
            # nothing and stores nothing: it goes where the first post went.
            uploads = [] if started.case.repeated else request.files.values()
            for upload in uploads:
                if upload and upload.filename:
                    try:
                        desk().store_attachment(
                            number,
                            upload.filename,
                            upload.read(attachments.MAX_BYTES + 1),
                            current_user.name,
                        )
                    except ValidationFailed:
                        flash(_("The file %(name)s was refused.", name=upload.filename))
            if not started.case.repeated:
                flash(_("Case %(number)s started.", number=number))
            return redirect(_target(started), 303)
    return render_template(
        "newcase/form.html",
        option=option,
        fields=_fields(schema),
        values=values,
        errors=translate_errors(errors),
        customer=_customer(),
        # The same key again after errors: this is still the one case being started.
        form_key=form_key or secrets.token_hex(16),
    ), (422 if errors else 200)
