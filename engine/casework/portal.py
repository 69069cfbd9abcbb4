"""Customers without an account: book online, follow a booking by the number or reference
its messages print and the phone number, and ask for a change or a cancellation — which reaches
the running case as a message, and is refused with the reason when the case would not accept
it now (e.g. too close to the appointment).

Every day and time a customer picks is checked by one rule (engine.casework.portal_rules: not
past, a working day, office hours, a store with staff on shift; for a process with a booking
lead, enough working days ahead unless marked urgent: engine.casework.portal_lead) before
anything is sent — no case is started for a refused time — and stored as an instant in UTC.
What a booking page may offer (service items, stores, free times) comes from here too; the
lookup and the status are engine.casework.portal_status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from engine.casework.portal_choices import (
    LiveForm,
    StoreChoice,
    check_day,
    check_time,
    checked_times,
    free_slots,
    holiday_name,
    live_form,
    service_items,
    source_field,
    stores,
)
from engine.casework.portal_lead import (
    BookingLead,
    booking_lead,
    earliest,
    is_urgent,
    running_case_lead,
)
from engine.casework.portal_rules import REQUESTS, RequestAction
from engine.casework.portal_status import (
    PUBLIC_FIELDS,
    Booked,
    BookingStatus,
    lookup_key,
    normalize_reference,
    status,
)
from engine.casework.privacy import is_personal_key
from engine.core.errors import InvalidState, NotFound, ValidationFailed
from engine.core.instants import iso_utc, parse_when
from engine.core.messages import Message
from engine.core.rules import SUPERVISOR_ROLE
from engine.definitions.submission import EXTRAS_DROP, declared_submission, form_errors
from engine.runtime.verbs import Runtime
from engine.store.tables import Form, ProcessVersion

__all__ = [
    "PUBLIC_FIELDS",
    "REQUESTS",
    "Booked",
    "BookablePage",
    "BookingLead",
    "BookingStatus",
    "LiveForm",
    "RequestAction",
    "StoreChoice",
    "book",
    "bookable",
    "check_booking_time",
    "check_day",
    "check_time",
    "earliest_booking",
    "free_slots",
    "holiday_name",
    "live_form",
    "lookup_key",
    "normalize_reference",
    "page",
    "privacy_notice",
    "request_change",
    "request_payload",
    "service_items",
    "status",
    "stores",
]

TOO_LATE = (
    "this booking can no longer be changed or cancelled online (it is too close to the "
    "appointment, already being handled, or finished); please call customer service"
)
# What a process receives from the portal (its messageVariable), one contract for all:
#   change_request  {"new_start": ISO 8601 instant in UTC with its offset, "reason": text}
#   cancel_request  {"reason": text}
CHANGE_FIELDS = ("new_start", "reason")
CANCEL_FIELDS = ("reason",)
REASON_MAX = 200
# A booking form's fields that only the customer's page requires (the same form may serve a
# clerk's task, where the customer's wish is optional): "x-portal-required": ["wanted_visit_at"].
PORTAL_REQUIRED = "x-portal-required"


@dataclass(frozen=True)
class BookablePage:
    key: str
    title: str
    schema: dict[str, Any]
    roles: tuple[str, ...] = ()  # the roles of the process's tasks: who works on a booking
    # How far ahead a time must be booked (engine.casework.portal_lead), from this version's
    # parameters; None for a process without a lead rule.
    lead: BookingLead | None = None


@dataclass(frozen=True)
class PersonalField:
    name: str
    title: str
    required: bool


@dataclass(frozen=True)
class PrivacyNotice:
    """What a booking page tells customers before they give their personal data (seed 001
    五、(一) 1: 應明確告知客戶需要收集的個人信息範圍): the form's personal fields, the roles
    of the staff who work on the booking (supervisors see every case), and how long the data is
    kept after the booking ends ([privacy] retention_days, what the daily purge applies)."""

    fields: list[PersonalField]
    roles: list[str]
    retention_days: int


def bookable(runtime: Runtime) -> list[BookablePage]:
    """The newest version of every process that has a customer booking page."""
    with runtime.db.read() as session:
        newest = (
            select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
            .group_by(ProcessVersion.key)
            .subquery()
        )
        versions = session.scalars(
            select(ProcessVersion).join(
                newest,
                (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.v),
            )
        ).all()
        pages = []
        for version in sorted(versions, key=lambda v: v.key):
            if not (version.portal or {}).get("title"):
                continue  # no booking page (at most a start form for staff)
            form = session.get(Form, version.portal.get("start_form_id"))
            roles = dict.fromkeys(
                meta["role"] for meta in (version.task_meta or {}).values() if meta.get("role")
            )
            schema = _portal_schema(form.schema if form else {})
            pages.append(
                BookablePage(
                    version.key,
                    version.portal["title"],
                    schema,
                    tuple(roles),
                    booking_lead(version.key, version.defaults, schema),
                )
            )
        return pages


def _portal_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The start form as the customer's page asks it: its "x-portal-required" fields required."""
    extra = schema.get(PORTAL_REQUIRED)
    props = schema.get("properties") or {}
    if not isinstance(extra, list) or not extra:
        return schema
    wanted = [name for name in extra if isinstance(name, str) and name in props]
    return {**schema, "required": list(dict.fromkeys([*(schema.get("required") or []), *wanted]))}


