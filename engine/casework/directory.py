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

Sending a professional on a case, and holding her for an appointment's time, is
engine.casework.professionals.
"""

from __future__ import annotations

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

from engine.core.stepcontext import current, service
from engine.store.audit import record
from engine.store.tables import ID, Base

GOOD_RATING = 3.0
MAX_LIMIT = 50


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
        **card(person),
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
    fitting.sort(key=rank)
    return [card(p) for p in fitting[:limit]]


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


# ----- helpers -----------------------------------------------------------------------------


def rank(p: Person) -> tuple[int, float, int, int, int]:
    """The sort key of the ranking above (smaller is better)."""
    if p.rating_avg is None or not p.rating_count:
        band, average = 1, 0.0
    else:
        band, average = (0 if p.rating_avg >= GOOD_RATING else 2), p.rating_avg
    return band, -average, -p.experience_years, -p.rating_count, p.id


def card(p: Person) -> dict[str, Any]:
    """What a list of people shows of one: name, phone, rating, experience."""
    rating = None if p.rating_avg is None else round(p.rating_avg, 2)
    return {
        "id": p.id,
        "name": p.name,
        "phone": p.phone,
        "rating": rating,
        "rating_count": p.rating_count,
        "experience_years": p.experience_years,
    }


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
