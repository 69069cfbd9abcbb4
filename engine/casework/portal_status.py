"""A customer's booking as its customer sees it: found by the number or reference the messages
print and the phone number, what was booked in words (the item, store and professional by
their names, the time as an instant), where it stands, and whether a change or a cancellation
would be accepted now (engine.casework.portal_rules)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.casework.portal_rules import REQUESTS, RequestAction, request_actions
from engine.casework.resources import item_details, store_details
from engine.core.errors import NotFound
from engine.core.instants import parse_when
from engine.core.status import ACTIVE_TASK
from engine.runtime.verbs import Runtime
from engine.store.tables import Case, Event, ProcessVersion, Task

PUBLIC_FIELDS = ("customer_name", "service_item", "appointment_at", "store", "booking_ref")
# A booking reference (store_appointment's booking_ref) is the case number and six hex digits.
REF_SUFFIX = 6
REFERENCE_MAX = 60


@dataclass(frozen=True)
class Booked:
    """What the customer booked, as they read it. `at` is an aware instant (None when the
    booking has no time yet); `at_kind` says what it is: "appointment" (booked or agreed) or
    "wanted" (the customer's wish, not agreed yet). `progress` is the process's own words
    for where the booking stands, when it keeps them (signed_service_booking's booking_status)."""

    item: str = ""
    at: datetime | None = None
    at_kind: str = ""
    end: datetime | None = None
    store: str = ""
    store_address: str = ""
    professional: str = ""
    place: str = ""
    reference: str = ""
    prep_notes: str = ""
    progress: str = ""


@dataclass(frozen=True)
class BookingStatus:
    """A booking for its customer. `stage`: "confirmed" (booked, waiting for the day: the
    case takes change or cancel requests now), "handling" (being checked or arranged),
    "closed" (ended: `outcome` says how), or "cancelled" (stopped by the company)."""

    number: str
    title: str
    status: str
    stage: str
    outcome: str | None
    steps: list[str]
    details: dict[str, Any]
    booked: Booked
    change: RequestAction
    cancel: RequestAction
    started_at: datetime

    @property
    def can_change(self) -> bool:
        return self.change.allowed

    @property
    def can_cancel(self) -> bool:
        return self.cancel.allowed


def normalize_reference(text: str | None) -> str:
    """A number or reference as typed, made comparable: full-width characters folded, upper
    case, everything but letters and digits dropped ("sa 20261123-0001" → "SA202611230001")."""
    folded = unicodedata.normalize("NFKC", str(text or ""))[: REFERENCE_MAX * 2].upper()
    return re.sub(r"[^0-9A-Z]", "", folded)[:REFERENCE_MAX]


_REFERENCE = re.compile(r"^([A-Z]{1,10})([0-9]{8})([0-9A-F]{4,})$")


def _numbers(compact: str) -> list[tuple[str, str]]:
    """(case number, reference suffix) pairs a compact reference may stand for: the case
    number itself, or the case number followed by a booking reference's six hex digits."""
    match = _REFERENCE.match(compact)
    if not match:
        return []
    prefix, day, rest = match.groups()
    found = []
    if rest.isdigit():
        found.append((f"{prefix}-{day}-{rest}", ""))
    head, tail = rest[:-REF_SUFFIX], rest[-REF_SUFFIX:]
    if len(head) >= 4 and head.isdigit():
        found.append((f"{prefix}-{day}-{head}", tail))
    return found


def lookup_key(text: str | None) -> str:
    """The booking a typed number or reference names, for counting failed lookups per
    booking (both ways of writing the same booking count as one); "" when it names none."""
    numbers = _numbers(normalize_reference(text))
    return normalize_reference(numbers[-1][0]) if numbers else ""


def _digits(phone: str | None) -> str:
    return re.sub(r"\D", "", phone or "")[-8:]


def find_case(session: Any, reference: str, phone: str) -> Case:
    """The case a customer names by its number or a booking reference printed in its messages
    (any case, spaces and dashes as typed) together with its phone number."""
    compact = normalize_reference(reference)
    candidates = _numbers(compact)
    phone_digits = _digits(phone)
    if candidates and phone_digits:
        numbers = {number for number, _ in candidates}
        for case in session.scalars(select(Case).where(Case.number.in_(numbers))):
            if _digits(case.customer_phone) != phone_digits:
                continue
            suffixes = {suffix for number, suffix in candidates if number == case.number}
            if "" in suffixes or compact in _references(session, case.id):
                return case
    # Same answer for a wrong number and a wrong phone: nothing to learn by guessing.
    raise NotFound("no booking with this number and phone number", reason="booking_not_found")


def _references(session: Any, case_id: int) -> set[str]:
    """Every booking reference the case held (a moved booking gets a new one; the old SMS
    still finds it), compact."""
    details = session.scalars(
        select(Event.detail).where(Event.case_id == case_id, Event.kind == "slot_booked")
    )
    return {normalize_reference(d.get("booking_ref")) for d in details if isinstance(d, dict)}


def status(runtime: Runtime, reference: str, phone: str) -> BookingStatus:
    """The booking named by its number or reference and phone number (NotFound otherwise)."""
    with runtime.db.read() as session:
        case = find_case(session, reference, phone)
        version = session.get(ProcessVersion, case.process_version_id)
        steps = list(
            session.scalars(
                select(Task.name).where(Task.case_id == case.id, Task.status.in_(ACTIVE_TASK))
            )
        )
        number, key = case.number, case.process_key
        title = (version.portal or {}).get("title") or version.name
        started_at, case_status, outcome = case.started_at, case.status, case.outcome
        # The requests the process receives at all (its message names, in its spec).
        offered = {m for m in REQUESTS.values() if f'"{m}"' in (version.spec_json or "")}
        defaults = dict(version.defaults or {})
    view = runtime.get_case(number, history_limit=0)
    data = {**defaults, **view.data}
    with runtime.db.read() as session:
        booked = _booked(session, runtime, data)
    waits = set(view.waiting_messages)
    actions = request_actions(
        runtime.calendar, runtime.clock.now(), key, case_status, waits, data, offered
    )
    details = {k: data.get(k) for k in PUBLIC_FIELDS if data.get(k) is not None}
    return BookingStatus(
        number=number,
        title=title,
        status=case_status,
        stage=_stage(case_status, waits),
        outcome=outcome,
        steps=steps,
        details=details,
        booked=booked,
        change=actions["change"],
        cancel=actions["cancel"],
        started_at=started_at,
    )


def _stage(case_status: str, waits: set[str]) -> str:
    if case_status == "cancelled":
        return "cancelled"
    if case_status == "completed":
        return "closed"
    if waits & set(REQUESTS.values()):
        return "confirmed"
    return "handling"


def _text(data: dict[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _instant(runtime: Runtime, value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_when(value, runtime.calendar.zone)
    except (TypeError, ValueError):
        return None


def _booked(session: Any, runtime: Runtime, data: dict[str, Any]) -> Booked:
    """What was booked, from the variables the portal's processes keep: the item by its name
    (a store's item code looked up), the store with its address, the professional, the time."""
    code = _text(data, "service_item")
    item = item_details(session, code) if code else {"name": "", "prep_notes": ""}
    name = _text(data, "service_item_name") or item["name"]
    if not name:  # cleaning: the kind and how often; a consultation: its topic
        name = " · ".join(filter(None, (_text(data, "cleaning_kind"), _text(data, "frequency"))))
        name = name or _text(data, "topic")
    place = store_details(session, _text(data, "store")) if _text(data, "store") else None
    at, at_kind = None, ""
    for field, kind in (
        ("appointment_at", "appointment"),
        ("visit_start", "appointment"),
        ("wanted_visit_at", "wanted"),
    ):
        at = _instant(runtime, data.get(field))
        if at is not None:
            at_kind = kind
            break
    end = _instant(runtime, data.get("appointment_end")) if at_kind == "appointment" else None
    return Booked(
        item=name,
        at=at,
        at_kind=at_kind,
        end=end,
        store=place["name"] if place else "",
        store_address=place["address"] if place else "",
        professional=_text(data, "professional_name", "staff_name", "cleaner_name"),
        place=_text(data, "room_name", "location"),
        reference=_text(data, "booking_ref"),
        prep_notes=_text(data, "prep_notes", "preparation_notes") or item["prep_notes"],
        progress=_text(data, "booking_status"),
    )
