"""The directory: customers and the people the company sends out (nurses, nannies, cleaners,
technicians, professionals), with their skills, experience, availability and ratings.

Procedures recommend people from here ("contact suitable available nurses", "assign a suitable
cleaner") and write back what customers thought of them ("the rating is recorded on the nurse's
profile and used when recommending her later").

Ranking, best first:
1. people rated 3 or better, by average rating;
2. people not rated yet: a newcomer gets offered before someone customers were unhappy with;
3. people rated below 3.
Ties go to more years of experience, then more ratings, then the earlier entry. The average is
a plain mean: the directory is small and staff see the rating count beside it.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.casework.resources import ServiceItem, default_calendar
from engine.core.instants import iso_utc, parse_when
from engine.core.status import ACTIVE_CASE
from engine.core.stepcontext import StepContext, current, service
from engine.store.audit import record
from engine.store.tables import ID, Base, Case, Event

GOOD_RATING = 3.0
MAX_LIMIT = 50
# The event that records which professional a case took; with "start" and "end" in its detail it
# also holds her for that time (the case's latest one counts while the case runs).
ASSIGNED = "professional_assigned"


class PersonKind(StrEnum):
    CUSTOMER = "customer"
    NURSE = "nurse"  # 月嫂
    NANNY = "nanny"  # 育嬰師
    CLEANER = "cleaner"  # 保潔阿姨
    TECHNICIAN = "technician"  # 維修人員
    PROFESSIONAL = "professional"  # 專業人員


class DirectoryError(ValueError):
    """Bad input to a directory helper: unknown person or kind, a score outside 1..5."""


class Person(Base):
    __tablename__ = "person"
    __table_args__ = (Index("ix_person_kind_available", "kind", "available"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    email: Mapped[str | None] = mapped_column(String(300))
    skills: Mapped[list[Any]]
    experience_years: Mapped[int] = mapped_column(default=0)
    rating_avg: Mapped[float | None] = mapped_column(Float)  # None until first rated
    rating_count: Mapped[int] = mapped_column(default=0)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str | None] = mapped_column(Text)


class Rating(Base):
    """One customer's score for one person; a case rates a person at most once (a second
    rating from the same case replaces the first). Imported history has no case."""

    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("person_id", "case_id", name="uq_rating_person_case"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


# ----- plain functions (the caller commits) ------------------------------------------------


def add_person(
    session: Session,
    kind: str,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    skills: list[str] | tuple[str, ...] = (),
    experience_years: int = 0,
    available: bool = True,
    notes: str | None = None,
) -> Person:
    """Add a customer or a staff member to the directory."""
    _check_kind(kind)
    if not str(name or "").strip():
        raise DirectoryError("a person needs a name")
    if not isinstance(experience_years, int) or experience_years < 0:
        raise DirectoryError(
            f"experience_years must be a whole number ≥ 0, not {experience_years!r}"
        )
    person = Person(
        kind=kind,
        name=name.strip(),
        phone=phone,
        email=email,
        skills=list(_skills(skills)),
        experience_years=experience_years,
        rating_count=0,
        available=available,
        notes=notes,
    )
    session.add(person)
    session.flush()
    return person


def get_person(session: Session, person_id: int) -> dict[str, Any] | None:
    """Everything the directory holds on one person, or None."""
    person = session.get(Person, person_id)
    if person is None:
        return None
    return {
        **_card(person),
        "kind": person.kind,
        "email": person.email,
        "skills": list(person.skills),
        "available": person.available,
        "notes": person.notes,
    }


def candidates(
    session: Session,
    kind: str,
    skills: str | list[str] | None = None,
    exclude: Any = None,
    limit: int = 5,
) -> list[dict[str, Any]]:
    """Available people of `kind` having every skill, minus `exclude`, best first."""
    _check_kind(kind)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise DirectoryError(f"limit must be 1..{MAX_LIMIT}, not {limit!r}")
    wanted = set(_skills(skills))
    skipped = _ids(exclude)
    people = session.scalars(
        select(Person).where(Person.kind == kind, Person.available.is_(True))
    ).all()
    # Skills are filtered here, not in SQL: JSON containment differs between the databases and
    # a kind holds at most a few hundred people.
    fitting = [p for p in people if p.id not in skipped and wanted <= set(p.skills)]
    fitting.sort(key=_rank)
    return [_card(p) for p in fitting[:limit]]


def add_rating(
    session: Session,
    person_id: int,
    score: Any,
    at: datetime,
    comment: str | None = None,
    case_id: int | None = None,
) -> dict[str, Any]:
    """Record a score (1..5) and bring the person's average up to date. With a case, a second
    rating from that case replaces its first."""
    value = _score(score)
    # Lock the person first: two cases rating her at once then update the average one after
    # the other, each counting the other's rating (PostgreSQL; SQLite writers queue anyway).
    person = session.get(Person, _person_id(person_id), with_for_update=True)
    if person is None:
        raise DirectoryError(f"no person with id {person_id!r}")
    existing = None
    if case_id is not None:
        existing = session.scalars(
            select(Rating).where(Rating.person_id == person.id, Rating.case_id == case_id)
        ).first()
    if existing is None:
        session.add(
            Rating(
                person_id=person.id, case_id=case_id, score=value, comment=comment, created_at=at
            )
        )
    else:
        existing.score, existing.comment, existing.created_at = value, comment, at
    session.flush()
    average, count = session.execute(
        select(func.avg(Rating.score), func.count(Rating.id)).where(Rating.person_id == person.id)
    ).one()
    person.rating_avg, person.rating_count = float(average), int(count)
    return {"person_id": person.id, "rating": round(person.rating_avg, 2), "rating_count": count}


# ----- script helpers ----------------------------------------------------------------------


@service()
def rank_candidates(
    kind: str, skills: str | list[str] | None = None, exclude: Any = None, limit: int = 5
) -> list[dict[str, Any]]:
    """Available people of `kind` with all `skills`, not in `exclude` (ids), best first:
    [{"id", "name", "phone", "rating", "rating_count", "experience_years"}]."""
    return candidates(current().session, kind, skills, exclude, limit)


@service()
def record_rating(person_id: int, score: int, comment: str | None = None) -> dict[str, Any]:
    """This case's rating (1..5) of a person; rating again from the same case replaces it.
    Returns {"person_id", "rating" (new average), "rating_count"}."""
    ctx = current()
    result = add_rating(ctx.session, person_id, score, ctx.now, comment, ctx.case_id)
    detail = {"person_id": result["person_id"], "score": _score(score)}
    record(
        ctx.session,
        "rating_recorded",
        at=ctx.now,
        actor=ctx.actor,
        case_id=ctx.case_id,
        detail=detail,
    )
    return result


@service()
def set_available(person_id: int, available: bool) -> dict[str, Any]:
    """Mark a person available or not (e.g. a nurse who started at a customer's home)."""
    ctx = current()
    if not isinstance(available, bool):
        raise DirectoryError(f"available must be True or False, not {available!r}")
    person = ctx.session.get(Person, _person_id(person_id))
    if person is None:
        raise DirectoryError(f"no person with id {person_id!r}")
    person.available = available
    detail = {"person_id": person.id, "available": available}
    record(
        ctx.session,
        "person_availability",
        at=ctx.now,
        actor=ctx.actor,
        case_id=ctx.case_id,
        detail=detail,
    )
    return detail


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
        fitting.sort(key=lambda p: (-p.experience_years, _rank(p)))
    else:
        fitting.sort(key=_rank)
    chosen = _card(fitting[0])
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
def assignment_problem(
    person_id: Any, kind: str, skills: str | list[str] | None = None
) -> str | None:
    """Why the person `person_id` cannot be sent as a `kind` needing `skills` now, for a form's
    check of a choice: "unknown" (nobody of that kind with that id in the directory),
    "missing_skill", "unavailable"; None when she can be sent."""
    _check_kind(kind)
    wanted = set(_skills(skills))
    try:
        person = current().session.get(Person, _person_id(person_id))
    except DirectoryError:
        person = None
    if person is None or person.kind != kind:
        return "unknown"
    if not wanted <= set(person.skills):
        return "missing_skill"
    if not person.available:
        return "unavailable"
    return None


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
    return {"professional": _card(person), "reason": reason}


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
    return {**_card(person), "registered": registered, "busy": busy}


# ----- helpers -----------------------------------------------------------------------------


def _rank(p: Person) -> tuple[int, float, int, int, int]:
    if p.rating_avg is None or not p.rating_count:
        band, average = 1, 0.0
    else:
        band, average = (0 if p.rating_avg >= GOOD_RATING else 2), p.rating_avg
    return band, -average, -p.experience_years, -p.rating_count, p.id


def _card(p: Person) -> dict[str, Any]:
    rating = None if p.rating_avg is None else round(p.rating_avg, 2)
    return {
        "id": p.id,
        "name": p.name,
        "phone": p.phone,
        "rating": rating,
        "rating_count": p.rating_count,
        "experience_years": p.experience_years,
    }


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


def _check_kind(kind: Any) -> None:
    if kind not in set(PersonKind):
        raise DirectoryError(f"kind {kind!r} is not one of {', '.join(PersonKind)}")


def _skills(skills: Any) -> tuple[str, ...]:
    if skills is None:
        return ()
    if isinstance(skills, str):
        return (skills,)
    if isinstance(skills, list | tuple) and all(isinstance(s, str) for s in skills):
        return tuple(skills)
    raise DirectoryError(f"skills must be a skill name or a list of them, not {skills!r}")


def _person_id(value: Any) -> int:
    """A person id from a script or a form: an int or a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise DirectoryError(f"no person with id {value!r}")


def _ids(exclude: Any) -> set[int]:
    if exclude is None:
        return set()
    values = exclude if isinstance(exclude, list | tuple | set) else [exclude]
    try:
        return {_person_id(v) for v in values}
    except DirectoryError as exc:
        raise DirectoryError(f"exclude must list person ids, not {exclude!r}") from exc


def _score(score: Any) -> int:
    value = None
    if isinstance(score, int) and not isinstance(score, bool):
        value = score
    elif isinstance(score, float) and score.is_integer():
        value = int(score)
    elif isinstance(score, str) and score.strip().isdigit():
        value = int(score.strip())
    if value is None or not 1 <= value <= 5:
        raise DirectoryError(f"a rating is a whole number from 1 to 5, not {score!r}")
    return value
