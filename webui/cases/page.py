"""The case page: the diagram with the case's markers (active, completed, waiting, in error),
the timeline, the case data under its labels, the open tasks with who may take them, and the
attachments. Opening it is recorded as a view of the customer's data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import desk, role_required, runtime
from ..tasks import attachment_list
from . import SUPERVISOR, bp, supervision


@bp.app_template_filter("case_instant")
def case_instant(text: str) -> str:
    """An ISO 8601 instant kept in case data, in the company's zone ("2026-11-25 10:00");
    text that is no instant as it is."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return text
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(runtime().settings.timezone))
    return value.strftime("%Y-%m-%d %H:%M")


def _case_parts(number: str) -> dict[str, Any]:
    case = runtime().get_case(number)
    sup = supervision()
    source = desk().version_source(case.process, case.version)
    awaited: dict[str, list[str]] = {}
    for element, message in sup.message_waits(case):
        awaited.setdefault(element, []).append(message)
    markers = {
        "active": case.active_elements,
        "completed": case.completed_elements,
        "waiting": sorted({t.element_id for t in case.timers} | set(awaited)),
        "message": sorted(awaited),
        "error": [case.error_element] if case.error_element else [],
        # What the element waits for, said when the pointer rests on it.
        "titles": {
            element: _("Waiting for message %(message)s", message="、".join(messages))
            for element, messages in awaited.items()
        },
    }
    groups, unlabelled = sup.data_groups(case)
    names = sup.element_names(case)
    return {
        "case": case,
        "source": source,
        "markers_json": json.dumps(markers),
        "timeline": sup.timeline(case),
        "groups": groups,
        "unlabelled": unlabelled,
        "data_json": json.dumps(case.data, ensure_ascii=False, indent=2, default=str),
        "messages": sup.message_choices(case),
        "holders": {t.role: sup.role_holders(t.role) for t in case.open_tasks},
        "timer_names": {t.element_id: names.get(t.element_id) for t in case.timers},
        "error_name": names.get(case.error_element or "", case.error_element),
        "process_name": source["name"],
        "attachments": attachment_list(number),
    }


@bp.get("/<number>")
@role_required(SUPERVISOR)
def show(number: str) -> Any:
    parts = _case_parts(number)
    desk().record_view(current_user.name, number, "case_page")
    return render_template("cases/show.html", **parts)
