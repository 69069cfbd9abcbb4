"""Supervisors' list of every case: the filters (process and version, status, step, overdue,
assignee, customer, start dates), paging, and the list of incidents (cases in error)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, render_template, request
from flask_babel import gettext as _

from engine import CaseFilter, NotFound

from ..auth import role_required, runtime
from ..openapi_schemas import MAX_ID
from . import SUPERVISOR, bp, supervision

MIN_YEAR, MAX_YEAR = 1900, 2999


def _day(text: str | None, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        abort(400, description=_("Dates are written YYYY-MM-DD."))
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        abort(400, description=_("Dates must lie between %(a)s and %(b)s.", a=MIN_YEAR, b=MAX_YEAR))
    zone = ZoneInfo(runtime().settings.timezone)
    return datetime.combine(day + timedelta(days=1 if end else 0), time(0), zone)


def _version() -> int | None:
    """The version filter (a process's version number, asked for with the process only)."""
    text = request.args.get("version") or ""
    if not text or not request.args.get("process"):
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        abort(400, description=_("A version is a number such as 3."))
    return int(text)


def case_filter() -> CaseFilter:
    args = request.args
    return CaseFilter(
        process=args.get("process") or None,
        version=_version(),
        status=args.get("status") or None,
        step=args.get("step") or None,
        overdue=args.get("overdue") == "1",
        assignee=args.get("assignee") or None,
        customer=args.get("customer") or None,
        started_from=_day(args.get("from")),
        started_to=_day(args.get("to"), end=True),
    )


def _query() -> dict[str, str]:
    """The filter's arguments, for links that keep it (paging, exports, the heat map)."""
    return {k: v for k, v in request.args.items() if k not in ("after", "before") and v}


@bp.get("")
@role_required(SUPERVISOR)
def index() -> Any:
    args = request.args
    page = supervision().list_cases(
        case_filter(), after=args.get("after") or None, before=args.get("before") or None
    )
    names = supervision().process_names()
    steps = supervision().process_steps()
    process, step = args.get("process") or "", args.get("step") or ""
    versions = supervision().versions_of(process) if process in names else []
    listed = {s for p in steps if not process or p.key == process for s in p.steps}
    return render_template(
        "cases/index.html",
        page=page,
        processes=names,
        steps=steps,
        versions=versions,
        # A step the list of names lacks (an event's id from the heat map), by name.
        step_label=_step_name(process, _version() or (versions or [0])[0], step)
        if step and step not in listed
        else None,
        args=args,
        query=_query(),
        chosen=names.get(process),
    )


def _step_name(process: str, version: int, step: str) -> str:
    """The name of the element `step` in a version of `process` (the step itself when there
    is no such version or element)."""
    if not process or not version:
        return step
    try:
        return supervision().diagram(process, version).name(step) or step
    except NotFound:
        return step


@bp.get("/incidents")
@role_required(SUPERVISOR)
def incidents() -> Any:
    found, total = supervision().incidents()
    return render_template("cases/incidents.html", incidents=found, total=total)
