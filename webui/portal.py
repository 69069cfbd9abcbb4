"""Customers (no sign-in): book online, see a booking by number + phone, change or cancel it,
and answer what a message asks them from the link in it (engine.casework.links)."""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
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
from .limits import RateLimiter
from .messages import translate_errors

bp = Blueprint("portal", __name__, url_prefix="/book")


def _limiter() -> RateLimiter:
    return current_app.extensions.setdefault(
        "caseflow_portal_limiter",
        RateLimiter(current_app.config.get("PORTAL_LOOKUPS_PER_10_MIN", 10), 600),
    )


def _link_limiter() -> RateLimiter:
    return current_app.extensions.setdefault(
        "caseflow_link_limiter",
        RateLimiter(current_app.config.get("PORTAL_LINK_OPENS_PER_10_MIN", 30), 600),
    )


@bp.get("")
def index() -> Any:
    return render_template("portal/index.html", pages=portal.bookable(runtime()))


def _live_schema(
    schema: dict[str, Any], source: Any
) -> tuple[dict[str, Any], dict[str, list[str]], str | None]:
    """The start form with its live choices filled in: fields marked "x-source" get the store's
    service items or the free slots of the chosen item and day. Returns the schema, the option
    labels per field, and the day shown."""
    rt = runtime()
    live = copy.deepcopy(schema)
    labels: dict[str, list[str]] = {}
    props = live.get("properties", {})
    day = source.get("day") or None
    for name, prop in props.items():
        if prop.get("x-source") == "service_items":
            items = portal.service_items(rt)
            prop["enum"] = [code for code, _ in items]
            labels[name] = [f"{label}" for _, label in items]
    for name, prop in props.items():
        if prop.get("x-source") != "free_slots":
            continue
        item_field = next(
            (n for n, p in props.items() if p.get("x-source") == "service_items"), None
        )
        item = source.get(item_field) if item_field else None
        chosen = source.get(name)
        if not day and chosen:
            day = (
                rt.calendar.local(datetime.fromisoformat(chosen)).date().isoformat()
                if _iso_ok(chosen)
                else None
            )
        slots = (
            portal.free_slots(rt, item, day, source.get("store") or None) if item and day else []
        )
        prop.pop("format", None)
        prop["enum"] = slots
        labels[name] = [
            rt.calendar.local(datetime.fromisoformat(t)).strftime("%m-%d %H:%M") for t in slots
        ]
    return live, labels, day


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


