"""A booking looked up by its number or reference and the phone number: its stage, and a
change of time or a cancellation asked for when the process would accept it now (why not,
when it would not). Lookups are limited against guessing (lookups.py)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext as _

from engine import InvalidState, NotFound, ValidationFailed, portal

from ..auth import runtime
from ..portal_text import portal_errors, portal_message, stage_words
from . import bp
from .lookups import lookup_failed, lookup_succeeded, lookup_wait, too_many
from .pickers import earliest


def _status_page(found: Any, phone: str, **extra: Any) -> Any:
    booked = found.booked
    item = found.details.get("service_item")
    return render_template(
        "portal/status.html",
        booking=found,
        booked=booked,
        stage=stage_words(found.stage, found.outcome),
        change_why_not=portal_message(found.change.why_not) if found.change.why_not else "",
        change_notice=portal_message(found.change.notice) if found.change.notice else "",
        cancel_why_not=portal_message(found.cancel.why_not) if found.cancel.why_not else "",
        cancel_notice=portal_message(found.cancel.notice) if found.cancel.notice else "",
        check_item=item if isinstance(item, str) else "",
        phone=phone,
        mins=earliest(),
        **{"message": None, "refused": None, "errors": {}, "values": {}, **extra},
    )


@bp.route("/status", methods=["GET", "POST"])
def status() -> Any:
    if request.method == "GET":
        return render_template("portal/lookup.html", error=None, number="")
    number = (request.form.get("number") or "").strip()[:80]
    phone = (request.form.get("phone") or "").strip()[:40]
    wait, scope = lookup_wait(number)
    if wait:
        return too_many(wait, scope, number)
    try:
        found = portal.status(runtime(), number, phone)
    except NotFound:
        lookup_failed(number)
        return render_template("portal/lookup.html", error="not_found", number=number), 404
    lookup_succeeded(number)
    return _status_page(found, phone)


@bp.post("/request")
def change() -> Any:
    number = (request.form.get("number") or "").strip()[:80]
    phone = (request.form.get("phone") or "").strip()[:40]
    kind = request.form.get("kind", "")
    wait, scope = lookup_wait(number)
    if wait:
        return too_many(wait, scope, number)
    # The page's fields are the contract's (engine.casework.portal.request_payload): the new
    # time as the datetime-local input posts it (company time), and the reason.
    fields = ("new_start", "reason") if kind == "change" else ("reason",)
    data = {name: request.form.get(name, "") for name in fields}
    refused = None
    errors: dict[str, list[str]] = {}
    try:
        portal.request_change(runtime(), number, phone, kind, data)
    except NotFound:
        lookup_failed(number)
        return render_template("portal/lookup.html", error="not_found", number=number), 404
    except InvalidState as exc:
        refused = portal_message(exc)
    except ValidationFailed as exc:
        errors = portal_errors(exc.errors)
        if not errors.get("new_start"):
            refused = _("the request is incomplete")
    lookup_succeeded(number)
    found = portal.status(runtime(), number, phone)
    return _status_page(
        found,
        phone,
        message=None if refused or errors else kind,
        refused=refused,
        errors=errors,
        values=data if errors else {},
    ), (409 if refused else 422 if errors else 200)
