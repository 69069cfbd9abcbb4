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
    assert "測試審核流程" in page.text and ">review_flow<" not in page.text  # names, not keys
    csv = sue.get("/dashboard/export.csv?month=2026-11")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "測試審核流程" in csv.text and "review_flow" not in csv.text and "流程" in csv.text
    xlsx = sue.get("/dashboard/export.xlsx?month=2026-11")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert (
        sheet.cell(row=2, column=1).value == "測試審核流程"
        and sheet.cell(row=2, column=3).value == 1
    )
    report = sue.get("/dashboard/report?month=2026-11")
    assert report.status_code == 200 and "data-print" in report.text
    assert sue.get("/dashboard?month=2026-13").status_code == 400
    assert login("alice").get("/dashboard").status_code == 403


def test_outcomes_on_the_case_list_and_page_quarter_and_staff_ranking(app, login, runtime):
    runtime.deploy(fixture_files("kpi_flow.bpmn", "kpi_start.json", "kpi_serve.json"))
    served = runtime.start_case("kpi_flow", {"appointment_at": "2026-11-23T11:00:00+08:00"})
    (task,) = served.open_tasks
    runtime.complete_task(
        task.id,
        {"result": "served", "arrived_at": "2026-11-23T10:55:00+08:00", "stars": 5},
        "alice",
    )
    cancelled = runtime.start_case("kpi_flow", {})
    runtime.cancel_case(cancelled.number, "門店停電", "sue")
    sue = login("sue")
    listing = sue.get("/cases").text
    assert "已服務" in listing and "公司取消" in listing
    page = sue.get(f"/cases/{served.number}").text
    assert "結果" in page and "已服務" in page
    dashboard = sue.get("/dashboard?month=2026-11").text
    assert "2026-Q4" in dashboard and "員工排名" in dashboard and "alice" in dashboard
    assert "50.0%" in dashboard  # 1 served of 2 ended
    quarter = sue.get("/dashboard/export.csv?month=2026-Q4")
    assert quarter.status_code == 200 and "測試預約指標" in quarter.text
    assert sue.get("/dashboard?month=2026-Q4").status_code == 400  # the page takes a month
