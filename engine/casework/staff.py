"""What staff ask besides working a task: their inbox page, a customer found by phone, name or
case number, and the processes they may start from the desk with the form each starts with.

Who may see or do what is decided here from the user's roles as the database holds them (never
from what a caller says they hold): the inbox lists the open tasks of those roles and the
user's claims (engine.runtime.inbox); the search finds only the cases
engine.core.rules.case_scope allows, and every case it shows is recorded as a view of the
customer's personal data (engine.casework.privacy); a process is offered only when the user may
start it (engine.definitions.starting), and started through the same verb and checks as the API.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import defer

from engine.casework import customer_search, privacy, queries
from engine.core.errors import Forbidden, NotFound
from engine.core.rules import CaseScope, case_scope, task_refusal
from engine.definitions import starting
from engine.identity.users import get_user
from engine.runtime.inbox import (
    DUE_FILTERS,
    INBOX_PAGE_SIZE,
    STATUS_FILTERS,
    DueWindows,
    InboxFilter,
    InboxPage,
    inbox_page,
)
from engine.runtime.verbs import Runtime
from engine.runtime.views import CaseView
from engine.store.audit import record
from engine.store.rows import read as read_rows
from engine.store.tables import Case, ProcessVersion

# The start-form fields that take a customer's name and phone number when a case is started
# for a customer found in the search: the variables the case list reads them from
# (engine.runtime.projection).
NAME_FIELDS = ("customer_name",)
PHONE_FIELDS = ("customer_phone", "phone")
SEARCH_VIEW = "customer_search"


def _roles(runtime: Runtime, user: str) -> frozenset[str]:
    info = get_user(runtime.db, user)
    if info is None:
        raise Forbidden(f"no active user named {user!r}", reason="user_not_found", user=user)
    return info.roles


# ----- the inbox ------------------------------------------------------------------------------


def due_windows(runtime: Runtime) -> DueWindows:
    """Now, today and this week (Monday to Sunday) in the company's time zone."""
    now = runtime.clock.now()
    zone = runtime.calendar.zone
    today = now.astimezone(zone).date()
    day_start = datetime.combine(today, time(0), zone)
    week_start = day_start - timedelta(days=today.weekday())
    return DueWindows(
        now=now,
        day=(day_start, day_start + timedelta(days=1)),
        week=(week_start, week_start + timedelta(days=7)),
    )


def inbox(
    runtime: Runtime,
    user: str,
    flt: InboxFilter | None = None,
    offset: int = 0,
    limit: int = INBOX_PAGE_SIZE,
) -> InboxPage:
    """One page of the user's inbox (open tasks of their roles, tasks they claimed), earliest
    due first, narrowed by `flt`; choices that do not apply (a role the user does not hold, an
    unknown due window or status) are ignored."""
    flt = flt or InboxFilter()
    with read_rows(runtime.db) as rows:
        roles = rows.user_roles(user)
        if roles is None:
            raise Forbidden(f"no active user named {user!r}", reason="user_not_found", user=user)
        flt = InboxFilter(
            process=flt.process or None,
            role=flt.role if flt.role in roles else None,
            due=flt.due if flt.due in DUE_FILTERS else None,
            status=flt.status if flt.status in STATUS_FILTERS else None,
            search=(flt.search or "").strip() or None,
        )
        return inbox_page(
            rows, user, sorted(roles), flt, due_windows(runtime), limit=limit, offset=offset
        )


def process_names(runtime: Runtime) -> list[tuple[str, str]]:
    """(key, name of its newest version) of every deployed process, by name."""
    with runtime.db.read() as session:
        newest = (
            select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
            .group_by(ProcessVersion.key)
            .subquery()
        )
        found = session.execute(
            select(ProcessVersion.key, ProcessVersion.name).join(
                newest,
                (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.v),
            )
        ).all()
    return sorted(((k, n) for k, n in found), key=lambda kn: (kn[1], kn[0]))


# ----- finding a customer ---------------------------------------------------------------------


def find_customers(runtime: Runtime, user: str, text: str) -> customer_search.CustomerSearch:
    """The customers a case number, phone number or name finds, with their cases, among the
    cases `user` may find (engine.core.rules.case_scope). Every case shown is recorded as a
    view of the customer's personal data, in one transaction (what: "customer_search"; the
    text searched for is not kept, it is itself personal)."""
    scope = case_scope(_roles(runtime, user), user)
    found, shown = customer_search.search_customers(runtime.db, scope, text)
    if shown:
        now = runtime.clock.now()
        with runtime.db.write() as session:
            for case_id in shown:
                record(
                    session,
                    privacy.VIEW_EVENT,
                    at=now,
                    actor=user,
                    case_id=case_id,
                    detail={"what": SEARCH_VIEW},
                )
            session.commit()
    return found


