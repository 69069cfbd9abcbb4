"""Supervisors: the reports beside the KPI dashboard — consultations per category with the
month-on-month trend (seed 004, 熱點問題), and the daily and weekly work summaries (seed 003,
日報 / 週報: 受理、督辦、反饋、回訪) — as pages and as CSV/XLSX exports.

The figures and their definitions are engine.casework.reports; this module only reads the
period asked for, renders and exports.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _

from engine import SUMMARY_COLUMNS, CategoryReport, SummaryRow

from .auth import desk, role_required
from .dashboard import _month

bp = Blueprint("reports", __name__, url_prefix="/dashboard")
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CATEGORY_COLUMNS = ["category", "this_month", "last_month", "change", "change_rate", "share"]


def _week() -> str:
    """The ISO week asked for (YYYY-Www), else the current one in the company's zone."""
    week = request.args.get("week") or desk().current_week()
    found = WEEK.match(week)
    try:
        if not found or not 1900 <= int(found[1]) <= 2999:
            raise ValueError(week)
        date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError:
        abort(400, description=_("Week must be written YYYY-Www, e.g. 2026-W48."))
    return week


def _summary_labels() -> dict[str, str]:
    return {
        "period": _("Period"),
        "received": _("Cases received"),
        "consultations": _("Consultations received"),
        "complaints": _("Complaints received"),
        "repairs": _("Repair orders received"),
        "placements": _("New placements (contracts signed)"),
        "escalations": _("Escalations"),
        "replies": _("Replies to customers"),
        "followups_due": _("Follow-ups due"),
        "followups_done": _("Follow-ups done"),
        "followups_missed": _("Follow-ups missed"),
    }


def _category_labels() -> dict[str, str]:
    return {
        "category": _("Category"),
        "this_month": _("This month"),
        "last_month": _("Last month"),
        "change": _("Change"),
        "change_rate": _("Change (%)"),
        "share": _("Share of all"),
    }


def _category_name(name: str) -> str:
    return name or _("Not classified yet")


def _period_name(period: str) -> str:
    return _("Total") if period == "*" else period


# ----- pages -----------------------------------------------------------------------------------


@bp.get("/categories")
@role_required("supervisor")
def categories() -> Any:
    report = _categories()
    return render_template(
        "dashboard/categories.html",
        report=report,
        labels=_category_labels(),
        name=_category_name,
    )


@bp.get("/daily")
@role_required("supervisor")
def daily() -> Any:
    week = _week()
    return _summary_page("daily", week, desk().daily_summary(week))


@bp.get("/weekly")
@role_required("supervisor")
def weekly() -> Any:
    week = _week()
    return _summary_page("weekly", week, desk().weekly_summary(week))


def _summary_page(kind: str, week: str, rows: list[SummaryRow]) -> Any:
    return render_template(
        "dashboard/summary.html",
        kind=kind,
        week=week,
        rows=rows,
        labels=_summary_labels(),
        columns=["period", *SUMMARY_COLUMNS],
        period_name=_period_name,
    )


# ----- exports ---------------------------------------------------------------------------------


def _categories() -> CategoryReport:
    return desk().category_report(_month(), request.args.get("process") or None)


def _category_table() -> tuple[str, list[str], list[list[Any]]]:
    report = _categories()
    labels = _category_labels()
    body = [
        [
            _category_name(r.category),
            r.this_month,
            r.last_month,
            r.change,
            r.change_rate,
            r.share,
        ]
        for r in report.rows
    ]
    body.append(
        [
            _("Total"),
            report.total_this_month,
            report.total_last_month,
            report.total_this_month - report.total_last_month,
            None,
            None,
        ]
    )
    return f"categories-{report.month}", [labels[c] for c in CATEGORY_COLUMNS], body


def _summary_table(kind: str) -> tuple[str, list[str], list[list[Any]]]:
    week = _week()
    rows = desk().daily_summary(week) if kind == "daily" else desk().weekly_summary(week)
    labels = _summary_labels()
    columns = ["period", *SUMMARY_COLUMNS]
    body = [[_period_name(r.period), *(getattr(r, c) for c in SUMMARY_COLUMNS)] for r in rows]
    return f"{kind}-{week}", [labels[c] for c in columns], body


def _csv(name: str, header: list[str], body: list[list[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in body:
        writer.writerow(["" if v is None else v for v in row])
    return Response(
        "\ufeff" + buffer.getvalue(),  # BOM so spreadsheet programs read UTF-8 Chinese
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}.csv"},
    )


def _xlsx(name: str, header: list[str], body: list[list[Any]]) -> Response:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = name[:31]
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


@bp.get("/categories.csv")
@role_required("supervisor")
def categories_csv() -> Response:
    return _csv(*_category_table())


@bp.get("/categories.xlsx")
@role_required("supervisor")
def categories_xlsx() -> Response:
    return _xlsx(*_category_table())


@bp.get("/daily.csv")
@role_required("supervisor")
def daily_csv() -> Response:
    return _csv(*_summary_table("daily"))


@bp.get("/daily.xlsx")
@role_required("supervisor")
def daily_xlsx() -> Response:
    return _xlsx(*_summary_table("daily"))


@bp.get("/weekly.csv")
@role_required("supervisor")
def weekly_csv() -> Response:
    return _csv(*_summary_table("weekly"))


@bp.get("/weekly.xlsx")
@role_required("supervisor")
def weekly_xlsx() -> Response:
    return _xlsx(*_summary_table("weekly"))
