"""The KPI dashboard, its exports and the printable report."""

from __future__ import annotations

import io

from tests.conftest import fixture_files


def test_dashboard_charts_and_exports(app, login, runtime):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    runtime.start_case("review_flow", {"customer_name": "王小明"})
    sue = login("sue")
    page = sue.get("/dashboard")
    assert page.status_code == 200
    assert page.text.count("<svg") == 6 and "2026-11" in page.text
    assert "review_flow" in page.text
    csv = sue.get("/dashboard/export.csv?month=2026-11")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "review_flow" in csv.text and "流程" in csv.text
    xlsx = sue.get("/dashboard/export.xlsx?month=2026-11")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert (
        sheet.cell(row=2, column=1).value == "review_flow"
        and sheet.cell(row=2, column=3).value == 1
    )
    report = sue.get("/dashboard/report?month=2026-11")
    assert report.status_code == 200 and "data-print" in report.text
    assert sue.get("/dashboard?month=2026-13").status_code == 400
    assert login("alice").get("/dashboard").status_code == 403
