"""The case list exported as CSV or Excel: the cases the list's filter finds, one row each,
with the columns supervisors read (labels in the page's language, times in the company's
zone)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app
from flask_babel import gettext as _

from ..auth import role_required, runtime
from . import SUPERVISOR, bp, supervision
from .listing import case_filter

EXPORT_COLUMNS = [
    "number",
    "process",
    "status",
    "outcome",
    "steps",
    "assignees",
    "customer_name",
    "customer_phone",
    "service_item",
    "started_at",
    "ended_at",
]


def _export_table() -> tuple[str, list[str], list[list[Any]]]:
    status, outcome = (current_app.jinja_env.filters[n] for n in ("status", "outcome"))
    labels = {
        "number": _("Case"),
        "process": _("Process"),
        "status": _("Status"),
        "outcome": _("Outcome"),
        "steps": _("Current step"),
        "assignees": _("Assignee"),
        "customer_name": _("Customer"),
        "customer_phone": _("Phone"),
        "service_item": _("Service"),
        "started_at": _("Started"),
        "ended_at": _("Ended"),
    }
    zone = ZoneInfo(runtime().settings.timezone)

    def local(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    body = [
        [
            row.number,
            row.process_name or row.process,
            status(row.status),
            outcome(row.outcome),
            "、".join(dict.fromkeys(t["name"] for t in row.open_tasks)),
            "、".join(dict.fromkeys(t["assignee"] for t in row.open_tasks if t["assignee"])),
            row.customer_name or "",
            row.customer_phone or "",
            row.service_item or "",
            local(row.started_at),
            local(row.ended_at),
        ]
        for row in supervision().export_cases(case_filter())
    ]
    stamp = runtime().clock.now().astimezone(zone).strftime("%Y%m%d-%H%M")
    return f"cases-{stamp}", [labels[c] for c in EXPORT_COLUMNS], body


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/export.csv")
@role_required(SUPERVISOR)
def export_csv() -> Response:
    name, header, body = _export_table()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(body)
    return Response(
        "\ufeff" + buffer.getvalue(),  # BOM so spreadsheet programs read UTF-8 Chinese
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}.csv"},
    )


@bp.get("/export.xlsx")
@role_required(SUPERVISOR)
def export_xlsx() -> Response:
    from openpyxl import Workbook

    name, header, body = _export_table()
    book = Workbook()
    sheet = book.active
    sheet.title = _("Cases")[:31]
    sheet.append(header)
    for row in body:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        mimetype=XLSX,
        headers={"Content-Disposition": f"attachment; filename={name}.xlsx"},
    )
