"""What a booking page may offer and accept: the service items, the stores with their
addresses, the free times of an item at a store on a day (a store appointment's live choices,
fields marked "x-source"), and the one calendar rule for a day or a time a customer picks
(engine.casework.portal_rules; with a process's booking lead, engine.casework.portal_lead),
asked by the page as the customer picks and by the booking and the change request again."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.casework.portal_lead import BookingLead, lead_refusal, with_nearest
from engine.casework.portal_rules import day_refusal, time_refusal
from engine.core.instants import iso_utc, parse_when
from engine.core.messages import Message
from engine.runtime.verbs import Runtime

if TYPE_CHECKING:
    from engine.casework.portal import BookablePage

# Where a booking form's live choices come from ("x-source" on a field).
SOURCES = ("service_items", "stores", "free_slots")


@dataclass(frozen=True)
class StoreChoice:
    """A store a customer may choose: its name (what bookings hold) and its address."""

    name: str
    address: str


@dataclass(frozen=True)
class LiveForm:
    """A booking form with its live choices: the service items, the stores and the free times
    of the chosen item, store and day as enums; the day shown, and why it cannot be booked
    (past, closed, nobody on shift) if so. Field names say which field holds what."""

    schema: dict[str, Any]
    day: str | None = None
    day_refused: Message | None = None
    item_field: str | None = None
    store_field: str | None = None
    slot_field: str | None = None
    items: list[tuple[str, str]] = field(default_factory=list)
    stores: list[StoreChoice] = field(default_factory=list)


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


def stores(runtime: Runtime) -> list[StoreChoice]:
    """The stores customers can choose, with their addresses (those with active staff)."""
    from engine.casework.resources import Resource, Store

    with runtime.db.read() as session:
        staffed = set(session.scalars(select(Resource.store).where(Resource.active.is_(True))))
        return [
            StoreChoice(s.name, s.address or "")
            for s in session.scalars(select(Store).order_by(Store.name))
            if s.name in staffed
        ]


def source_field(schema: dict[str, Any], source: str) -> str | None:
    props = schema.get("properties") or {}
    return next(
        (n for n, p in props.items() if isinstance(p, dict) and p.get("x-source") == source),
        None,
    )


def live_form(runtime: Runtime, target: BookablePage, source: Mapping[str, Any]) -> LiveForm:
    """The booking form with its live choices filled in for what the customer chose so far
    (`source`: the page's query or post): fields marked "x-source" get the service items, the
    stores, or the free times of the chosen item and store on the chosen day. A day that
    cannot be booked gets no times and the reason (`check_day`)."""
    live = copy.deepcopy(target.schema)
    props = live.get("properties") or {}
    item_field = source_field(live, "service_items")
    store_field = source_field(live, "stores")
    slot_field = source_field(live, "free_slots")
    items = service_items(runtime) if item_field else []
    if item_field:
        props[item_field]["enum"] = [code for code, _ in items]
    choices = stores(runtime) if store_field else []
    if store_field:
        props[store_field]["enum"] = [s.name for s in choices]
    day = str(source.get("day") or "").strip() or None
    refused = None
    if slot_field:
        item = str(source.get(item_field) or "") if item_field else ""
        store = str(source.get(store_field) or "") if store_field else ""
        store = store if store in {s.name for s in choices} else ""
        chosen = str(source.get(slot_field) or "")
        if not day and chosen:
            try:
                day = runtime.calendar.local(parse_when(chosen, runtime.calendar.zone))
                day = day.date().isoformat()
            except (TypeError, ValueError):
                day = None
        slots: list[str] = []
        if item and day:
            refused = check_day(runtime, day, store or None, item)
            if refused is None:
                slots = free_slots(runtime, item, day, store or None)
        props[slot_field].pop("format", None)
        props[slot_field]["enum"] = slots
    return LiveForm(live, day, refused, item_field, store_field, slot_field, items, choices)


def check_day(
    runtime: Runtime, day: str, store: str | None = None, service_item: str | None = None
) -> Message | None:
    """Why a customer cannot book the company-local `day` ("YYYY-MM-DD"), or None: not a date,
    past, a holiday or another closed day, or (with a store's service item) nobody on shift
    for it (engine.casework.portal_rules.day_refusal)."""
    try:
        wanted = date.fromisoformat(str(day).strip())
    except ValueError:
        return Message("day_invalid", "not a valid date")
    with runtime.db.read() as session:
        return day_refusal(
            session, runtime.calendar, runtime.clock.now(), wanted, store, service_item
        )


def check_time(
    runtime: Runtime,
    value: Any,
    store: str | None = None,
    service_item: str | None = None,
    lead: BookingLead | None = None,
    urgent: bool = False,
) -> Message | None:
    """Why a customer cannot have the time `value` (ISO 8601; without an offset it is company
    time), or None (engine.casework.portal_rules.time_refusal). With the booking's `lead`
    (engine.casework.portal_lead) also a time too few working days ahead unless `urgent`, and
    a refusal names the first time the customer may book instead."""
    try:
        when = parse_when(value, runtime.calendar.zone)
    except (TypeError, ValueError):
        return Message("time_invalid", "not a valid date and time")
    now = runtime.clock.now()
    with runtime.db.read() as session:
        refused = time_refusal(session, runtime.calendar, now, when, store, service_item)
    if lead is None:
        return refused
    if refused is not None:
        return with_nearest(refused, runtime.calendar, now, when, lead, urgent)
    return lead_refusal(runtime.calendar, now, when, lead, urgent)


def holiday_name(runtime: Runtime, day: str, language: str) -> str | None:
    """The public holiday on `day` ("YYYY-MM-DD") named in `language` ("zh_TW", "en_US"), for
    telling a customer why the day is closed; None when it is none."""
    try:
        return runtime.calendar.holiday_name_in(date.fromisoformat(str(day)), language)
    except ValueError:
        return None


def time_fields(schema: dict[str, Any]) -> list[str]:
    """The form's date-time fields: times a customer picks, checked by the calendar rule."""
    return [
        name
        for name, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict) and prop.get("format") == "date-time"
    ]


def checked_times(
    runtime: Runtime,
    schema: dict[str, Any],
    data: Mapping[str, Any],
    refusal: Callable[[str, str], Any],
) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """The form's times as instants in UTC (pages post company wall-clock time) and, per field,
    what `refusal(field, value)` refuses. A time that is not a time at all is left to the
    form's own check."""
    times: dict[str, str] = {}
    errors: dict[str, list[Any]] = {}
    for name in time_fields(schema):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            when = parse_when(value, runtime.calendar.zone)
        except (TypeError, ValueError):
            continue
        refused = refusal(name, value)
        if refused is not None:
            errors[name] = [refused]
        else:
            times[name] = iso_utc(when)
    return times, errors
