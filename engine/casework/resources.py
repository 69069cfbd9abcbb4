"""Store resources: the tables of stores, service items, rooms, stations and staff, their
shifts and slot bookings, and their administration (adding stores, items, resources and shifts;
a case's bookings; what a customer's message says about an item and a store).

Finding free slots and booking, releasing and moving them inside a case's step (the @service
helpers scripts call) is in engine.casework.slots. A booking holds one `slot_booking` row per
resource (a staff member and a room or station) per 30-minute slot, under UNIQUE (resource_id,
slot_start): that constraint, not the free-slot check, keeps two bookings off one slot.

Times given to and returned by these functions are ISO 8601 strings (a time without an offset is
company local time); instants come back in UTC with a +00:00 offset (`iso_utc`).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.core.calendar import BusinessCalendar
from engine.core.instants import parse_when
from engine.core.settings import load_settings
from engine.store.tables import ID, Base

SLOT = timedelta(minutes=30)


class ResourceKind(StrEnum):
    ROOM = "room"
    STATION = "station"
    STAFF = "staff"


PLACES = (ResourceKind.ROOM, ResourceKind.STATION)


class BookingError(ValueError):
    """A request that cannot be understood: unknown service item or store, malformed time.
    (A time that is simply not free is not an error: the helpers answer ok False.)"""


class Store(Base):
    """A store customers come to: its name (what resources name as their `store`) and its
    address, for the messages that tell customers where to go."""

    __tablename__ = "store"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    address: Mapped[str] = mapped_column(String(300), default="")


class ServiceItem(Base):
    """A bookable item: its code (what cases hold), its name as customers read it, how long it
    takes, the skill it needs, and what the customer must know or do beforehand (prep_notes,
    e.g. 請勿化妝；提前10分鐘到店), told in the confirmation and the reminder."""

    __tablename__ = "service_item"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    duration_min: Mapped[int]
    skill: Mapped[str] = mapped_column(String(60))
    prep_notes: Mapped[str] = mapped_column(Text, default="")


class Resource(Base):
    """A staff member, room or station of one store. A room or station with an empty skills
    list suits every item; otherwise only items whose skill it lists."""

    __tablename__ = "resource"
    __table_args__ = (Index("ix_resource_kind_store", "kind", "store"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    store: Mapped[str] = mapped_column(String(100))
    skills: Mapped[list[Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Shift(Base):
    __tablename__ = "shift"
    __table_args__ = (Index("ix_shift_resource_starts", "resource_id", "starts_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class SlotBooking(Base):
    """One resource held for one 30-minute slot by one case."""

    __tablename__ = "slot_booking"
    __table_args__ = (
        UniqueConstraint("resource_id", "slot_start", name="uq_slot_booking_resource_slot"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    slot_start: Mapped[datetime]
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    booking_ref: Mapped[str] = mapped_column(String(60), index=True)
    service_item: Mapped[str] = mapped_column(ForeignKey("service_item.code"))
    created_at: Mapped[datetime]


# ----- administration (plain functions; the caller commits) ----------------------------------


def add_store(session: Session, name: str, address: str = "") -> Store:
    """Add a store, or set the address of one that exists (e.g. added by its first resource)."""
    if not isinstance(name, str) or not name.strip():
        raise BookingError("a store needs a name")
    store = session.get(Store, name)
    if store is None:
        store = Store(name=name, address=address)
        session.add(store)
    elif address:
        store.address = address
    session.flush()
    return store


def add_service_item(
    session: Session,
    code: str,
    name_zh: str,
    duration_min: int,
    skill: str,
    prep_notes: str = "",
) -> ServiceItem:
    """Add a bookable item (e.g. facial, 60 minutes, needs skill "facial", with what the
    customer must know beforehand)."""
    if not isinstance(duration_min, int) or not 0 < duration_min <= 12 * 60:
        raise BookingError(f"duration_min must be 1..720 minutes, got {duration_min!r}")
    if session.get(ServiceItem, code) is not None:
        raise BookingError(f"service item {code!r} already exists")
    item = ServiceItem(
        code=code, name_zh=name_zh, duration_min=duration_min, skill=skill, prep_notes=prep_notes
    )
    session.add(item)
    session.flush()
    return item


def add_resource(
    session: Session,
    kind: str,
    name: str,
    store: str,
    skills: list[str] | tuple[str, ...] = (),
    active: bool = True,
) -> Resource:
    """Add a staff member, room or station to a store (a store not known yet is added without
    an address: add_store gives it one)."""
    if kind not in set(ResourceKind):
        raise BookingError(f"resource kind {kind!r} is not one of room, station, staff")
    if store and session.get(Store, store) is None:
        add_store(session, store)
    resource = Resource(kind=kind, name=name, store=store, skills=list(skills), active=active)
    session.add(resource)
    session.flush()
    return resource


def add_shift(
    session: Session, resource_id: int, starts_at: datetime | str, ends_at: datetime | str
) -> Shift:
    """Put a staff member on shift; times are aware datetimes or ISO strings (naive = local)."""
    resource = session.get(Resource, resource_id)
    if resource is None or resource.kind != ResourceKind.STAFF:
        raise BookingError(f"resource {resource_id} is not a staff member")
    zone = default_calendar().zone
    start, end = parse_when(starts_at, zone), parse_when(ends_at, zone)
    if not start < end:
        raise BookingError(f"shift must end after it starts ({start} .. {end})")
    shift = Shift(resource_id=resource_id, starts_at=start, ends_at=end)
    session.add(shift)
    session.flush()
    return shift


def bookings_for_case(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The bookings a case holds: ref, item, start, end, staff, room, store (oldest first)."""
    rows = session.execute(
        select(SlotBooking, Resource, ServiceItem)
        .join(Resource, Resource.id == SlotBooking.resource_id)
        .join(ServiceItem, ServiceItem.code == SlotBooking.service_item)
        .where(SlotBooking.case_id == case_id)
        .order_by(SlotBooking.slot_start, SlotBooking.id)
    ).all()
    found: dict[str, dict[str, Any]] = {}
    for booking, resource, item in rows:  # the first row of a booking is its first slot
        end = booking.slot_start + timedelta(minutes=item.duration_min)
        entry = found.setdefault(booking.booking_ref, {"booking_ref": booking.booking_ref})
        entry.setdefault("service_item", item.code)
        entry.setdefault("start", iso_utc(booking.slot_start))
        entry.setdefault("end", iso_utc(end))
        entry.setdefault("store", resource.store)
        entry["staff" if resource.kind == ResourceKind.STAFF else "room"] = resource.name
    return list(found.values())


def item_details(session: Session, code: str) -> dict[str, Any]:
    """What a customer reads about a service item: {"code", "name", "prep_notes"}; an unknown
    code is shown as it is, with no notes."""
    item = session.get(ServiceItem, code) if isinstance(code, str) else None
    if item is None:
        return {"code": code, "name": str(code or ""), "prep_notes": ""}
    # The messages end the notes with their own full stop.
    notes = (item.prep_notes or "").strip().rstrip("。.;；")
    return {"code": item.code, "name": item.name_zh, "prep_notes": notes}


def store_details(session: Session, name: str | None) -> dict[str, str]:
    """What a customer reads about a store: {"name", "address"} (empty when no store is named,
    and an empty address when the store has none)."""
    name = name if isinstance(name, str) else ""
    store = session.get(Store, name) if name.strip() else None
    return {"name": name, "address": store.address if store is not None else ""}


@functools.cache
def default_calendar() -> BusinessCalendar:
    """The calendar of settings.toml, for steps whose context carries none."""
    return BusinessCalendar.from_settings(load_settings())


def iso_utc(when: datetime) -> str:
    """`when` as an ISO 8601 string in UTC (+00:00)."""
    return when.astimezone(UTC).isoformat()