def page(runtime: Runtime, key: str) -> BookablePage:
    for found in bookable(runtime):
        if found.key == key:
            return found
    raise NotFound(f"no online booking for {key!r}", reason="booking_page_not_found", process=key)


def privacy_notice(runtime: Runtime, target: BookablePage) -> PrivacyNotice:
    """The personal-data notice of a booking page: the personal fields of its form (by the
    keys engine.casework.privacy counts as personal, which the purge removes), the roles that
    work on its cases and supervisors, and the retention period."""
    schema = target.schema
    required = set(schema.get("required") or [])
    fields = [
        PersonalField(name, str(prop.get("title") or name), name in required)
        for name, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict) and is_personal_key(name)
    ]
    # Supervisors see every case (the case list, the case page): every notice names them.
    roles = [r for r in target.roles if r != SUPERVISOR_ROLE] + [SUPERVISOR_ROLE]
    return PrivacyNotice(fields, roles, runtime.settings.privacy.retention_days)


@dataclass(frozen=True)
class Booking:
    number: str
    repeated: bool = False  # the form's key had booked already: this is that booking


def book(
    runtime: Runtime,
    key: str,
    data: dict[str, Any],
    schema: dict[str, Any] | None = None,
) -> str:
    """book_once without a form key: returns the booking number."""
    return book_once(runtime, key, data, schema).number


def book_once(
    runtime: Runtime,
    key: str,
    data: dict[str, Any],
    schema: dict[str, Any] | None = None,
    form_key: str | None = None,
) -> Booking:
    """Validate the customer's form (or `schema`, the form with its live choices such as the
    free slots), check its times by the calendar rule and start the case with them in UTC;
    returns the booking number. With `form_key` (the key of the rendered form) a form books
    once whatever reaches which server process: a repeat gets the first booking, `repeated`."""
    target = page(runtime, key)
    # The times are checked whatever else is wrong, so every refusal shows at once.
    times, time_errors = _times_in_utc(runtime, target, data)
    try:
        # Only the form's fields (a hand-made extra field is dropped, as on a staff form).
        data, _ = declared_submission(schema or target.schema, data, extras=EXTRAS_DROP)
    except ValidationFailed as exc:
        raise form_errors(
            "the booking form has errors", schema or target.schema, {**exc.errors, **time_errors}
        ) from None
    if time_errors:
        raise form_errors("the booking form has errors", schema or target.schema, time_errors)
    data = {**data, **{k: v for k, v in times.items() if k in data}}
    # The channel is informational in the processes; a form may let the customer choose it.
    extra = {"booked_via": "web", "channel": data.get("channel") or "網上預約"}
    # Checked above, against the form with its live choices (which the engine does not know).
    started = runtime.start_case(
        key,
        {**data, **extra},
        actor="portal",
        prevalidated=True,
        request_key=f"portal:{key}:{form_key}" if form_key else None,
    )
    return Booking(started.number, started.repeated)


