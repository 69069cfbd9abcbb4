"""Supervisors: the KPI dashboard per process and month, exports and a printable report.

Charts are drawn as inline SVG on the server: they need no JavaScript and print as they look.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _

from engine import MonthKpi, recent_months

from .auth import desk, role_required, runtime

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
COLUMNS = [
    "process",
    "month",
    "cases_started",
    "cases_completed",
    "cases_cancelled",
    "on_time_rate",
    "booking_success_rate",
    "mean_hours_to_service",
    "satisfaction",
    "satisfaction_answers",
    "complaint_rate",
    "overdue_count",
]


def _month() -> str:
    month = request.args.get("month") or desk().recent_months(1)[0]
    if not MONTH.match(month) or not 1900 <= int(month[:4]) <= 2999:
        abort(400, description=_("Month must be written YYYY-MM (years 1900 to 2999)."))
    return month


def _kpis(month: str) -> list[MonthKpi]:
    return desk().monthly_kpis(month, request.args.get("process") or None)


def _labels() -> dict[str, str]:
    return {
        "process": _("Process"),
        "month": _("Month"),
        "cases_started": _("Cases started"),
        "cases_completed": _("Completed"),
        "cases_cancelled": _("Cancelled"),
        "on_time_rate": _("On-time response rate"),
        "booking_success_rate": _("Booking success rate"),
        "mean_hours_to_service": _("Hours from request to service"),
        "satisfaction": _("Satisfaction (1–5)"),
        "satisfaction_answers": _("Survey answers"),
        "complaint_rate": _("Complaints per 100 cases"),
        "overdue_count": _("Overdue tasks"),
    }


def _series(months: list[str]) -> dict[str, list[tuple[str, float | None]]]:
    totals = [desk().monthly_kpis(m)[-1] for m in months]
    names = [
        "on_time_rate",
        "booking_success_rate",
        "mean_hours_to_service",
        "satisfaction",
        "complaint_rate",
        "overdue_count",
    ]
    return {name: [(t.month, getattr(t, name)) for t in totals] for name in names}


@bp.get("")
@role_required("supervisor")
def index() -> Any:
    month = _month()
    rt = runtime()
    months = recent_months(rt.clock.now(), rt.settings.timezone, 6)
    return render_template(
        "dashboard/index.html",
        month=month,
        rows=_kpis(month),
        labels=_labels(),
        columns=COLUMNS,
        series=_series(months),
        months=months,
    )


@bp.get("/report")
@role_required("supervisor")
def report() -> Any:
    month = _month()
    return render_template(
        "dashboard/report.html", month=month, rows=_kpis(month), labels=_labels(), columns=COLUMNS
    )


@bp.get("/export.csv")
@role_required("supervisor")
def export_csv() -> Response:
    month = _month()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    labels = _labels()
    writer.writerow([labels[c] for c in COLUMNS])
    for row in _kpis(month):
        data = row.to_dict()
        writer.writerow(["" if data[c] is None else data[c] for c in COLUMNS])
    body = "\ufeff" + buffer.getvalue()  # BOM so spreadsheet programs read UTF-8 Chinese
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=kpi-{month}.csv"},
    )


@bp.get("/export.xlsx")
@role_required("supervisor")
def export_xlsx() -> Response:
    from openpyxl import Workbook

    month = _month()
    book = Workbook()
    sheet = book.active
    sheet.title = month
    labels = _labels()
    sheet.append([labels[c] for c in COLUMNS])
    for row in _kpis(month):
        data = row.to_dict()
        sheet.append([data[c] for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=kpi-{month}.xlsx"},
    )
