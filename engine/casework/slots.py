"""Booking slots: finding free 30-minute slots of a staff member and a room or station, and
booking, releasing and moving them inside a case's step (the @service helpers scripts call).
The tables and their administration are in engine.casework.resources.

A booking holds one `slot_booking` row per resource (a staff member and a room or station) per
30-minute slot, under UNIQUE (resource_id, slot_start). That constraint, not the free-slot check,
is what keeps two bookings off one slot: the check only chooses whom and where; the rows are
inserted inside a SAVEPOINT. When another case's step took one of them first (on PostgreSQL the
insert waits for that transaction and then fails; on SQLite write steps already run one at a time
under BEGIN IMMEDIATE, so the check sees the other booking) the savepoint is rolled back, the
choice is made again from what is committed now, and if nothing is left the script gets
`ok: False` with alternatives. The case step itself goes on either way.

Times in and out of the script helpers are ISO 8601 strings (a time without an offset is company
local time); instants come back in UTC with a +00:00 offset.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import DBAPIError

from engine.casework.resources import (
    PLACES,
    SLOT,
    BookingError,
    Resource,
    ResourceKind,
    ServiceItem,
    Shift,
    SlotBooking,
    bookings_for_case,
    default_calendar,
    iso_utc,
    item_details,
    store_details,
)
from engine.core.calendar import BusinessCalendar
from engine.core.instants import parse_when
from engine.core.stepcontext import StepContext, current, service
from engine.store.audit import record
from engine.store.tables import Case

MAX_ALTERNATIVES = 5
LOOKAHEAD_DAYS = 21  # calendar days searched for alternatives after the requested day
_ATTEMPTS = 3  # choices tried when concurrent bookings keep taking the chosen resources


@dataclass
class _Board:
    """Staff, places, shifts and booked slots of one local day: loaded once, asked often."""

    item: ServiceItem
    starts: list[datetime]  # the day's half-hour grid inside office hours
    staff: list[Resource]
    places: list[Resource]
    shifts: dict[int, list[tuple[datetime, datetime]]]
    booked: set[tuple[int, datetime]]

    def pairs(self, start: datetime) -> list[tuple[Resource, Resource]]:
        """(staff, place) pairs of one store free for the whole item from `start`; the staff
        member with the fewest booked slots that day first, so the work spreads."""
        end = start + timedelta(minutes=self.item.duration_min)
        slots = _slots(start, self.item)
        staff = [
            s
            for s in self.staff
            if any(a <= start and end <= b for a, b in self.shifts.get(s.id, ()))
            and all((s.id, t) not in self.booked for t in slots)
        ]
        load = Counter(resource_id for resource_id, _ in self.booked)
        staff.sort(key=lambda s: (load[s.id], s.id))
        places = [p for p in self.places if all((p.id, t) not in self.booked for t in slots)]
        return [(s, p) for s in staff for p in places if p.store == s.store]

    def free_starts(self, now: datetime) -> list[datetime]:
        return [t for t in self.starts if t >= now and self.pairs(t)]

    def free_places(self, now: datetime) -> list[tuple[datetime, str]]:
        """The free starts with the store a booking at each would go to (its first pair's)."""
        found = ((t, self.pairs(t)) for t in self.starts if t >= now)
        return [(t, pairs[0][0].store) for t, pairs in found if pairs]


@dataclass
class _Request:
    """One script call: the step, the calendar, the item and the store asked for."""

    ctx: StepContext
    calendar: BusinessCalendar
    item: ServiceItem
    store: str | None

    def starts(self, day: date) -> list[datetime]:
        """Every start on the half-hour grid of a working day's office hours that ends in time."""
        cal, minutes = self.calendar, self.item.duration_min
        if not cal.is_working_day(day):
            return []
        first = datetime.combine(day, cal.office_start, cal.zone).astimezone(UTC)
        close = datetime.combine(day, cal.office_end, cal.zone).astimezone(UTC)
        count = int((close - timedelta(minutes=minutes) - first) / SLOT) + 1
        return [first + i * SLOT for i in range(max(count, 0))]

    def board(self, day: date) -> _Board:
        session, item, zone = self.ctx.session, self.item, self.calendar.zone
        begin = datetime.combine(day, time(0), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        query = select(Resource).where(Resource.active.is_(True)).order_by(Resource.id)
        if self.store is not None:
            query = query.where(Resource.store == self.store)
        found = session.scalars(query).all()
        staff = [r for r in found if r.kind == ResourceKind.STAFF and item.skill in r.skills]
        places = [r for r in found if r.kind in PLACES and (not r.skills or item.skill in r.skills)]
        shifts: dict[int, list[tuple[datetime, datetime]]] = {}
        for row in session.execute(
            select(Shift.resource_id, Shift.starts_at, Shift.ends_at).where(
                Shift.resource_id.in_([s.id for s in staff]),
                Shift.starts_at < end,
                Shift.ends_at > begin,
            )
        ):
            shifts.setdefault(row.resource_id, []).append((row.starts_at, row.ends_at))
        booked = session.execute(
            select(SlotBooking.resource_id, SlotBooking.slot_start).where(
                SlotBooking.resource_id.in_([r.id for r in staff + places]),
                SlotBooking.slot_start >= begin,
                SlotBooking.slot_start < end,
            )
        )
        return _Board(item, self.starts(day), staff, places, shifts, {tuple(r) for r in booked})

    def refusal(self, start: datetime) -> tuple[str, str] | None:
        """Why `start` can never be booked (past, closed, off the grid), or None."""
        if start < self.ctx.now:
            return "past", "該時間已過"
        local = self.calendar.local(start)
        if start in self.starts(local.date()):
            return None
        opens = datetime.combine(local.date(), self.calendar.office_start, self.calendar.zone)
        closes = datetime.combine(local.date(), self.calendar.office_end, self.calendar.zone)
        end = local + timedelta(minutes=self.item.duration_min)
        if self.calendar.is_working_day(local.date()) and opens <= local and end <= closes:
            return "off_grid", "預約時間須從營業開始起每 30 分鐘一格"
        return "closed", "該時段不在營業時間內"

    def alternatives(self, start: datetime) -> list[tuple[str, str]]:
        """Up to five free starts with their store: the nearest ones on the requested day, then
        the earliest on the following working days; in time order."""
        now = self.ctx.now
        day = self.calendar.local(max(start, now)).date()
        same = self.board(day).free_places(now)
        picked = sorted(same, key=lambda p: (abs(p[0] - start), p[0]))[:MAX_ALTERNATIVES]
        for later in (day + timedelta(days=n) for n in range(1, LOOKAHEAD_DAYS + 1)):
            if len(picked) >= MAX_ALTERNATIVES:
                break
            if self.calendar.is_working_day(later):
                picked += self.board(later).free_places(now)[: MAX_ALTERNATIVES - len(picked)]
        return [(iso_utc(t), store) for t, store in sorted(picked)]

    def book(self, start: datetime) -> dict[str, Any]:
        """Choose, then insert the slot rows in a savepoint; a unique violation means another
        step took them since we looked: choose again from what is committed now."""
        ctx, item = self.ctx, self.item
        refusal = self.refusal(start)
        if refusal is not None:
            return self.declined(start, *refusal)
        ctx.session.flush()  # pending rows of the step must not fail inside our savepoint
        for _ in range(_ATTEMPTS):
            pairs = self.board(self.calendar.local(start).date()).pairs(start)
            if not pairs:
                break
            staff, place = pairs[0]
            ref = f"{ctx.case_number}-{secrets.token_hex(3).upper()}"
            common = {"case_id": ctx.case_id, "booking_ref": ref, "service_item": item.code}
            rows = [  # one global order (resource, slot), so concurrent inserts cannot deadlock
                {"resource_id": r.id, "slot_start": slot, "created_at": ctx.now, **common}
                for r in sorted((staff, place), key=lambda r: r.id)
                for slot in _slots(start, item)
            ]
            try:
                with ctx.session.begin_nested():
                    ctx.session.execute(insert(SlotBooking), rows)
            except DBAPIError as exc:
                if _taken_meanwhile(exc):
                    continue
                raise
            end = start + timedelta(minutes=item.duration_min)
            booking = {"start": iso_utc(start), "end": iso_utc(end), "staff": staff.name}
            booking |= {"room": place.name, "store": staff.store, "booking_ref": ref}
            _audit(ctx, "slot_booked", {"service_item": item.code, **booking})
            return {"ok": True, **booking}
        return self.declined(start, "taken", "該時段已無空閒的人員或房間")

    def declined(self, start: datetime, reason: str, message: str) -> dict[str, Any]:
        places = self.alternatives(start)
        return {
            "ok": False,
            "reason": reason,
            "message": message,
            "alternatives": [t for t, _ in places],
            "alternative_stores": [store for _, store in places],
        }


def _slots(start: datetime, item: ServiceItem) -> list[datetime]:
    count = -(-item.duration_min // 30)  # a 45-minute item holds two slots
    return [start + i * SLOT for i in range(count)]


def _taken_meanwhile(exc: DBAPIError) -> bool:
    """A unique violation on our slot rows (another step booked them first), or a PostgreSQL
    deadlock between two such inserts; anything else is a real error."""
    if getattr(exc.orig, "sqlstate", None) in ("23505", "40P01"):
        return True
    return "UNIQUE constraint failed: slot_booking" in str(exc.orig)


def _release(ctx: StepContext) -> int:
    refs = ctx.session.scalars(
        select(SlotBooking.booking_ref).where(SlotBooking.case_id == ctx.case_id).distinct()
    ).all()
    if refs:
        ctx.session.execute(
            delete(SlotBooking)
            .where(SlotBooking.case_id == ctx.case_id)
            .execution_options(synchronize_session=False)
        )
        _audit(ctx, "slot_released", {"booking_refs": sorted(refs)})
    return len(refs)


def _audit(ctx: StepContext, kind: str, detail: dict[str, Any]) -> None:
    record(ctx.session, kind, at=ctx.now, actor=ctx.actor, case_id=ctx.case_id, detail=detail)


@service()
def free_slots(service_item: str, day: str, store: str | None = None) -> list[str]:
    """Start times (ISO, UTC) on the company-local `day` at which a staff member on shift with
    the item's skill and a room or station of the same store are free for the whole item."""
    request = _request(service_item, store)
    local_day = request.calendar.local(_when(day, request.calendar)).date()
    return [iso_utc(t) for t in request.board(local_day).free_starts(request.ctx.now)]


@service()
def book_slot(service_item: str, start: str, store: str | None = None) -> dict[str, Any]:
    """Book a staff member and a room for the item from `start`, in this case's step. Returns
    {"ok": True, "start", "end", "staff", "room", "store", "booking_ref"} or {"ok": False,
    "reason" (past | closed | off_grid | taken), "message", "alternatives": [ISO starts],
    "alternative_stores": [the store of each]}."""
    request = _request(service_item, store)
    ctx = request.ctx
    held = bookings_for_case(ctx.session, ctx.case_id)
    if held:
        raise BookingError(
            f"case {ctx.case_number} already holds booking {held[0]['booking_ref']}; "
            "use rebook_slot to change it or release_booking to cancel it"
        )
    result = request.book(_when(start, request.calendar))
    _set_appointment(ctx, result)
    return result


@service()
def release_booking() -> int:
    """Release every booking this case holds; returns how many bookings were released."""
    ctx = current()
    released = _release(ctx)
    _set_appointment(ctx, {"ok": False})
    return released


@service()
def rebook_slot(service_item: str, new_start: str, store: str | None = None) -> dict[str, Any]:
    """Move this case's booking to `new_start` in one transaction. If the new time cannot be
    booked the old booking stays and the answer is ok False with alternatives (book_slot's)."""
    request = _request(service_item, store)
    ctx, start = request.ctx, _when(new_start, request.calendar)
    old = {b["start"] for b in bookings_for_case(ctx.session, ctx.case_id)}
    ctx.session.flush()
    savepoint = ctx.session.begin_nested()
    try:
        _release(ctx)
        result = request.book(start)
    except BaseException:
        savepoint.rollback()
        raise
    if result["ok"]:
        savepoint.commit()
        _set_appointment(ctx, result)
    else:  # alternatives were found with the old booking released: it may move within itself
        savepoint.rollback()
        places = zip(result["alternatives"], result["alternative_stores"], strict=True)
        kept = [(t, store) for t, store in places if t not in old]
        result["alternatives"] = [t for t, _ in kept]
        result["alternative_stores"] = [store for _, store in kept]
    return result


@service()
def appointment_details(service_item: str, store: str | None = None) -> dict[str, str]:
    """What the customer's messages say about the item and the store: {"service_item_name",
    "prep_notes", "store_name", "store_address"} (store and address empty when no store is
    given, e.g. a request for any store)."""
    session = current().session
    item = item_details(session, service_item)
    place = store_details(session, store)
    return {
        "service_item_name": item["name"],
        "prep_notes": item["prep_notes"],
        "store_name": place["name"],
        "store_address": place["address"],
    }


def _set_appointment(ctx: StepContext, result: dict[str, Any]) -> None:
    """Keep the case's searchable appointment time in step with what it holds; done outside
    the booking savepoints, so a rolled-back attempt never leaves the case row half-changed."""
    case = ctx.session.get(Case, ctx.case_id)
    if case is not None:
        case.appointment_at = datetime.fromisoformat(result["start"]) if result["ok"] else None


def _request(code: Any, store: Any) -> _Request:
    ctx = current()
    calendar = getattr(ctx, "calendar", None)  # set by the runtime once StepContext carries it
    if not isinstance(calendar, BusinessCalendar):
        calendar = default_calendar()
    item = ctx.session.get(ServiceItem, code) if isinstance(code, str) else None
    if item is None:
        raise BookingError(f"unknown service item {code!r}")
    if isinstance(store, str) and not store.strip():
        store = None  # an optional form field left empty: any store
    if store is not None:
        known = ctx.session.scalar(select(Resource.id).where(Resource.store == store).limit(1))
        if known is None:
            raise BookingError(f"unknown store {store!r}")
    return _Request(ctx, calendar, item, store)


def _when(value: Any, calendar: BusinessCalendar) -> datetime:
    try:
        return parse_when(value, calendar.zone)
    except (TypeError, ValueError) as exc:
        raise BookingError(str(exc)) from exc
