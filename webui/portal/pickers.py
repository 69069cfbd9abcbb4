"""The earliest values a customer page's date and time pickers offer (company time): today
and now, or for a time field whose process has a lead in working days, the earliest time the
lead allows (now once the customer marks the request urgent)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine import links, portal

from ..auth import runtime
from ..portal_text import input_value


def earliest(page: Any = None, values: Any = None) -> dict[str, Any]:
    """The earliest values the pickers offer (company time): today, and now; on a booking page
    whose process has a lead (engine.casework.portal_lead) its time field starts at the
    earliest time the lead allows (`leads`), or now once the customer marks it urgent."""
    rt = runtime()
    now = rt.calendar.local(rt.clock.now())
    start = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    mins: dict[str, Any] = {"date": now.date().isoformat(), "date-time": f"{start:%Y-%m-%dT%H:%M}"}
    lead = getattr(page, "lead", None)
    found = portal.earliest_booking(rt, page) if lead is not None else None
    if found is not None:
        urgent = bool(lead.urgent_field) and (values or {}).get(lead.urgent_field) is True
        first = input_value(found[1])
        mins["leads"] = {
            found[0]: {
                "min": mins["date-time"] if urgent else first,
                "normal": first,
                "urgent": mins["date-time"],
                "process": page.key,
                "urgent_field": lead.urgent_field or "",
            }
        }
    return mins


def link_earliest(page: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The pickers' earliest values on a link page: as on any page, and a time with its
    process's lead (a returned booking corrected) starts at the earliest the lead allows for
    the case (engine.casework.links.earliest_answer), or now once marked urgent. The live check
    asks the calendar alone (its lead is the newest version's, the case's may differ); the post
    asks the case's lead."""
    mins = earliest()
    lead = page.lead
    found = links.earliest_answer(runtime(), page)
    if found is None:
        return mins
    urgent = bool(lead.urgent_field) and values.get(lead.urgent_field) is True
    first = input_value(found[1])
    mins["leads"] = {
        found[0]: {
            "min": mins["date-time"] if urgent else first,
            "normal": first,
            "urgent": mins["date-time"],
            "process": "",
            "urgent_field": lead.urgent_field or "",
        }
    }
    return mins
