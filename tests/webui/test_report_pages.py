"""The report pages beside the dashboard: consultations by category (熱點問題), the daily and
weekly summaries (日報 / 週報), their CSV and XLSX exports; supervisors only."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "consultation.bpmn",
    *sorted((ROOT / "processes").glob("consultation.*.dmn")),
    *sorted((ROOT / "forms").glob("consultation.*.json")),
]
PAGES = [
    "/dashboard/categories",
    "/dashboard/categories.csv",
    "/dashboard/categories.xlsx",
    "/dashboard/daily",
    "/dashboard/daily.csv",
    "/dashboard/daily.xlsx",
    "/dashboard/weekly",
    "/dashboard/weekly.csv",
    "/dashboard/weekly.xlsx",
]


def consultation(runtime, topic: str) -> None:
    number = runtime.start_case(
        "consultation", {"channel": "電話", "customer_name": "周先生", "phone": "13800000005"}
    ).number
    (task,) = runtime.get_case(number).open_tasks
    runtime.complete_task(
        task.id,
        {
            "customer_name": "周先生",
            "phone": "13800000005",
            "channel": "電話",
            "content": "問題",
            "topic": topic,
            "needs_specialist": False,
            "important": False,
        },
        "alice",
    )


@pytest.fixture
def consultations(app, runtime, clock):
    """October: 技術支持 1, 費用相關 1. Monday 23 November (now): 技術支持 2."""
    runtime.deploy(FILES, actor="owner")
    now = clock.now()
    clock.set(datetime.fromisoformat("2026-10-10T10:00+08:00"))
    consultation(runtime, "系統故障")
    consultation(runtime, "費用查詢")
    clock.set(now)
    consultation(runtime, "系統故障")
    consultation(runtime, "網絡連接")


def sheet(response):
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data)).active
    return [list(r) for r in book.iter_rows(values_only=True)]


def test_categories_page_and_exports(consultations, login):
    sue = login("sue")
    page = sue.get("/dashboard/categories")  # the current month: 2026-11
    assert page.status_code == 200
    text = page.text
    assert "咨詢分類統計（熱點問題）" in text and "2026-11" in text and "2026-10" in text
    assert "技術支持咨詢" in text and "+100.0%" in text  # 2 against 1
    assert "費用相關咨詢" in text and "-100.0%" in text  # 0 against 1
    csv = sue.get("/dashboard/categories.csv?month=2026-11")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "類別,本月,上月,增減,增減（%）,佔全部比例"
    assert lines[1:] == [
        "技術支持咨詢,2,1,1,1.0,1.0",
        "費用相關咨詢,0,1,-1,-1.0,0.0",
        "合計,2,2,0,,",
    ]
    rows = sheet(sue.get("/dashboard/categories.xlsx?month=2026-11"))
    assert rows[1] == ["技術支持咨詢", 2, 1, 1, 1.0, 1.0]
    assert sue.get("/dashboard/categories?month=2026-13").status_code == 400


def test_daily_and_weekly_pages_and_exports(consultations, login):
    sue = login("sue")
    daily = sue.get("/dashboard/daily")  # the current week: 2026-W48
    assert daily.status_code == 200
    assert "日報" in daily.text and "2026-W48" in daily.text and "應回訪" in daily.text
    assert "2026-11-23" in daily.text and "合計" in daily.text
    lines = sue.get("/dashboard/daily.csv?week=2026-W48").text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("期間,受理案件,咨詢受理,投訴受理,維修受理,新上單")
    assert lines[1] == "2026-11-23,2,2,0,0,0,0,0,0,0,0"
    assert lines[-1] == "合計,2,2,0,0,0,0,0,0,0,0"
    assert len(lines) == 9  # header, seven days, total
    rows = sheet(sue.get("/dashboard/daily.xlsx?week=2026-W48"))
    assert rows[1][:3] == ["2026-11-23", 2, 2]

    weekly = sue.get("/dashboard/weekly?week=2026-W48")
    assert weekly.status_code == 200 and "週報" in weekly.text and "2026-W41" in weekly.text
    rows = sheet(sue.get("/dashboard/weekly.xlsx?week=2026-W48"))
    assert [r[:3] for r in rows[1:]] == [
        ["2026-W41", 2, 2],  # 10 October
        *([f"2026-W{n}", 0, 0] for n in range(42, 48)),
        ["2026-W48", 2, 2],
    ]
    csv = sue.get("/dashboard/weekly.csv?week=2026-W48")
    assert csv.mimetype == "text/csv" and "2026-W48,2,2" in csv.text
    for bad in ("2026-48", "2026-W54", "2025-W53", "2026-W00"):
        assert sue.get(f"/dashboard/daily?week={bad}").status_code == 400, bad


def test_the_dashboard_links_the_reports(consultations, login):
    page = login("sue").get("/dashboard").text
    assert "/dashboard/categories?month=2026-11" in page
    assert "/dashboard/daily" in page and "/dashboard/weekly" in page


@pytest.mark.parametrize("path", PAGES)
def test_supervisors_only(app, login, path):
    assert login("alice").get(path).status_code == 403
    assert app.test_client().get(path).status_code in (302, 401)
