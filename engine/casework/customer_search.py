"""The staff's customer search: a case number, a phone number or a name finds the customer with
their cases (their history), among the cases the user may find (engine.core.rules.case_scope,
applied in SQL by engine.casework.queries.visible)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from engine.casework.queries import _open_tasks, _prefix, visible
from engine.core.rules import CaseScope
from engine.store.database import Database
from engine.store.tables import Case, ProcessVersion

# "SA-20261123-0042": a case number (any prefix), so the search looks for that case.
CASE_NUMBER = re.compile(r"^[A-Za-z]{1,10}-\d{8}-\d{1,6}$")
PHONE = re.compile(r"^\+?[\d\s()-]{3,}$")
SEARCH_SCAN = 1000  # cases a text finds in its index, in the index's order
SEARCH_CASES = 50  # of those, the newest the user may find: their customers are shown
SEARCH_HISTORY = 200  # cases of those customers shown, newest first


@dataclass(frozen=True)
class HistoryCase:
    """One case of a customer, as the search lists it."""

    number: str
    process: str
    process_name: str
    status: str
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    service_item: str | None
    appointment_at: datetime | None
    open_tasks: list[str] = field(default_factory=list)  # names of its open steps


@dataclass(frozen=True)
class Customer:
    """A customer as the cases know them: by phone number, else by name; newest case first."""

    name: str | None
    phone: str | None
    cases: list[HistoryCase]


@dataclass(frozen=True)
class CustomerSearch:
    text: str
    kind: str  # "number", "phone", "name", or "" when nothing was asked
    customers: list[Customer]
    more: bool  # more cases matched than were read (SEARCH_CASES) or shown (SEARCH_HISTORY)

    @property
    def case_numbers(self) -> list[str]:
        return [c.number for customer in self.customers for c in customer.cases]


def search_kind(text: str) -> str:
    """What a search text is: a case number, a phone number (digits), or a name."""
    text = text.strip()
    if not text:
        return ""
    if CASE_NUMBER.match(text):
        return "number"
    if PHONE.match(text) and sum(ch.isdigit() for ch in text) >= 3:
        return "phone"
    return "name"


def search_customers(
    db: Database, scope: CaseScope, text: str, limit: int = SEARCH_CASES
) -> tuple[CustomerSearch, list[int]]:
    """The customers whose case number, phone (prefix) or name (prefix) is `text`, each with
    their cases (history), of the cases `scope` lets the user find; and the ids of the cases
    shown (for the record of who saw a customer's details).

    Two indexed reads: the newest matching cases the user may find among the first
    SEARCH_SCAN of the number, phone or name index, then every case of the customers found
    (by the phone index, or the name index for customers without a phone number)."""
    text = text.strip()[:100]
    kind = search_kind(text)
    if not kind:
        return CustomerSearch(text, kind, [], False), []
    allowed = visible(scope)
    if kind == "number":
        column, match = Case.number, Case.number == text.upper()
    elif kind == "phone":
        column = Case.customer_phone
        match = _prefix(column, re.sub(r"\s", "", text))
    else:
        column, match = Case.customer_name, _prefix(Case.customer_name, text)
    # The first SEARCH_SCAN cases of the text in its index's order are the candidates (a
    # short prefix such as "139" matches most cases: type more to reach the others).
    candidates = select(Case.id).where(match).order_by(column).limit(SEARCH_SCAN)
    query = select(Case.id, Case.number, Case.customer_name, Case.customer_phone).where(
        Case.id.in_(candidates.scalar_subquery())
    )
    if allowed is not None:
        query = query.where(allowed)
    query = query.order_by(Case.started_at.desc(), Case.id.desc()).limit(limit + 1)
    with db.read() as session:
        found = session.execute(query).all()
        more = len(found) > limit or (
            session.scalar(
                select(func.count()).select_from(
                    select(Case.id).where(match).limit(SEARCH_SCAN + 1).subquery()
                )
            )
            > SEARCH_SCAN
        )
        found = found[:limit]
        keys = list(dict.fromkeys(_customer_key(c) for c in found))
        if not keys:
            return CustomerSearch(text, kind, [], False), []
        phones = [v for k, v in keys if k == "phone"]
        names = [v for k, v in keys if k == "name"]
        numbers = [v for k, v in keys if k == "case"]
        whose = []
        if phones:
            whose.append(Case.customer_phone.in_(phones))
        if names:
            whose.append(and_(Case.customer_name.in_(names), Case.customer_phone.is_(None)))
        if numbers:
            whose.append(Case.number.in_(numbers))
        history = (
            select(
                Case.id,
                Case.number,
                Case.process_key,
                ProcessVersion.name,
                Case.status,
                Case.outcome,
                Case.started_at,
                Case.ended_at,
                Case.service_item,
                Case.appointment_at,
                Case.customer_name,
                Case.customer_phone,
            )
            .join(ProcessVersion, ProcessVersion.id == Case.process_version_id)
            .where(or_(*whose))
        )
        if allowed is not None:
            history = history.where(allowed)
        history = history.order_by(Case.started_at.desc(), Case.id.desc()).limit(SEARCH_HISTORY + 1)
        cases = session.execute(history).all()
        more = more or len(cases) > SEARCH_HISTORY
        cases = cases[:SEARCH_HISTORY]
        steps = _open_tasks(session, [c.id for c in cases])
    grouped: dict[tuple[str, str], list[Any]] = {key: [] for key in keys}
    for case in cases:
        key = _customer_key(case)
        if key in grouped:
            grouped[key].append(case)
    customers = [
        Customer(
            name=next((c.customer_name for c in rows if c.customer_name), None),
            phone=rows[0].customer_phone,
            cases=[
                HistoryCase(
                    number=c.number,
                    process=c.process_key,
                    process_name=c.name,
                    status=c.status,
                    outcome=c.outcome,
                    started_at=c.started_at,
                    ended_at=c.ended_at,
                    service_item=c.service_item,
                    appointment_at=c.appointment_at,
                    open_tasks=[t["name"] for t in steps.get(c.id, [])],
                )
                for c in rows
            ],
        )
        for rows in grouped.values()
        if rows
    ]
    return CustomerSearch(text, kind, customers, more), [c.id for c in cases]


def _customer_key(case: Any) -> tuple[str, str]:
    """Who a case is about: its phone number, else its customer's name, else the case alone."""
    if case.customer_phone:
        return ("phone", case.customer_phone)
    if case.customer_name:
        return ("name", case.customer_name)
    return ("case", case.number)
