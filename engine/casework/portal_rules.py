"""What a customer may pick and do on the booking pages, by the company's calendar and by each
process's own rules.

`day_refusal` / `time_refusal` are the one rule for every day and time a customer picks (a
booking time, a wanted visit time, a changed time): not in the past, on a working day (public
holidays and weekends are closed; make-up working days are open), inside office hours, and for
store appointments a day and time the store has staff on shift for the item. The booking page
asks it before anything is sent, the booking and the change request ask it again.

`request_actions` answers whether a change or a cancellation would be accepted now, and what it
means. A case accepts a request only while it waits for the message; beyond that, a process may
refuse or charge by its notice rules. Those rules are the processes' own scripts, read from the
case's own parameters (the values its version was deployed with), with the calendar functions
the scripts call — never numbers of our own:

    store_appointment.assess_change        refused after hours_before(appointment_at,
                                           change_notice_hours)
    store_appointment.cancel_booking       late_cancel_fee after hours_before(appointment_at,
                                           cancel_notice_hours)
    signed_service_booking.assess_change   late_change_fee when working_days_between(now(),
                                           appointment_at) < change_advance_working_days;
                                           repeat_change_fee when changes_made + 1 > free_changes
    signed_service_booking.assess_cancellation
                                           late_cancel_fee when working_days_between(now(),
                                           appointment_at) < cancel_advance_working_days
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.casework.resources import Resource, ResourceKind, ServiceItem, Shift
from engine.core.calendar import BusinessCalendar
from engine.core.messages import Message

REQUESTS = {"change": "change_request", "cancel": "cancel_request"}


# ----- days and times ----------------------------------------------------------------------


def day_refusal(
    session: Session,
    calendar: BusinessCalendar,
    now: datetime,
    day: date,
    store: str | None = None,
    service_item: str | None = None,
) -> Message | None:
    """Why a customer cannot come on the company-local `day`, or None: it has passed, it is a
    public holiday or another closed day, or (a store appointment: `service_item` given) no
    staff member with the item's skill is on shift that day at `store` (any store if None)."""
    if day < calendar.local(now).date():
        return Message("day_past", "that day has passed", day=day.isoformat())
    if not calendar.is_working_day(day):
        holiday = calendar.holiday_name(day)
        if holiday:
            return Message(
                "day_holiday",
                f"closed on that day (public holiday: {holiday})",
                day=day.isoformat(),
                holiday=holiday,
            )
        return Message("day_closed", "closed on that day", day=day.isoformat())
    if _known_item(session, service_item):
        begin = datetime.combine(day, time(0), calendar.zone).astimezone(UTC)
        shifts = _shifts(session, begin, begin + timedelta(days=1), store, service_item)
        if not shifts:
            return Message(
                "day_store_closed",
                "the store has nobody on shift for this service that day",
                day=day.isoformat(),
                store=store or "",
            )
    return None


def time_refusal(
    session: Session,
    calendar: BusinessCalendar,
    now: datetime,
    when: datetime,
    store: str | None = None,
    service_item: str | None = None,
) -> Message | None:
    """Why a customer cannot have `when` (aware), or None: `day_refusal` of its local day, a
    time that has passed, outside office hours, or (a store appointment) no staff member with
    the item's skill on shift at `store` for the whole item from then."""
    if when <= now:
        return Message("time_past", "that time has passed")
    refused = day_refusal(session, calendar, now, calendar.local(when).date(), store, service_item)
    if refused is not None:
        return refused
    if not calendar.is_office_time(when):
        return Message(
            "time_outside_hours",
            "outside office hours",
            opens=f"{calendar.office_start:%H:%M}",
            closes=f"{calendar.office_end:%H:%M}",
        )
    item = _known_item(session, service_item)
    if item is not None:
        end = when + timedelta(minutes=item.duration_min)
        covering = [s for s in _shifts(session, when, end, store, service_item) if s[0] <= when]
        if not any(end <= s[1] for s in covering):
            return Message(
                "time_store_closed",
                "the store has nobody on shift for this service at that time",
                store=store or "",
            )
    return None


def _known_item(session: Session, code: str | None) -> ServiceItem | None:
    """The store's service item `code` names; None for none (a booking that is not for a store,
    e.g. a signed service named in words), so the store's shifts are not asked."""
    return session.get(ServiceItem, code) if isinstance(code, str) and code else None


def _shifts(
    session: Session, begin: datetime, end: datetime, store: str | None, service_item: str
) -> list[tuple[datetime, datetime]]:
    """Shifts overlapping [begin, end) of active staff with the item's skill (at `store`)."""
    item = session.get(ServiceItem, service_item)
    if item is None:
        return []
    query = (
        select(Shift.starts_at, Shift.ends_at, Resource.skills)
        .join(Resource, Resource.id == Shift.resource_id)
        .where(
            Resource.kind == ResourceKind.STAFF,
            Resource.active.is_(True),
            Shift.starts_at < end,
            Shift.ends_at > begin,
        )
    )
    if store:
        query = query.where(Resource.store == store)
    return [
        (_aware(row.starts_at), _aware(row.ends_at))
        for row in session.execute(query)
        if item.skill in (row.skills or [])
    ]


