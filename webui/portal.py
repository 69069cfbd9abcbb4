"""Customers (no sign-in): book online, see a booking by number + phone, change or cancel it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _

from engine import portal
from engine.errors import InvalidState, NotFound, ValidationFailed
from engine.forms import coerce_form_data, form_fields

from .auth import runtime
from .limits import RateLimiter
from .tasks import _lang

bp = Blueprint("portal", __name__, url_prefix="/book")


def _limiter() -> RateLimiter:
    return current_app.extensions.setdefault(
        "caseflow_portal_limiter",
        RateLimiter(current_app.config.get("PORTAL_LOOKUPS_PER_10_MIN", 10), 600),
    )


@bp.get("")
def index() -> Any:
    return render_template("portal/index.html", pages=portal.bookable(runtime()))


@bp.route("/<key>", methods=["GET", "POST"])
def book(key: str) -> Any:
    try:
        page = portal.page(runtime(), key)
    except NotFound:
        abort(404)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = coerce_form_data(page.schema, request.form)
        try:
            number = portal.book(runtime(), key, values, lang=_lang())
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            return render_template("portal/booked.html", page=page, number=number), 201
    return render_template(
        "portal/book.html", page=page, fields=form_fields(page.schema), values=values, errors=errors
    ), (422 if errors else 200)


@bp.route("/status", methods=["GET", "POST"])
def status() -> Any:
    if request.method == "GET":
        return render_template("portal/lookup.html", error=None)
    number = (request.form.get("number") or "").strip()
    phone = (request.form.get("phone") or "").strip()
    if not _limiter().allow(request.remote_addr or "?"):
        return render_template("portal/lookup.html", error="too_many"), 429
    try:
        found = portal.status(runtime(), number, phone)
    except NotFound:
        return render_template("portal/lookup.html", error="not_found"), 404
    return render_template(
        "portal/status.html", booking=found, phone=phone, message=None, refused=None
    )


@bp.post("/request")
def change() -> Any:
    number = (request.form.get("number") or "").strip()
    phone = (request.form.get("phone") or "").strip()
    kind = request.form.get("kind", "")
    if not _limiter().allow(request.remote_addr or "?"):
        return render_template("portal/lookup.html", error="too_many"), 429
    data: dict[str, Any] = {}
    if kind == "change":
        data = {"new_time": request.form.get("new_time", ""), "note": request.form.get("note", "")}
    elif kind == "cancel":
        data = {"reason": request.form.get("reason", "")}
    refused = None
    try:
        portal.request_change(runtime(), number, phone, kind, data)
    except NotFound:
        return render_template("portal/lookup.html", error="not_found"), 404
    except InvalidState:
        refused = _(
            "this booking can no longer be changed or cancelled online (it is too close to the "
            "appointment, already being handled, or finished); please call customer service"
        )
    except ValidationFailed:
        refused = _("the request is incomplete")
    found = portal.status(runtime(), number, phone)
    return render_template(
        "portal/status.html",
        booking=found,
        phone=phone,
        message=None if refused else kind,
        refused=refused,
    ), (409 if refused else 200)
