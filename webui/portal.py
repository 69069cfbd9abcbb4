"""Customers (no sign-in): book online, see a booking by the number or reference its messages
print and the phone number, change or cancel it when the process would accept that now, and
answer what a message asks them from the link in it (engine.casework.links).

Every rule is the engine's (engine.portal): which days and times may be picked, what can still
be done with a booking and why not; these views parse the posts, ask it and render. What the
pages say (times in words, the engine's reasons) is webui.portal_text.

Lookups are limited against guessing without locking out a customer who uses the page
normally. Only failed lookups count (a customer who gets it right is never held up by their
own earlier typos), in sliding 10-minute windows kept in the database (webui/limits.py: every
server process counts the same failures, a restart keeps them, addresses and booking numbers
are stored only as keyed hashes): per address (PORTAL_LOOKUPS_PER_10_MIN, 30: an office or a
mobile network shares one address, so it is the larger limit) and per booking named
(PORTAL_BOOKING_FAILURES_PER_10_MIN, 10: a phone number cannot be guessed for a known booking
number from many addresses). One customer's burst of typos on their own booking meets
its booking limit long before the address limit, so another customer behind the same address
still gets in. Over either limit the page answers 429 with Retry-After and says how long to
wait, before checking anything, so a right guess is not confirmed either. A correct lookup
clears its booking's count, not its address's."""

from __future__ import annotations

import math
import secrets
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from engine import (
    InvalidState,
    NotFound,
    ValidationFailed,
    attachments,
    coerce_form_data,
    form_fields,
    links,
    portal,
)

from .auth import desk, runtime
from .limits import RateLimiter, rate_limiter
from .portal_keys import (
    BOOKED,
    booked_in_session,
    digest,
    remember,
    valid_form_key,
)
from .portal_text import (
    clock_words,
    input_value,
    portal_errors,
    portal_message,
    stage_words,
    when_words,
)

bp = Blueprint("portal", __name__, url_prefix="/book")

WINDOW_S = 600


@bp.app_template_filter("when")
def when_filter(value: Any, with_time: bool = True) -> str:
    """The one way customer pages write a time: company zone, in words."""
    return when_words(value, with_time)


@bp.app_template_filter("clock")
def clock_filter(value: Any) -> str:
    return clock_words(value)


@bp.app_template_filter("input_value")
def input_value_filter(value: Any) -> str:
    return input_value(value)


def _address_failures() -> RateLimiter:
    return rate_limiter(
        "portal_address", current_app.config.get("PORTAL_LOOKUPS_PER_10_MIN", 30), WINDOW_S
    )


def _booking_failures() -> RateLimiter:
    return rate_limiter(
        "portal_booking",
        current_app.config.get("PORTAL_BOOKING_FAILURES_PER_10_MIN", 10),
        WINDOW_S,
    )


def _link_limiter() -> RateLimiter:
    return rate_limiter(
        "portal_link", current_app.config.get("PORTAL_LINK_OPENS_PER_10_MIN", 30), WINDOW_S
    )


def _address() -> str:
    return request.remote_addr or "?"


def _lookup_wait(reference: str) -> tuple[int, str]:
    """Seconds to wait before this lookup may be tried, and whose limit it is ("address" or
    "booking"); (0, "") when it may be tried now. Counts nothing."""
    by_address = _address_failures().wait(_address())
    key = portal.lookup_key(reference)
    by_booking = _booking_failures().wait(key) if key else 0
    if by_booking > by_address:
        return by_booking, "booking"
    return (by_address, "address") if by_address else (0, "")


def _lookup_failed(reference: str) -> None:
    _address_failures().add(_address())
    key = portal.lookup_key(reference)
    if key:
        _booking_failures().add(key)


def _lookup_succeeded(reference: str) -> None:
    key = portal.lookup_key(reference)
    if key:
        _booking_failures().reset(key)


def _too_many(wait_s: int, scope: str, number: str = "") -> Any:
    response = current_app.make_response(
        (
            render_template(
                "portal/lookup.html",
                error="too_many",
                scope=scope,
                minutes=max(1, math.ceil(wait_s / 60)),
                number=number,
            ),
            429,
        )
    )
    response.headers["Retry-After"] = str(wait_s)
    return response


@bp.get("")
def index() -> Any:
    return render_template("portal/index.html", pages=portal.bookable(runtime()))


def _mins(page: Any = None, values: Any = None) -> dict[str, Any]:
    """The earliest values the pickers offer (company time): today, and now; on a booking page
    whose process has a lead (engine.casework.portal_lead) its time field starts at the
    earliest time the lead allows (`leads`), or now once the customer marks it urgent."""
    rt = runtime()
    now = rt.calendar.local(rt.clock.now())
    start = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    mins: dict[str, Any] = {"date": now.date().isoformat(), "date-time": f"{start:%Y-%m-%dT%H:%M}"}
    lead = getattr(page, "lead", None)
    found = portal.earliest_booking(rt, page) if lead is not None else None
    if found is not None:
        urgent = bool(lead.urgent_field) and (values or {}).get(lead.urgent_field) is True
        first = input_value(found[1])
        mins["leads"] = {
            found[0]: {
                "min": mins["date-time"] if urgent else first,
                "normal": first,
                "urgent": mins["date-time"],
                "process": page.key,
                "urgent_field": lead.urgent_field or "",
            }
        }
    return mins