def may_find(runtime: Runtime, user: str, number: str) -> bool:
    """Whether `user` may find case `number` in the search."""
    return _may_find(runtime, case_scope(_roles(runtime, user), user), number)


def _may_find(runtime: Runtime, scope: CaseScope, number: str) -> bool:
    condition = queries.visible(scope)
    query = select(Case.id).where(Case.number == number)
    if condition is not None:
        query = query.where(condition)
    with runtime.db.read() as session:
        return session.scalar(query) is not None


# ----- starting a case from the desk ----------------------------------------------------------


@dataclass(frozen=True)
class StartOption:
    """A process the user may start, with the form a staff start uses: its `staffStartForm`,
    else its `startForm`, else none (the case starts from the process defaults alone)."""

    key: str
    name: str
    title: str | None  # its online booking page's title, if it has one
    form: str | None  # the form's file name
    schema: dict[str, Any] | None


@dataclass(frozen=True)
class Started:
    case: CaseView
    task_id: int | None  # the first open task the starter may work on now, if any
    visible: bool  # whether the starter may find the case in the search


def startable(runtime: Runtime, user: str) -> list[StartOption]:
    """The processes `user` may start (newest versions, `startable`, the user holding one of
    their start roles), by name."""
    roles = _roles(runtime, user)
    options = []
    with runtime.db.read() as session:
        newest = (
            select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
            .group_by(ProcessVersion.key)
            .subquery()
        )
        versions = session.scalars(
            select(ProcessVersion)
            .options(defer(ProcessVersion.spec_json), defer(ProcessVersion.sources))
            .join(
                newest,
                (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.v),
            )
        ).all()
        for version in versions:
            if not version.startable:
                continue
            spec, subprocess_specs = runtime._specs_for(version)
            allowed = starting.roles_of_version(
                key=version.key,
                content_hash=version.content_hash,
                sources=lambda v=version: v.sources,
                spec=spec,
                subprocess_specs=subprocess_specs,
                settings=runtime.settings,
            )
            if not starting.may_start(allowed, roles):
                continue
            portal = version.portal or {}
            which = "staff_start_form" if portal.get("staff_start_form_id") else "start_form"
            form_id = portal.get(f"{which}_id")
            options.append(
                StartOption(
                    key=version.key,
                    name=version.name,
                    title=portal.get("title"),
                    form=portal.get(which) if form_id is not None else None,
                    schema=copy.deepcopy(runtime._form(form_id)) if form_id is not None else None,
                )
            )
    return sorted(options, key=lambda o: (o.name, o.key))


def start_option(runtime: Runtime, user: str, key: str) -> StartOption:
    """The process `key` as `user` may start it; NotFound when it is not one they may start
    (unknown, only called by other processes, or not for their roles)."""
    for option in startable(runtime, user):
        if option.key == key:
            return option
    raise NotFound(
        f"no process {key!r} that {user} may start",
        reason="process_not_startable_by",
        process=key,
        user=user,
    )


def customer_values(schema: dict[str, Any] | None, name: str | None, phone: str | None) -> dict:
    """The start form's fields that take a customer's name and phone (NAME_FIELDS,
    PHONE_FIELDS), filled with them: only fields the form declares."""
    props = (schema or {}).get("properties") or {}
    values: dict[str, str] = {}
    for fields, value in ((NAME_FIELDS, name), (PHONE_FIELDS, phone)):
        text = str(value or "").strip()[:200]
        if not text:
            continue
        for name_ in fields:
            if isinstance(props.get(name_), dict):
                values[name_] = text
    return values


def start(
    runtime: Runtime, user: str, key: str, data: dict[str, Any], form_key: str | None = None
) -> Started:
    """Start a case of `key` for `user` with `data` (the fields of its start form), checked as
    the API checks it: the user's start roles (Forbidden), only the form's fields and valid by
    it (ValidationFailed, per field). Returns the case, the first of its open tasks the user
    may work on, and whether the user may find the case. With `form_key` (the key of the
    rendered start form) one form starts one case, whichever server process a repeated post
    (a double click, a resent form) reaches: the repeat gets the first case (`repeated`)."""
    case = runtime.start_case(
        key,
        data,
        actor=user,
        check_roles=True,
        request_key=f"desk:{user}:{key}:{form_key}" if form_key else None,
    )
    roles = set(_roles(runtime, user))
    task = next((t for t in case.open_tasks if task_refusal(t, roles, user) is None), None)
    visible = _may_find(runtime, case_scope(roles, user), case.number)
    return Started(case, task.id if task else None, visible)
