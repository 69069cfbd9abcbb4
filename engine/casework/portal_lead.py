"""How far ahead a customer must book: a process's booking lead in working days.

Seed 000 §2: a signed-service request must be "at least N working days ahead" (N the process
parameter `advance_working_days`, default 1); an urgent request is flagged and handled best
effort. The process's own check (`check_request` in signed_service_booking.bpmn) counts it as

    working_days_between(now(), appointment_at) < advance_working_days   → too short

i.e. the working days after today's company-local date up to the appointment's date (today
never counts). A request on Friday 16:30 for Monday 10:00 is 1 working day ahead (Monday), so
it passes with N = 1; on Friday for Friday it is 0. This module asks the same question with
the same calendar, so the booking page refuses exactly what the process would flag, before a
case exists; the N is the one the newest deployed version carries in its defaults, never a
number of ours. A request marked urgent is let through (the process flags it, `urgent_flag`).

Staff keying in a request (the staff start form, the API, the command line) are not refused:
the process flags a short or out-of-window request in `problems` and the service desk's review
decides (accept or return it) — the procedure's own check for offline requests.

A running case's customer who gives a time again — a returned booking corrected from the link
in its message (engine.casework.links), a change request (engine.casework.portal) — meets the
same rule, with the N of the case itself (`case_lead`): its own parameter, else the value its
version was deployed with.

LEADS names, per process, the time field, the parameter and the urgent field; like
portal_rules.RULES it mirrors the process's script and is checked against it by the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.core.calendar import BusinessCalendar
from engine.core.instants import MAX_WORKING_DAYS, iso_utc
from engine.core.messages import Message
from engine.runtime.verbs import Runtime
from engine.store.tables import Case, ProcessVersion

# process key -> (time field, parameter with N, urgent field or None)
LEADS: dict[str, tuple[str, str, str | None]] = {
    "signed_service_booking": ("appointment_at", "advance_working_days", "urgent"),
}
# How far to look for the next working day before deciding the calendar has none.
_SEARCH_LIMIT_DAYS = 366


@dataclass(frozen=True)
class BookingLead:
    """A booking page's lead rule: `field` must be at least `days` working days ahead, unless
    the boolean field `urgent_field` (when the form has one) is true."""

    field: str
    days: int
    urgent_field: str | None = None
    urgent_title: str = ""


def booking_lead(
    process_key: str, defaults: dict[str, Any] | None, schema: dict[str, Any] | None = None
) -> BookingLead | None:
    """The lead rule of a process version (its key, its deployed defaults, its booking form),
    or None: no rule for the process, the form has no such time field, or the parameter is not
    a whole number of days from 0 (then the process's own check decides alone)."""
    spec = LEADS.get(process_key)
    if spec is None:
        return None
    field, parameter, urgent = spec
    props = (schema or {}).get("properties") or {}
    if schema is not None and field not in props:
        return None
    days = (defaults or {}).get(parameter)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_WORKING_DAYS:
        return None
    prop = props.get(urgent) if urgent else None
    if schema is not None and not (isinstance(prop, dict) and prop.get("type") == "boolean"):
        urgent = None  # the form offers no urgent choice: nothing lets a shorter lead through
    title = str(prop.get("title") or urgent) if urgent and isinstance(prop, dict) else ""
    return BookingLead(field, days, urgent, title)


def case_lead(
    process_key: str,
    defaults: dict[str, Any] | None,
    data: dict[str, Any] | None,
    schema: dict[str, Any] | None = None,
) -> BookingLead | None:
    """The lead rule for a time a running case's customer gives again on the form `schema`
    (None: a form without the process's time field, e.g. the change request, whose one time
    is checked against the rule whatever its name): as `booking_lead`, with N the case's own
    parameter in `data` when it has one, else its version's `defaults`."""
    spec = LEADS.get(process_key)
    if spec is None:
        return None
    parameter = spec[1]
    params = dict(defaults or {})
    if parameter in (data or {}):
        params[parameter] = (data or {})[parameter]
    return booking_lead(process_key, params, schema)


def running_case_lead(runtime: Runtime, number: str) -> BookingLead | None:
    """`case_lead` of the case `number` for a time given without its booking form (a change
    request), or None: no such case, or its process has no lead rule."""
    with runtime.db.read() as session:
        found = session.execute(
            select(Case.process_key, ProcessVersion.defaults)
            .join(ProcessVersion, ProcessVersion.id == Case.process_version_id)
            .where(Case.number == number)
        ).first()
    if found is None or found[0] not in LEADS:
        return None
    data = runtime.get_case(number, history_limit=0).data
    return case_lead(found[0], found[1], data)


def is_urgent(lead: BookingLead | None, data: dict[str, Any]) -> bool:
    """Whether the customer marked the request urgent (the form's boolean, true)."""
    return bool(lead and lead.urgent_field and data.get(lead.urgent_field) is True)


def earliest(calendar: BusinessCalendar, now: datetime, days: int) -> datetime:
    """The earliest instant (UTC, whole minutes) a booking made at `now` may have with a lead
    of `days` working days: the office opening of the `days`-th working day after today (by
    working_days_between, today never counts), or with 0 the next office minute after now."""
    if days <= 0:
        start = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
        return calendar.next_office_time(start)
    day = calendar.local(now).date()
    for _ in range(days):
        for _ in range(_SEARCH_LIMIT_DAYS):
            day += timedelta(days=1)
            if calendar.is_working_day(day):
                break
        else:
            raise ValueError(f"no working day within {_SEARCH_LIMIT_DAYS} days of {day}")
    return datetime.combine(day, calendar.office_start, calendar.zone).astimezone(UTC)


def nearest(
    calendar: BusinessCalendar, now: datetime, when: datetime, lead: BookingLead, urgent: bool
) -> datetime:
    """The first time the customer may book at or after `when` (or now, if `when` has passed):
    the next office time from then, but not before the lead allows."""
    first = earliest(calendar, now, 0 if urgent else lead.days)
    return max(first, calendar.next_office_time(max(when, now)))


def lead_refusal(
    calendar: BusinessCalendar, now: datetime, when: datetime, lead: BookingLead, urgent: bool
) -> Message | None:
    """Why `when` is too soon for the lead, naming the earliest allowed time; None when it is
    far enough ahead or the customer marked the request urgent."""
    if urgent or calendar.working_days_between(now, when) >= lead.days:
        return None
    first = earliest(calendar, now, lead.days)
    return Message(
        "time_too_soon",
        f"bookings must be made at least {lead.days} working days ahead; the earliest is "
        f"{calendar.local(first):%Y-%m-%d %H:%M}",
        days=lead.days,
        earliest=iso_utc(first),
        urgent=lead.urgent_title,
    )


def with_nearest(
    refused: Message,
    calendar: BusinessCalendar,
    now: datetime,
    when: datetime,
    lead: BookingLead,
    urgent: bool,
) -> Message:
    """A calendar refusal (closed day, outside hours, past) of a booking with a lead, with the
    first time the customer may book instead (`earliest`)."""
    try:
        first = nearest(calendar, now, when, lead, urgent)
    except ValueError:
        return refused
    text = f"{refused}; the nearest time you can book is {calendar.local(first):%Y-%m-%d %H:%M}"
    return Message(refused.code, text, **{**refused.params, "earliest": iso_utc(first)})
