"""Booking online: the list of bookable services, a service's booking page (its form with
items, stores and free times by their names, the personal-data notice, one booking per form
however often it is posted), the confirmation, and the live check of a picked day or time."""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from engine import NotFound, ValidationFailed, attachments, coerce_form_data, form_fields, portal

from ..auth import desk, runtime
from ..portal_keys import BOOKED, booked_in_session, digest, remember, valid_form_key
from ..portal_text import portal_errors, portal_message, when_words
from . import bp
from .pickers import earliest


@bp.get("")
def index() -> Any:
    return render_template("portal/index.html", pages=portal.bookable(runtime()))


def _store_label(store: Any) -> str:
    return (
        _("%(name)s (%(address)s)", name=store.name, address=store.address)
        if store.address
        else store.name
    )


def _privacy_notice(page: Any) -> dict[str, Any]:
    """The booking page's personal-data notice (engine.casework.portal.privacy_notice) in the
    page's language: the personal fields by what they are, the roles by their names."""
    notice = portal.privacy_notice(runtime(), page)
    labels = {
        "customer_name": _("name"),
        "contact_name": _("name"),
        "phone": _("phone number"),
        "mobile": _("phone number"),
        "customer_phone": _("phone number"),
        "email": _("e-mail address"),
        "customer_email": _("e-mail address"),
        "address": _("address"),
        "customer_address": _("address"),
        "id_number": _("ID number"),
        "contact": _("contact details"),
    }
    fields = []
    for field in notice.fields:
        label = labels.get(field.name, field.title)
        fields.append(label if field.required else _("%(field)s (if given)", field=label))
    roles = runtime().settings.roles
    return {
        "fields": list(dict.fromkeys(fields)),
        "roles": [roles.get(role, role) for role in notice.roles],
        "retention_days": notice.retention_days,
    }


@bp.get("/check")
def check() -> Any:
    """The calendar rule for one picked day or time (the page asks as the customer picks, so
    a closed day is refused beside the field before the form is sent; the post checks again).
    A booking page's time field also names its process and field (and whether the request is
    marked urgent), so its lead in working days is asked too."""
    kind = request.args.get("kind", "time")
    value = (request.args.get("value") or "")[:40]
    store = (request.args.get("store") or "")[:100] or None
    item = (request.args.get("item") or "")[:60] or None
    process = (request.args.get("process") or "")[:100]
    field = (request.args.get("field") or "")[:100]
    urgent = request.args.get("urgent") in ("1", "true", "on")
    rt = runtime()
    page = None
    if kind != "day" and process and field:
        try:
            page = portal.page(rt, process)
        except NotFound:
            page = None
    if kind == "day":
        refused = portal.check_day(rt, value, store, item)
    elif page is not None:
        refused = portal.check_booking_time(rt, page, field, value, store, item, urgent=urgent)
    else:
        refused = portal.check_time(rt, value, store, item)
    if refused is None:
        return jsonify({"ok": True})
    return jsonify({"ok": False, "message": portal_message(refused)})


def _labelled(fields: list[dict[str, Any]], live: Any) -> list[dict[str, Any]]:
    """The form's fields with the labels customers read: items and stores by their names (a
    store with its address), free times in words."""
    for f in fields:
        if f["name"] == live.item_field:
            f["labels"] = [name for _, name in live.items]
        elif f["name"] == live.store_field:
            f["labels"] = [_store_label(s) for s in live.stores]
        elif f["name"] == live.slot_field:
            f["labels"] = [when_words(t) for t in f["enum"] or []]
    return fields


@bp.route("/<key>", methods=["GET", "POST"])
def book(key: str) -> Any:
    try:
        page = portal.page(runtime(), key)
    except NotFound:
        abort(404)
    source = request.form if request.method == "POST" else request.args
    live = portal.live_form(runtime(), page, source)
    schema = live.schema
    values: dict[str, Any] = {k: v for k, v in request.args.items() if k != "day"}
    errors: dict[str, list[Any]] = {}
    form_key = valid_form_key(request.form.get("form_key")) if request.method == "POST" else None
    if request.method == "POST":
        if form_key is None:
            form_key = secrets.token_hex(16)  # a post without one (an old page) books once
        values = coerce_form_data(schema, request.form)
        values_digest = digest(key, values)
        earlier = booked_in_session(form_key, values_digest)
        if earlier:
            remember(*earlier)  # shown again as this page's latest booking
            return redirect(url_for("portal.booked", key=key), 303)
        try:
            booking = portal.book_once(runtime(), key, values, schema=schema, form_key=form_key)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            refused_files = []
            # A repeat (a double click that reached another server process first) books
            # nothing and stores nothing: the first post took the files.
            uploads = [] if booking.repeated else request.files.values()
            for upload in uploads:
                if upload and upload.filename:
                    try:
                        desk().store_attachment(
                            booking.number,
                            upload.filename,
                            upload.read(attachments.MAX_BYTES + 1),
                            "customer",
                        )
                    except ValidationFailed:
                        refused_files.append(upload.filename)
            remember(form_key, key, booking.number, refused_files, values_digest)
            return redirect(url_for("portal.booked", key=key), 303)
    fields = _labelled(form_fields(schema), live)
    chosen = {
        "item": str(source.get(live.item_field) or "") if live.item_field else "",
        "store": str(source.get(live.store_field) or "") if live.store_field else "",
    }
    return render_template(
        "portal/book.html",
        page=page,
        fields=fields,
        values=values,
        errors=portal_errors(errors),
        live=live,
        chosen=chosen,
        day_error=portal_message(live.day_refused) if live.day_refused else None,
        mins=earliest(page, values),
        notice=_privacy_notice(page),
        # The same key again after errors: this is still the one booking being made.
        form_key=form_key or secrets.token_hex(16),
    ), (422 if errors else 200)


@bp.get("/<key>/booked")
def booked(key: str) -> Any:
    """The confirmation of this browser's latest booking on this page (from its session)."""
    try:
        page = portal.page(runtime(), key)
    except NotFound:
        abort(404)
    mine = [b for b in session.get(BOOKED, []) if b[1] == key]
    if not mine:
        return redirect(url_for("portal.book", key=key))
    number, refused_files = mine[-1][2], mine[-1][3]
    return render_template(
        "portal/booked.html", page=page, number=number, refused_files=refused_files
    )