def _times_in_utc(
    runtime: Runtime, target: BookablePage, data: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """The booking's times as instants in UTC (the page posts company wall-clock time), and
    the refusals of the calendar rule per field. A time that is not a time at all is left to
    the form's own check."""
    schema = target.schema
    item_field = source_field(schema, "service_items")
    store_field = source_field(schema, "stores")
    item = data.get(item_field) if item_field else None
    store = (data.get(store_field) or None) if store_field else None
    urgent = is_urgent(target.lead, dict(data))

    def refusal(name: str, value: str) -> Any:
        return check_booking_time(
            runtime, target, name, value, store, item if isinstance(item, str) else None,
            urgent=urgent,
        )  # fmt: skip

    return checked_times(runtime, schema, data, refusal)


def check_booking_time(
    runtime: Runtime,
    target: BookablePage,
    field: str,
    value: Any,
    store: str | None = None,
    service_item: str | None = None,
    urgent: bool = False,
) -> Message | None:
    """Why the booking page `target` cannot take `value` in its time field `field`, or None:
    the calendar rule (check_time) and, for the field its process's lead rule names, the
    working days ahead — unless the customer marked the request `urgent`. The page asks it as
    the customer picks; `book` asks it again."""
    lead = target.lead if target.lead is not None and target.lead.field == field else None
    return check_time(runtime, value, store, service_item, lead, urgent)


def earliest_booking(
    runtime: Runtime, target: BookablePage, urgent: bool = False
) -> tuple[str, datetime] | None:
    """(field, earliest instant in UTC) the booking page's lead allows now — for its picker to
    start there — or None when its process has no lead rule. `urgent`: the earliest an urgent
    request may have (the next office minute)."""
    lead = target.lead
    if lead is None:
        return None
    return lead.field, earliest(runtime.calendar, runtime.clock.now(), 0 if urgent else lead.days)


def request_payload(
    runtime: Runtime,
    kind: str,
    data: dict[str, Any],
    store: str | None = None,
    service_item: str | None = None,
    lead: BookingLead | None = None,
) -> dict[str, Any]:
    """The message a process receives for the customer's request, by the contract above.

    `new_start` may come as the booking page posts it (company wall-clock time without an
    offset, "2026-11-27T15:00") or with an offset; it is sent as UTC. A missing, unreadable or
    past time, or one the calendar rule refuses (a closed day, outside office hours, the
    booking's store without staff then), is refused with the field named, so nothing reaches
    the case. With the booking's `lead` (its process's, engine.casework.portal_lead) a time
    the booking page would refuse as too soon is refused too, naming the earliest allowed:
    the contract has no urgent choice, so nothing lets a shorter lead through (a customer in
    a hurry calls the desk). The late-change fee is the process's own rule, untouched here."""
    reason = str(data.get("reason") or "").strip()[:REASON_MAX]
    if kind == "cancel":
        return {"reason": reason}
    if kind != "change":
        raise ValidationFailed(
            "unknown request", {"kind": ["change or cancel"]}, reason="unknown_request"
        )
    text = str(data.get("new_start") or "").strip()
    if not text:
        error = Message("change_time_missing", "give the new date and time")
    else:
        try:
            when = parse_when(text, runtime.calendar.zone)
        except ValueError:
            error = Message("change_time_invalid", "not a valid date and time")
        else:
            if when <= runtime.clock.now():
                error = Message("change_time_past", "the new time must be in the future")
            else:
                if lead is not None:
                    lead = replace(lead, urgent_field=None, urgent_title="")
                refused = check_time(runtime, text, store, service_item, lead)
                if refused is None:
                    return {"new_start": iso_utc(when), "reason": reason}
                error = refused
    raise ValidationFailed(
        "the change request has errors", {"new_start": [error]}, reason="change_request_errors"
    )


def request_change(
    runtime: Runtime, number: str, phone: str, kind: str, data: dict[str, Any]
) -> None:
    """Send the customer's change or cancel request to the case, or say why it cannot be:
    InvalidState with the reason (`reason` and its parameters, as `status` gives it) when the
    case would not accept it now.

    `data` holds the fields of the contract (`request_payload`); other keys are dropped."""
    if kind not in REQUESTS:
        raise ValidationFailed(
            "unknown request", {"kind": ["change or cancel"]}, reason="unknown_request"
        )
    current = status(runtime, number, phone)
    action = current.change if kind == "change" else current.cancel
    if not action.allowed:
        why = action.why_not or Message("request_too_late", TOO_LATE)
        raise InvalidState(str(why), reason=why.code, **why.params)
    item = current.details.get("service_item")
    data = request_payload(
        runtime,
        kind,
        data,
        store=current.booked.store or None,
        service_item=item if isinstance(item, str) else None,
        lead=running_case_lead(runtime, current.number) if kind == "change" else None,
    )
    try:
        # The case may close its window at this very moment (a cut-off timer due now).
        runtime.send_message(current.number, REQUESTS[kind], data, actor="customer")
    except InvalidState as exc:
        raise InvalidState(TOO_LATE, reason="request_too_late") from exc