def _iso_ok(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


# Post/redirect/get with an idempotency key: each rendering of a booking form carries a fresh
# random key (hidden field); a post books once per key and redirects to the confirmation page,
# which shows the number from this browser's signed session, so a reload shows it again and a
# repeated post (a double click, a resent form) shows the first booking and books nothing.
# Going back re-renders the form with a new key while the browser refills what the customer
# typed, so the same answers sent again on the same page from the same browser are the same
# booking too.
BOOKED = "portal_booked"  # session: [[form key, page key, number, refused files, digest], ...]
REMEMBERED = 10  # bookings a browser's session remembers


def _digest(page_key: str, values: dict[str, Any]) -> str:
    text = json.dumps([page_key, values], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _booked_in_session(form_key: str, digest: str) -> list[Any] | None:
    return next((b for b in session.get(BOOKED, []) if b[0] == form_key or b[4] == digest), None)


def _remember(
    form_key: str, page_key: str, number: str, refused_files: list[str], digest: str
) -> None:
    kept = [b for b in session.get(BOOKED, []) if b[0] != form_key]
    session[BOOKED] = [*kept, [form_key, page_key, number, refused_files, digest]][-REMEMBERED:]


class _RecentKeys:
    """Form keys this process booked, for a repeat that arrives before the first answer set the
    browser's cookie (a double click): it waits for the first post and gets its booking."""

    STRIPES = 64

    def __init__(self, size: int = 1000) -> None:
        self.lock = threading.Lock()
        self.stripes = [threading.Lock() for _ in range(self.STRIPES)]
        self.numbers: OrderedDict[str, str] = OrderedDict()
        self.size = size

    def key_lock(self, form_key: str) -> threading.Lock:
        return self.stripes[int(form_key[:8], 16) % self.STRIPES]

    def get(self, form_key: str) -> str | None:
        with self.lock:
            return self.numbers.get(form_key)

    def put(self, form_key: str, number: str) -> None:
        with self.lock:
            self.numbers[form_key] = number
            while len(self.numbers) > self.size:
                self.numbers.popitem(last=False)


def _recent() -> _RecentKeys:
    return current_app.extensions.setdefault("caseflow_portal_keys", _RecentKeys())


def _valid_form_key(text: str | None) -> str | None:
    text = (text or "").strip()
    return text if len(text) == 32 and all(c in "0123456789abcdef" for c in text) else None


@bp.route("/<key>", methods=["GET", "POST"])
def book(key: str) -> Any:
    try:
        page = portal.page(runtime(), key)
    except NotFound:
        abort(404)
    source = request.form if request.method == "POST" else request.args
    schema, labels, day = _live_schema(page.schema, source)
    values: dict[str, Any] = {k: v for k, v in request.args.items() if k != "day"}
    errors: dict[str, list[str]] = {}
    form_key = _valid_form_key(request.form.get("form_key")) if request.method == "POST" else None
    if request.method == "POST":
        if form_key is None:
            form_key = secrets.token_hex(16)  # a post without one (an old page) books once
        values = coerce_form_data(schema, request.form)
        digest = _digest(key, values)
        earlier = _booked_in_session(form_key, digest)
        if earlier:
            _remember(*earlier)  # shown again as this page's latest booking
            return redirect(url_for("portal.booked", key=key), 303)
        with _recent().key_lock(form_key):
            number = _recent().get(form_key)
            if number is not None:  # booked by a post whose answer this browser has not seen
                _remember(form_key, key, number, [], digest)
                return redirect(url_for("portal.booked", key=key), 303)
            try:
                number = portal.book(runtime(), key, values, schema=schema)
            except ValidationFailed as exc:
                errors = exc.errors
            else:
                _recent().put(form_key, number)
                refused_files = []
                for upload in request.files.values():
                    if upload and upload.filename:
                        try:
                            desk().store_attachment(
                                number,
                                upload.filename,
                                upload.read(attachments.MAX_BYTES + 1),
                                "customer",
                            )
                        except ValidationFailed:
                            refused_files.append(upload.filename)
                _remember(form_key, key, number, refused_files, digest)
                return redirect(url_for("portal.booked", key=key), 303)
    fields = form_fields(schema)
    for f in fields:
        if f["name"] in labels:
            f["labels"] = labels[f["name"]]
    live = any(
        p.get("x-source") == "free_slots" for p in page.schema.get("properties", {}).values()
    )
    return render_template(
        "portal/book.html",
        page=page,
        fields=fields,
        values=values,
        errors=translate_errors(errors),
        live=live,
        day=day,
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
    # The page's fields are the contract's (engine.casework.portal.request_payload): the new
    # time as the datetime-local input posts it (company time), and the reason.
    fields = ("new_start", "reason") if kind == "change" else ("reason",)
    data = {name: request.form.get(name, "") for name in fields}
    refused = None
    errors: dict[str, list[str]] = {}
    try:
        portal.request_change(runtime(), number, phone, kind, data)
    except NotFound:
        return render_template("portal/lookup.html", error="not_found"), 404
    except InvalidState:
        refused = _(
            "this booking can no longer be changed or cancelled online (it is too close to the "
            "appointment, already being handled, or finished); please call customer service"
        )
    except ValidationFailed as exc:
        errors = translate_errors(exc.errors)
        if not errors.get("new_start"):
            refused = _("the request is incomplete")
    found = portal.status(runtime(), number, phone)
    return render_template(
        "portal/status.html",
        booking=found,
        phone=phone,
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
            errors = translate_errors(exc.errors)
        else:
            return render_template("portal/reply_done.html", page=page)
    return render_template(
        "portal/reply.html",
        page=page,
        fields=form_fields(page.schema),
        values=values,
        errors=errors,
    ), (422 if errors else 200)
