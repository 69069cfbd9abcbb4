"""Supervisors: the KPI dashboard per process, month and quarter, the staff ranking, exports
and a printable report (a month, YYYY-MM, or a quarter, YYYY-Qn).

Charts are drawn as inline SVG on the server: they need no JavaScript and print as they look.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _

from engine import MonthKpi, quarter_of, recent_months, staff

from .auth import desk, role_required, runtime

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")
COLUMNS = [
    "process",
    "month",
    "cases_started",
    "cases_ended",
    "cases_served",
    "cases_cancelled",
    "no_shows",
    "on_time_rate",
    "booking_success_rate",
    "mean_hours_to_service",
    "satisfaction",
    "satisfaction_answers",
    "complaint_rate",
    "overdue_count",
]


def _month(quarters: bool = False) -> str:
    """The month asked for (YYYY-MM), or with `quarters` also a quarter (YYYY-Qn)."""
    month = request.args.get("month") or desk().recent_months(1)[0]
    pattern = PERIOD if quarters else MONTH
    if not pattern.match(month) or not 1900 <= int(month[:4]) <= 2999:
        abort(
            400,
            description=_(
                "Month must be written YYYY-MM, a quarter YYYY-Q1 to YYYY-Q4 (years 1900 to 2999)."
            ),
        )
    return month


def _kpis(period: str) -> list[MonthKpi]:
    return desk().period_kpis(period, request.args.get("process") or None)


def _labels() -> dict[str, str]:
    return {
        "process": _("Process"),
        "month": _("Month"),
        "cases_started": _("Cases started"),
        "cases_ended": _("Cases ended"),
        "cases_served": _("Served"),
        "cases_cancelled": _("Cancelled"),
        "no_shows": _("No-shows"),
        "on_time_rate": _("On-time response rate"),
        "booking_success_rate": _("Booking success rate"),
        "mean_hours_to_service": _("Hours from request to service"),
        "satisfaction": _("Satisfaction (1–5)"),
        "satisfaction_answers": _("Survey answers"),
        "complaint_rate": _("Complaints per 100 cases"),
        "overdue_count": _("Overdue tasks"),
    }


def _staff_labels() -> dict[str, str]:
    return {
        "rank": _("Rank"),
        "staff": _("Staff member"),
        "tasks_done": _("Tasks done"),
        "on_time_rate": _("On-time rate"),
        "satisfaction": _("Satisfaction of the cases served (1–5)"),
        "satisfaction_answers": _("Survey answers"),
    }


def _series(months: list[str]) -> dict[str, list[tuple[str, float | None]]]:
    found = desk().kpi_series(months)
    totals = [found[m] for m in months]
    names = [
        "on_time_rate",
        "booking_success_rate",
        "mean_hours_to_service",
        "satisfaction",
        "complaint_rate",
        "overdue_count",
    ]
    return {name: [(t.month, getattr(t, name)) for t in totals] for name in names}


def _names() -> dict[str, str]:
    """Process key -> its name (lists and exports show names, not keys)."""
    return dict(staff.process_names(runtime()))


def _export_row(row: MonthKpi, names: dict[str, str]) -> list[Any]:
    data = row.to_dict()
    if data.get("process") == "*":
        data["process"] = _("All processes")
    elif data.get("process") in names:
        data["process"] = names[data["process"]]
    return [data[c] for c in COLUMNS]


@bp.get("")
@role_required("supervisor")
def index() -> Any:
    month = _month()
    rt = runtime()
    months = recent_months(rt.clock.now(), rt.settings.timezone, 6)
    quarter = quarter_of(month)
    return render_template(
        "dashboard/index.html",
        month=month,
        quarter=quarter,
        rows=_kpis(month),
        quarter_rows=_kpis(quarter),
        staff=desk().staff_kpis(month),
        staff_labels=_staff_labels(),
        labels=_labels(),
        columns=COLUMNS,
        names=_names(),
        series=_series(months),
        months=months,
    )


@bp.get("/report")
@role_required("supervisor")
def report() -> Any:
    month = _month(quarters=True)
    return render_template(
        "dashboard/report.html",
        month=month,
        rows=_kpis(month),
        labels=_labels(),
        columns=COLUMNS,
        names=_names(),
    )


@bp.get("/export.csv")
@role_required("supervisor")
def export_csv() -> Response:
    month = _month(quarters=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    labels = _labels()
    writer.writerow([labels[c] for c in COLUMNS])
    names = _names()
    for row in _kpis(month):
        writer.writerow(["" if v is None else v for v in _export_row(row, names)])
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

    month = _month(quarters=True)
    book = Workbook()
    sheet = book.active
    sheet.title = month
    labels = _labels()
    sheet.append([labels[c] for c in COLUMNS])
    names = _names()
    for row in _kpis(month):
        sheet.append(_export_row(row, names))
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=kpi-{month}.xlsx"},
    )