def _aware(value: datetime) -> datetime:
    return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)


# ----- change and cancel -------------------------------------------------------------------


@dataclass(frozen=True)
class RequestAction:
    """A change or a cancellation as the customer may (or may not) ask for it now.

    allowed: the case would take the request now. `why_not` says why it would not (allowed
    False); `notice` what the customer should know before asking (a fee it may carry)."""

    kind: str
    allowed: bool
    why_not: Message | None = None
    notice: Message | None = None


@dataclass(frozen=True)
class _CaseFacts:
    process_key: str
    status: str
    waits: frozenset[str]
    data: dict[str, Any]
    offered: frozenset[str]  # the requests the process receives at all


Helpers = dict[str, Callable[..., Any]]
Rule = Callable[[Helpers, dict[str, Any]], RequestAction | None]


def request_actions(
    calendar: BusinessCalendar,
    now: datetime,
    process_key: str,
    status: str,
    waits: set[str] | frozenset[str],
    data: dict[str, Any],
    offered: set[str] | frozenset[str],
) -> dict[str, RequestAction]:
    """ "change" and "cancel" for a case: its process, status, the messages it waits for now,
    its data (parameters included) and the requests its process receives at all."""
    facts = _CaseFacts(process_key, status, frozenset(waits), data, frozenset(offered))
    helpers = calendar.script_helpers(lambda: now)
    return {kind: _action(facts, kind, helpers) for kind in REQUESTS}


def _action(facts: _CaseFacts, kind: str, helpers: Helpers) -> RequestAction:
    message = REQUESTS[kind]
    if facts.status in ("completed", "cancelled"):
        return RequestAction(kind, False, Message("booking_closed", "this booking is closed"))
    if message not in facts.offered:
        return RequestAction(
            kind, False, Message("request_by_phone", "not offered online; please call us")
        )
    if message not in facts.waits:
        return RequestAction(
            kind,
            False,
            Message(
                "request_not_now",
                "not possible online at this stage (the booking is being handled); "
                "please call customer service",
            ),
        )
    rule = RULES.get((facts.process_key, kind))
    try:
        verdict = rule(helpers, facts.data) if rule else None
    except (KeyError, TypeError, ValueError):
        verdict = None  # a case without the rule's values: the process decides alone
    return verdict or RequestAction(kind, True)


def _after(helpers: Helpers, instant: str) -> bool:
    """Whether now is later than `instant` (as the scripts compare them)."""
    return datetime.fromisoformat(helpers["now"]()) > datetime.fromisoformat(instant)


def _number(data: dict[str, Any], name: str) -> Any:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(name)
    return value


def _store_change(h: Helpers, data: dict[str, Any]) -> RequestAction | None:
    hours = _number(data, "change_notice_hours")
    if _after(h, h["hours_before"](data["appointment_at"], hours)):
        why = Message(
            "change_too_late_hours",
            f"less than {hours} hours before the appointment: please call the store",
            hours=hours,
            store=str(data.get("store") or ""),
        )
        return RequestAction("change", False, why)
    return None


def _store_cancel(h: Helpers, data: dict[str, Any]) -> RequestAction | None:
    hours = _number(data, "cancel_notice_hours")
    fee = _number(data, "late_cancel_fee")
    if fee > 0 and _after(h, h["hours_before"](data["appointment_at"], hours)):
        notice = Message(
            "cancel_fee_hours",
            f"less than {hours} hours before the appointment: a fee of {fee} may be charged",
            hours=hours,
            fee=fee,
        )
        return RequestAction("cancel", True, notice=notice)
    return None


def _signed_change(h: Helpers, data: dict[str, Any]) -> RequestAction | None:
    days = _number(data, "change_advance_working_days")
    late = h["working_days_between"](h["now"](), data["appointment_at"]) < days
    late_fee = _number(data, "late_change_fee") if late else 0
    repeated = _number(data, "changes_made") + 1 > _number(data, "free_changes")
    repeat_fee = _number(data, "repeat_change_fee") if repeated else 0
    if late_fee <= 0 and repeat_fee <= 0:
        return None
    notice = Message(
        "change_fee_days",
        f"a change now may cost {late_fee + repeat_fee}",
        fee=late_fee + repeat_fee,
        days=days,
        late=late_fee > 0,
        repeated=repeat_fee > 0,
        free_changes=data.get("free_changes"),
    )
    return RequestAction("change", True, notice=notice)


def _signed_cancel(h: Helpers, data: dict[str, Any]) -> RequestAction | None:
    days = _number(data, "cancel_advance_working_days")
    fee = _number(data, "late_cancel_fee")
    if fee > 0 and h["working_days_between"](h["now"](), data["appointment_at"]) < days:
        notice = Message(
            "cancel_fee_days",
            f"less than {days} working days before: a fee of {fee} may be charged",
            days=days,
            fee=fee,
        )
        return RequestAction("cancel", True, notice=notice)
    return None


RULES: dict[tuple[str, str], Rule] = {
    ("store_appointment", "change"): _store_change,
    ("store_appointment", "cancel"): _store_cancel,
    ("signed_service_booking", "change"): _signed_change,
    ("signed_service_booking", "cancel"): _signed_cancel,
}
