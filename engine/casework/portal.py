"""Customers without an account: book online, follow a booking by its number and phone, and
ask for a change or a cancellation — which reaches the running case as a message and is refused
with the reason when the case no longer accepts it (e.g. too close to the appointment)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from engine.casework.privacy import is_personal_key
from engine.core.errors import InvalidState, NotFound, ValidationFailed, refine
from engine.core.instants import iso_utc, parse_when
from engine.core.messages import Message
from engine.core.rules import SUPERVISOR_ROLE
from engine.core.status import ACTIVE_TASK
from engine.definitions.submission import EXTRAS_DROP, declared_submission
from engine.runtime.verbs import Runtime
from engine.store.tables import Case, Form, ProcessVersion, Task

REQUESTS = {"change": "change_request", "cancel": "cancel_request"}
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
PUBLIC_FIELDS = ("customer_name", "service_item", "appointment_at", "store", "booking_ref")


@dataclass(frozen=True)
class BookablePage:
    key: str
    title: str
    schema: dict[str, Any]
    roles: tuple[str, ...] = ()  # the roles of the process's tasks: who works on a booking


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


@dataclass(frozen=True)
class BookingStatus:
    number: str
    title: str
    status: str
    steps: list[str]
    details: dict[str, Any]
    can_change: bool
    can_cancel: bool
    started_at: datetime


def _digits(phone: str | None) -> str:
    return re.sub(r"\D", "", phone or "")[-8:]


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
            pages.append(
                BookablePage(
                    version.key,
                    version.portal["title"],
                    form.schema if form else {},
                    tuple(roles),
                )
            )
        return pages


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


def book(
    runtime: Runtime,
    key: str,
    data: dict[str, Any],
    schema: dict[str, Any] | None = None,
) -> str:
    """Validate the customer's form (or `schema`, the form with its live choices such as the
    free slots) and start the case; returns the booking number."""
    target = page(runtime, key)
    try:
        # Only the form's fields (a hand-made extra field is dropped, as on a staff form).
        data, _ = declared_submission(schema or target.schema, data, extras=EXTRAS_DROP)
    except ValidationFailed as exc:
        raise refine(exc, "the booking form has errors") from None
    # The channel is informational in the processes; a form may let the customer choose it.
    extra = {"booked_via": "web", "channel": data.get("channel") or "網上預約"}
    # Checked above, against the form with its live choices (which the engine does not know).
    return runtime.start_case(key, {**data, **extra}, actor="portal", prevalidated=True).number


def service_items(runtime: Runtime) -> list[tuple[str, str]]:
    """(code, Chinese name) of the store's service items, for the booking page."""
    from engine.casework.resources import ServiceItem

    with runtime.db.read() as session:
        return [
            (i.code, i.name_zh)
            for i in session.scalars(select(ServiceItem).order_by(ServiceItem.code))
        ]


def free_slots(
    runtime: Runtime, service_item: str, day: str, store: str | None = None
) -> list[str]:
    """Free start times (ISO UTC) of a service item on a local day, as the booking step sees
    them; an unknown item or a bad day gives none."""
    from engine.casework import slots
    from engine.core import stepcontext

    with runtime.db.read() as session:
        ctx = stepcontext.StepContext(
            session=session,
            case_id=0,
            case_number="",
            process_key="portal",
            actor="portal",
            now=runtime.clock.now(),
            calendar=runtime.calendar,
        )
        with stepcontext.step(ctx):
            try:
                return slots.free_slots(service_item, day, store or None)
            except ValueError:
                return []


def _case_for_customer(session: Any, number: str, phone: str) -> Case:
    case = session.scalars(select(Case).where(Case.number == number.strip().upper())).first()
    # Same answer for a wrong number and a wrong phone: nothing to learn by guessing.
    if case is None or not _digits(phone) or _digits(case.customer_phone) != _digits(phone):
        raise NotFound("no booking with this number and phone number", reason="booking_not_found")
    return case


def status(runtime: Runtime, number: str, phone: str) -> BookingStatus:
    with runtime.db.read() as session:
        case = _case_for_customer(session, number, phone)
        version = session.get(ProcessVersion, case.process_version_id)
        steps = list(
            session.scalars(
                select(Task.name).where(Task.case_id == case.id, Task.status.in_(ACTIVE_TASK))
            )
        )
        number = case.number
        title = (version.portal or {}).get("title") or version.name
        started_at, case_status = case.started_at, case.status
    view = runtime.get_case(number, history_limit=0)
    waits = set(view.waiting_messages)
    details = {k: view.data.get(k) for k in PUBLIC_FIELDS if view.data.get(k) is not None}
    return BookingStatus(
        number=number,
        title=title,
        status=case_status,
        steps=steps,
        details=details,
        can_change=REQUESTS["change"] in waits,
        can_cancel=REQUESTS["cancel"] in waits,
        started_at=started_at,
    )


def request_payload(runtime: Runtime, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The message a process receives for the customer's request, by the contract above.

    `new_start` may come as the booking page posts it (company wall-clock time without an
    offset, "2026-11-27T15:00") or with an offset; it is sent as UTC. A missing, unreadable or
    past time is refused with the field named, so nothing reaches the case."""
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
            if when > runtime.clock.now():
                return {"new_start": iso_utc(when), "reason": reason}
            error = Message("change_time_past", "the new time must be in the future")
    raise ValidationFailed(
        "the change request has errors", {"new_start": [error]}, reason="change_request_errors"
    )


def request_change(
    runtime: Runtime, number: str, phone: str, kind: str, data: dict[str, Any]
) -> None:
    """Send the customer's change or cancel request to the case, or say why it cannot be.

    `data` holds the fields of the contract (`request_payload`); other keys are dropped."""
    if kind not in REQUESTS:
        raise ValidationFailed(
            "unknown request", {"kind": ["change or cancel"]}, reason="unknown_request"
        )
    current = status(runtime, number, phone)
    data = request_payload(runtime, kind, data)
    allowed = current.can_change if kind == "change" else current.can_cancel
    try:
        if not allowed:
            raise InvalidState("not waiting", reason="booking_too_late", number=current.number)
        # The case may close its window at this very moment (a cut-off timer due now).
        runtime.send_message(current.number, REQUESTS[kind], data, actor="customer")
    except InvalidState as exc:
        raise InvalidState(TOO_LATE, reason="booking_too_late", number=current.number) from exc