def _link_mins(page: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The pickers' earliest values on a link page: as on any page, and a time with its
    process's lead (a returned booking corrected) starts at the earliest the lead allows for
    the case (engine.casework.links.earliest_answer), or now once marked urgent. The live check
    asks the calendar alone (its lead is the newest version's, the case's may differ); the post
    asks the case's lead."""
    mins = _mins()
    lead = page.lead
    found = links.earliest_answer(runtime(), page)
    if found is None:
        return mins
    urgent = bool(lead.urgent_field) and values.get(lead.urgent_field) is True
    first = input_value(found[1])
    mins["leads"] = {
        found[0]: {
            "min": mins["date-time"] if urgent else first,
            "normal": first,
            "urgent": mins["date-time"],
            "process": "",
            "urgent_field": lead.urgent_field or "",
        }
    }
    return mins


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
        mins=_mins(page, values),
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
        mins=_mins(),
        **{"message": None, "refused": None, "errors": {}, "values": {}, **extra},
    )


@bp.route("/status", methods=["GET", "POST"])
def status() -> Any:
    if request.method == "GET":
        return render_template("portal/lookup.html", error=None, number="")
    number = (request.form.get("number") or "").strip()[:80]
    phone = (request.form.get("phone") or "").strip()[:40]
    wait, scope = _lookup_wait(number)
    if wait:
        return _too_many(wait, scope, number)
    try:
        found = portal.status(runtime(), number, phone)
    except NotFound:
        _lookup_failed(number)
        return render_template("portal/lookup.html", error="not_found", number=number), 404
    _lookup_succeeded(number)
    return _status_page(found, phone)


@bp.post("/request")
def change() -> Any:
    number = (request.form.get("number") or "").strip()[:80]
    phone = (request.form.get("phone") or "").strip()[:40]
    kind = request.form.get("kind", "")
    wait, scope = _lookup_wait(number)
    if wait:
        return _too_many(wait, scope, number)
    # The page's fields are the contract's (engine.casework.portal.request_payload): the new
    # time as the datetime-local input posts it (company time), and the reason.
    fields = ("new_start", "reason") if kind == "change" else ("reason",)
    data = {name: request.form.get(name, "") for name in fields}
    refused = None
    errors: dict[str, list[str]] = {}
    try:
        portal.request_change(runtime(), number, phone, kind, data)
    except NotFound:
        _lookup_failed(number)
        return render_template("portal/lookup.html", error="not_found", number=number), 404
    except InvalidState as exc:
        refused = portal_message(exc)
    except ValidationFailed as exc:
        errors = portal_errors(exc.errors)
        if not errors.get("new_start"):
            refused = _("the request is incomplete")
    _lookup_succeeded(number)
    found = portal.status(runtime(), number, phone)
    return _status_page(
        found,
        phone,
        message=None if refused or errors else kind,
        refused=refused,
        errors=errors,
        values=data if errors else {},
    ), (409 if refused else 422 if errors else 200)


# A link that does not open: what the customer reads, and the status.
LINK_REFUSED = {"invalid": 404, "expired": 410, "used": 409, "not_waiting": 409}


def _link_refused(reason: str) -> Any:
    status = LINK_REFUSED.get(reason, 404) if reason != "too_many" else 429
    return render_template("portal/reply_refused.html", reason=reason), status


@bp.route("/reply/<message>/<token>", methods=["GET", "POST"])
def reply(message: str, token: str) -> Any:
    """The page behind a link in a customer's message: the form of the message the case waits
    for; its answer is sent to the case as that message. The link is the only key: every
    opening counts against the address's limit, like a booking lookup."""
    if not _link_limiter().allow(request.remote_addr or "?"):
        return _link_refused("too_many")
    rt = runtime()
    try:
        page = links.open_link(rt, message, token)
    except links.LinkRefused as exc:
        return _link_refused(exc.reason or "invalid")
    values: dict[str, Any] = page.values
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = coerce_form_data(page.schema, request.form)
        try:
            links.answer(rt, message, token, values, schema=page.schema)
        except links.LinkRefused as exc:
            return _link_refused(exc.reason or "invalid")
        except ValidationFailed as exc:
            errors = portal_errors(exc.errors)
        else:
            return render_template("portal/reply_done.html", page=page)
    return render_template(
        "portal/reply.html",
        page=page,
        fields=form_fields(page.schema),
        values=values,
        errors=errors,
        mins=_link_mins(page, values),
    ), (422 if errors else 200)
