"""Sending professionals on a case: choosing the one for a service item (assign_professional),
checking one that staff name (check_professional) and taking her (take_professional). Each
choice is recorded as an assignment event on the case; with an appointment's start and end it
also holds her for that time, so that another running case does not take her for an
overlapping time. Who she is and how customers rated her is the directory's
(engine.casework.directory)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.casework.directory import (
    DirectoryError,
    Person,
    PersonKind,
    add_person,
    card,
    rank,
)
from engine.casework.resources import ServiceItem, default_calendar
from engine.core.instants import iso_utc, parse_when
from engine.core.status import ACTIVE_CASE
from engine.core.stepcontext import StepContext, current, service
from engine.store.audit import record
from engine.store.tables import Case, Event

# The event that records which professional a case took; with "start" and "end" in its detail it
# also holds her for that time (the case's latest one counts while the case runs).
ASSIGNED = "professional_assigned"


@service()
def assign_professional(
    service_item_or_skill: str, important: bool = False, start: Any = None, end: Any = None
) -> dict[str, Any] | None:
    """The available professional for a service item (its skill) or a skill; None if nobody.

    An important customer gets the most experienced one (then the best rated); everyone else the
    best rated by the directory's ranking. With `start` and `end` (the appointment), people whom
    another running case holds for an overlapping time are passed over, and the one chosen is
    held for that time. (There is no assignment table to balance open work by; staff see the
    choice in the case and can change it.)"""
    ctx = current()
    if not isinstance(service_item_or_skill, str) or not service_item_or_skill:
        raise DirectoryError(
            f"expected a service item code or a skill, got {service_item_or_skill!r}"
        )
    item = ctx.session.get(ServiceItem, service_item_or_skill)
    skill = item.skill if item is not None else service_item_or_skill
    span = _span(start, end)
    if span is not None:
        _lock(ctx.session, Person.kind == PersonKind.PROFESSIONAL)
    busy = _busy(ctx, span)
    people = ctx.session.scalars(
        select(Person).where(Person.kind == PersonKind.PROFESSIONAL, Person.available.is_(True))
    ).all()
    fitting = [p for p in people if skill in p.skills and p.id not in busy]
    if not fitting:
        return None
    if important:
        fitting.sort(key=lambda p: (-p.experience_years, rank(p)))
    else:
        fitting.sort(key=rank)
    chosen = card(fitting[0])
    detail = {"person_id": chosen["id"], "skill": skill, "important": bool(important)}
    record(
        ctx.session,
        ASSIGNED,
        at=ctx.now,
        actor=ctx.actor,
        case_id=ctx.case_id,
        detail={**detail, **_held(span)},
    )
    return chosen


@service()
def check_professional(
    who: Any, service_item_or_skill: str, start: Any = None, end: Any = None
) -> dict[str, Any]:
    """Whether a professional (an id, or a name or phone as someone wrote it) can take a
    service item from `start` to `end`: {"professional": her card or None, "reason": ""}
    when she can, else the reason: "unknown" (not in the directory), "no_item" (does not offer
    the item), "unavailable" (not taking work) or "busy" (another running case holds her at an
    overlapping time). Records nothing: take_professional takes her."""
    ctx = current()
    skill = _skill_of(ctx.session, service_item_or_skill)
    person = _professional(ctx.session, who, who)
    if person is None:
        return {"professional": None, "reason": "unknown"}
    reason = ""
    if skill not in person.skills:
        reason = "no_item"
    elif not person.available:
        reason = "unavailable"
    elif person.id in _busy(ctx, _span(start, end)):
        reason = "busy"
    return {"professional": card(person), "reason": reason}


@service()
def take_professional(
    who: Any,
    phone: str | None,
    service_item_or_skill: str,
    start: Any = None,
    end: Any = None,
) -> dict[str, Any]:
    """Take a professional for this case (and hold her from `start` to `end`): the directory's
    profile with id `who`, else with that phone, else with name `who`. Someone staff name who
    is not in the directory is added to it (a professional offering the item), so that what
    customers think of her has a profile to land on. Recorded as an assignment. Returns her
    card with "registered" (added now) and "busy" (another running case holds her then)."""
    ctx = current()
    skill = _skill_of(ctx.session, service_item_or_skill)
    span = _span(start, end)
    person = _professional(ctx.session, who, phone)
    registered = person is None
    if person is None:
        if not isinstance(who, str):
            raise DirectoryError(f"no professional with id {who!r}")
        name = who.strip()
        person = add_person(ctx.session, PersonKind.PROFESSIONAL, name, phone, None, [skill])
    elif span is not None:
        _lock(ctx.session, Person.id == person.id)
    detail = {"person_id": person.id, "skill": skill, "taken": True, **_held(span)}
    if registered:
        detail["registered"] = True
    busy = person.id in _busy(ctx, span)
    record(ctx.session, ASSIGNED, at=ctx.now, actor=ctx.actor, case_id=ctx.case_id, detail=detail)
    return {**card(person), "registered": registered, "busy": busy}


# ----- helpers -----------------------------------------------------------------------------


def _skill_of(session: Session, service_item_or_skill: Any) -> str:
    """The skill a service item needs (its code in the service items), or the skill itself."""
    if not isinstance(service_item_or_skill, str) or not service_item_or_skill:
        raise DirectoryError(
            f"expected a service item code or a skill, got {service_item_or_skill!r}"
        )
    item = session.get(ServiceItem, service_item_or_skill)
    return item.skill if item is not None else service_item_or_skill


def _digits(phone: Any) -> str:
    """The last 8 digits of a phone number (as the portal compares them); "" for fewer than 6."""
    digits = re.sub(r"\D", "", str(phone or ""))
    return digits[-8:] if len(digits) >= 6 else ""


def _professional(session: Session, who: Any, phone: Any = None) -> Person | None:
    """A professional by id, else by phone number, else by her exact name (the earliest entry
    of that name)."""
    if isinstance(who, int) and not isinstance(who, bool):
        person = session.get(Person, who)
        return person if person is not None and person.kind == PersonKind.PROFESSIONAL else None
    people = session.scalars(
        select(Person).where(Person.kind == PersonKind.PROFESSIONAL).order_by(Person.id)
    ).all()
    digits = _digits(phone)
    if digits:
        for person in people:
            if _digits(person.phone) == digits:
                return person
    name = str(who or "").strip()
    return next((p for p in people if name and p.name == name), None)


def _span(start: Any, end: Any) -> tuple[datetime, datetime] | None:
    """An appointment's start and end as UTC instants (without an offset: company time); None
    when neither is given."""
    if start is None and end is None:
        return None
    calendar = getattr(current(), "calendar", None) or default_calendar()
    try:
        begins, ends = parse_when(start, calendar.zone), parse_when(end, calendar.zone)
    except (TypeError, ValueError) as exc:
        raise DirectoryError(f"start and end must be ISO 8601 times: {exc}") from None
    if ends <= begins:
        raise DirectoryError(f"end {end!r} must come after start {start!r}")
    return begins, ends


def _held(span: tuple[datetime, datetime] | None) -> dict[str, str]:
    return {} if span is None else {"start": iso_utc(span[0]), "end": iso_utc(span[1])}


def _lock(session: Session, which: Any) -> None:
    """Lock the people about to be held (in id order) before looking at who is busy, so that
    two cases holding one person at once go one after the other and the second sees the first
    (PostgreSQL; SQLite writers queue anyway)."""
    session.execute(select(Person.id).where(which).order_by(Person.id).with_for_update()).all()


def _busy(ctx: StepContext, span: tuple[datetime, datetime] | None) -> set[int]:
    """Ids of the people other running cases hold for a time overlapping `span`: a case holds
    whom its latest assignment names, for the time that assignment names (if any)."""
    if span is None:
        return set()
    rows = ctx.session.execute(
        select(Event.case_id, Event.detail)
        .join(Case, Case.id == Event.case_id)
        .where(Event.kind == ASSIGNED, Case.status.in_(ACTIVE_CASE), Case.id != ctx.case_id)
        .order_by(Event.id)
    ).all()
    latest = {case_id: detail for case_id, detail in rows}
    busy = set()
    for detail in latest.values():
        try:
            begins = datetime.fromisoformat(detail["start"])
            ends = datetime.fromisoformat(detail["end"])
        except (TypeError, KeyError, ValueError):
            continue  # an assignment without a time holds nobody at a time
        if begins < span[1] and span[0] < ends:
            busy.add(detail.get("person_id"))
    return busy
