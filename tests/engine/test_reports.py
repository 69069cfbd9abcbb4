"""The consultation category report (seed 004, 熱點問題) and the daily and weekly work summaries
(seed 003, 日報 / 週報), from cases run through the runtime on the real processes.

Every figure is worked out by hand from the scenarios below. Times are written in Shanghai
time (UTC+8), the company's zone: a case started at 23:30 on 31 October belongs to October, one
at 01:00 on 1 November to November, whatever day it is in UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.casework.directory import add_person
from engine.casework.kpi_rebuild import rebuild_kpis
from engine.casework.reports import (
    category_report,
    daily_summary,
    recent_weeks,
    weekly_summary,
)
from engine.store.rows import read
from engine.worker.timers import fire_due_timers

ROOT = Path(__file__).resolve().parents[2]
ZONE = "Asia/Shanghai"


def files(*keys: str) -> list[Path]:
    found = []
    for key in keys:
        found.append(ROOT / "processes" / f"{key}.bpmn")
        found += sorted((ROOT / "processes").glob(f"{key}.*.dmn"))
        found += sorted((ROOT / "forms").glob(f"{key}.*.json"))
    return found


def local(text: str) -> datetime:
    """A Shanghai wall-clock time as an aware instant."""
    return datetime.fromisoformat(text + "+08:00")


def open_task(rt, number, element_id):
    (task,) = [t for t in rt.get_case(number).open_tasks if t.element_id == element_id]
    return task


def complete(rt, number, element_id, data, user="alice"):
    return rt.complete_task(open_task(rt, number, element_id).id, data, user)


def rollup(db):
    with read(db) as rows:
        return sorted(
            (r[0], r[1], r[2], r[3], r[4], round(r[5], 6))
            for r in rows.all(
                "SELECT process_key, day, staff, metric, count, total FROM kpi_day WHERE count <> 0"
            )
        )


# ----- consultations by category ----------------------------------------------------------------


def consultation(runtime, clock, started: str, topic: str | None, recorded: str | None = None):
    """A phone consultation received at `started`; recorded (and so classified by the decision
    table) at `recorded` (default: at once) unless `topic` is None."""
    clock.set(local(started))
    number = runtime.start_case(
        "consultation", {"channel": "電話", "customer_name": "周先生", "phone": "13800000005"}
    ).number
    if topic is not None:
        clock.set(local(recorded or started))
        record = {
            "customer_name": "周先生",
            "phone": "13800000005",
            "channel": "電話",
            "content": f"關於{topic}",
            "topic": topic,
            "needs_specialist": False,
            "important": False,
        }
        case = complete(runtime, number, "record_consultation", record)
        assert case.data["category"]
    return number


@pytest.fixture
def two_months_of_consultations(runtime, clock, users):
    runtime.deploy(files("consultation"), actor="owner")
    # October: 費用相關 2, 技術支持 1, 業務辦理 2 (one received on the 31st at 23:30 and only
    # recorded on 2 November: it still counts in October), 1 not recorded.
    consultation(runtime, clock, "2026-10-05T10:00", "費用查詢")
    consultation(runtime, clock, "2026-10-12T10:00", "費用標準")
    consultation(runtime, clock, "2026-10-13T10:00", "系統故障")
    consultation(runtime, clock, "2026-10-20T10:00", "開戶")
    consultation(runtime, clock, "2026-10-21T10:00", None)
    consultation(runtime, clock, "2026-10-31T23:30", "銷戶", recorded="2026-11-02T09:00")
    # November: 技術支持 3, 費用相關 1, 其他 1, 產品信息 1 (received at 01:00 on the 1st, still
    # 31 October in UTC), 1 not recorded.
    consultation(runtime, clock, "2026-11-01T01:00", "使用方法")
    consultation(runtime, clock, "2026-11-03T10:00", "系統故障")
    consultation(runtime, clock, "2026-11-04T10:00", "網絡連接")
    consultation(runtime, clock, "2026-11-05T10:00", "軟件使用")
    consultation(runtime, clock, "2026-11-06T10:00", "費用繳納")
    consultation(runtime, clock, "2026-11-09T10:00", "合作意向")
    consultation(runtime, clock, "2026-11-10T10:00", None)
    clock.set(local("2026-12-01T09:00"))


def test_categories_this_month_against_last_most_asked_first(two_months_of_consultations, db):
    report = category_report(db, "2026-11")
    assert (report.month, report.previous_month) == ("2026-11", "2026-10")
    assert (report.total_this_month, report.total_last_month) == (7, 6)
    rows = [
        (r.category, r.this_month, r.last_month, r.change, r.change_rate, r.share)
        for r in report.rows
    ]
    assert rows == [
        ("技術支持咨詢", 3, 1, 2, 2.0, round(3 / 7, 4)),
        ("費用相關咨詢", 1, 2, -1, -0.5, round(1 / 7, 4)),
        # equal counts this and last month: by name
        ("其他咨詢", 1, 0, 1, None, round(1 / 7, 4)),
        ("產品信息咨詢", 1, 0, 1, None, round(1 / 7, 4)),
        ("業務辦理咨詢", 0, 2, -2, -1.0, 0.0),
        ("", 1, 1, 0, 0.0, round(1 / 7, 4)),  # received, not classified: last
    ]
    # the shares add up to the month's total
    assert sum(r.this_month for r in report.rows) == report.total_this_month


def test_october_against_september_and_an_empty_month(two_months_of_consultations, db):
    report = category_report(db, "2026-10")
    assert [(r.category, r.this_month, r.last_month, r.change_rate) for r in report.rows] == [
        ("業務辦理咨詢", 2, 0, None),
        ("費用相關咨詢", 2, 0, None),
        ("技術支持咨詢", 1, 0, None),
        ("", 1, 0, None),
    ]
    assert [r.share for r in report.rows] == [round(2 / 6, 4), round(2 / 6, 4), 0.1667, 0.1667]
    assert category_report(db, "2027-01").rows == []


def test_the_category_is_kept_on_the_case_and_rebuilt_from_it(two_months_of_consultations, db):
    with read(db) as rows:
        kept = dict(
            rows.all(
                'SELECT category, COUNT(*) FROM "case" WHERE category IS NOT NULL GROUP BY category'
            )
        )
    assert kept == {
        "技術支持咨詢": 4,
        "費用相關咨詢": 3,
        "業務辦理咨詢": 2,
        "其他咨詢": 1,
        "產品信息咨詢": 1,
    }
    before = rollup(db)
    rebuild_kpis(db, ZONE)
    assert rollup(db) == before


# ----- daily and weekly summaries ---------------------------------------------------------------

ORDER = {
    "customer_name": "張太太",
    "customer_phone": "+86 138 0013 8000",
    "customer_email": "zhang@example.com",
    "address": "上海市徐匯區漕溪北路 100 號 8 樓",
    "baby_due_date": "2026-12-18",
    "service_days": 26,
    "required_skills": ["催乳"],
}
COMPLAINT = {
    "customer_name": "劉女士",
    "customer_phone": "+86 139 1111 2222",
    "channel": "電話",
    "category": "服務人員",
    "severity": "一般",
    "description": "保潔阿姨遲到一小時。",
    "customer_expectation": "道歉。",
}
REPAIR = {
    "customer_name": "順達物流有限公司",
    "phone": "021-58881234",
    "address": "上海市閔行區虹橋路 88 號停車場",
    "product_model": "GPS-T200 車載終端",
    "repair_category": "GPS 車載終端",
    "purchase_date": "2025-03-01",
    "urgency": "一般",
    "terminal_number": "T200-0001",
    "vehicle_plate": "滬A12345",
    "fault_description": "終端無定位信號",
}
FOLLOWUP = {"customer_satisfied": True, "contact_channel": "電話", "followup_notes": "滿意"}


def at(clock, runtime, when: str) -> None:
    """Move the clock to a Shanghai time and let the worker fire what fell due."""
    clock.set(local(when))
    fire_due_timers(runtime)


@pytest.fixture
def work_of_two_weeks(runtime, clock, users, db):
    """ISO week 2026-W48 is Monday 23 to Sunday 29 November; W49 is 30 November to 6 December.

    Mon 23 09:30  a nurse order (received) and its three-party contract signed (placement),
                  service from Sat 21 10:00, so the follow-ups fall on Tue 24 (day 3), Sun 29
                  (day 8) and Sun 6 December (day 15), each at 10:00
    Mon 23 10:00  a consultation received, recorded, answered at 11:00 (a reply)
    Tue 24 09:00  a complaint received and recorded; senior service has one working day
    Tue 24 15:00  day 3's follow-up done the day it was due
    Wed 25 12:00  the complaint's deadline has passed: the supervisor takes it (an escalation)
    Thu 26 10:00  a consultation received (not recorded)
    Fri 27 10:00  a repair order received
    Sun 29 10:00  day 8's follow-up opens and is not done that day (missed)
    Mon 30 10:00  day 8's follow-up done, a day late
    Sun  6 10:00  day 15's follow-up opens; at 12:00 it is due and not missed yet
    """
    with db.write() as session:
        add_person(session, "nurse", "陳阿姨", "+86 139 0000 0001", skills=["催乳"])
        session.commit()
    runtime.deploy(
        files(
            "maternity_nurse_placement",
            "caregiver_matching",
            "caregiver_service",
            "consultation",
            "complaint_handling",
            "repair_dispatch",
            "field_visit_close",
        ),
        actor="owner",
    )
    rt = runtime
    at(clock, rt, "2026-11-23T09:30")
    nurse = rt.start_case("maternity_nurse_placement", actor="alice").number
    complete(rt, nurse, "register_order", ORDER)
    complete(rt, nurse, "contact_candidate", {"candidate_response": "同意"})
    complete(
        rt,
        nurse,
        "customer_decision",
        {
            "customer_interested": True,
            "interview_at": "2026-11-23T14:00",
            "interview_place": "公司會議室",
        },
    )
    complete(rt, nurse, "record_interview", {"interview_result": "面試成功"})
    complete(
        rt,
        nurse,
        "sign_contract",
        {
            "contract_no": "MN-2026-001",
            "signed_on": "2026-11-23",
            "start_at": "2026-11-21T10:00",
            "service_days": 26,
            "service_fee": 16800,
            "service_agreement_signed": True,
            "contract_archived": True,
        },
    )
    question = consultation(rt, clock, "2026-11-23T10:00", "費用查詢")
    clock.set(local("2026-11-23T11:00"))
    complete(
        rt,
        question,
        "reply_customer",
        {"reply_text": "是短信套餐費。", "reply_method": "電話", "customer_reaction": "滿意"},
    )

    at(clock, rt, "2026-11-24T09:00")
    complaint = rt.start_case("complaint_handling", actor="alice").number
    complete(rt, complaint, "record_complaint", COMPLAINT)
    assert open_task(rt, complaint, "senior_handle").due_at == local("2026-11-25T09:00")
    at(clock, rt, "2026-11-24T15:00")
    complete(rt, nurse, "followup_day3", FOLLOWUP)

    at(clock, rt, "2026-11-25T12:00")
    assert open_task(rt, complaint, "supervisor_handle").role == "supervisor"

    consultation(rt, clock, "2026-11-26T10:00", None)
    at(clock, rt, "2026-11-27T10:00")
    complete(
        rt, rt.start_case("repair_dispatch", {}, actor="alice").number, "record_request", REPAIR
    )

    # The second call: five days after the day-3 call was made (24 Nov 15:00), due a day later.
    at(clock, rt, "2026-11-29T15:00")
    second = open_task(rt, nurse, "followup_day8")
    assert (second.created_at, second.due_at) == (
        local("2026-11-29T15:00"),
        local("2026-11-30T15:00"),
    )
    return {"nurse": nurse}


def figures(row):
    return {k: v for k, v in row.to_dict().items() if k != "period" and v}


W48 = {
    "2026-11-23": {"received": 2, "consultations": 1, "placements": 1, "replies": 1},
    # Day 3's call opened on the 24th at 10:00 (contract start 21st 10:00), done at 15:00; it
    # was due by the 25th 10:00, so it counts as due on the 25th.
    "2026-11-24": {"received": 1, "complaints": 1, "followups_done": 1},
    "2026-11-25": {"escalations": 1, "followups_due": 1},
    "2026-11-26": {"received": 1, "consultations": 1},
    "2026-11-27": {"received": 1, "repairs": 1},
    "2026-11-28": {},
    "2026-11-29": {},
}
W48_TOTAL = {
    "received": 5,
    "consultations": 2,
    "complaints": 1,
    "repairs": 1,
    "placements": 1,
    "escalations": 1,
    "replies": 1,
    "followups_due": 1,
    "followups_done": 1,
}


def test_the_days_of_a_week_and_their_total(work_of_two_weeks, runtime, clock, db):
    days = daily_summary(db, "2026-W48", ZONE, clock.now())
    assert [r.period for r in days] == [*W48, "*"]
    assert {r.period: figures(r) for r in days[:-1]} == W48
    assert figures(days[-1]) == W48_TOTAL

    # Monday 30, 12:00: the second call is due today at 15:00, not missed yet.
    at(clock, runtime, "2026-11-30T12:00")
    monday = daily_summary(db, "2026-W49", ZONE, clock.now())[0]
    assert (monday.period, figures(monday)) == ("2026-11-30", {"followups_due": 1})

    # Tuesday 1, 09:00: not made by its due time: missed (read from the open task, which keeps
    # its due time), and the supervisor's 回訪逾期督辦 task the worker opened at 15:00 on Monday
    # is an escalation of that day.
    at(clock, runtime, "2026-11-30T15:00")
    at(clock, runtime, "2026-12-01T09:00")
    monday = daily_summary(db, "2026-W49", ZONE, clock.now())[0]
    assert figures(monday) == {"followups_due": 1, "followups_missed": 1, "escalations": 1}

    # Made on Tuesday, late: still due and missed on Monday, done on Tuesday.
    clock.set(local("2026-12-01T10:00"))
    complete(runtime, work_of_two_weeks["nurse"], "followup_day8", FOLLOWUP)
    at(clock, runtime, "2026-12-06T12:00")  # day 15's call opened at 10:00, due tomorrow
    w49 = {r.period: figures(r) for r in daily_summary(db, "2026-W49", ZONE, clock.now())}
    assert w49 == {
        "2026-11-30": {"followups_due": 1, "followups_missed": 1, "escalations": 1},
        "2026-12-01": {"followups_done": 1},
        "2026-12-02": {},
        "2026-12-03": {},
        "2026-12-04": {},
        "2026-12-05": {},
        "2026-12-06": {},
        "*": {"followups_due": 1, "followups_missed": 1, "followups_done": 1, "escalations": 1},
    }

    weeks = weekly_summary(db, "2026-W49", ZONE, clock.now(), count=3)
    assert [(w.period, figures(w)) for w in weeks] == [
        ("2026-W47", {}),
        ("2026-W48", W48_TOTAL),
        (
            "2026-W49",
            {"followups_due": 1, "followups_missed": 1, "followups_done": 1, "escalations": 1},
        ),
    ]

    # The rollup the steps kept is the one a rebuild from the case and task rows gives.
    before = rollup(db)
    rebuild_kpis(db, ZONE)
    assert rollup(db) == before


def test_iso_weeks_cross_the_year():
    assert recent_weeks("2027-W01", 3) == ["2026-W52", "2026-W53", "2027-W01"]
    assert recent_weeks("2026-W02", 2) == ["2026-W01", "2026-W02"]


@pytest.mark.parametrize("hours", [0, 23])
def test_a_week_starts_on_monday_in_the_company_zone(runtime, clock, users, db, hours):
    """A case started at 00:00 or 23:00 Shanghai time on Sunday 29 November is in W48."""
    runtime.deploy(files("consultation"), actor="owner")
    start = local("2026-11-29T00:00") + timedelta(hours=hours)
    clock.set(start)
    runtime.start_case("consultation", {"channel": "電話", "customer_name": "王"})
    (w48,) = [r for r in weekly_summary(db, "2026-W49", ZONE, clock.now(), 2) if r.received]
    assert (w48.period, w48.received, w48.consultations) == ("2026-W48", 1, 1)


def test_what_a_task_counts_as_is_what_its_version_declares(runtime, clock, users, db, tmp_path):
    """kpi_flow's senior takes over after two hours: declared `summary=escalation` in version
    2, that take-over counts as an escalation (督辦); a case of version 1 (no declaration)
    escalated the same way does not, before or after the rollup is rebuilt."""
    from tests.conftest import FIXTURES

    names = ("kpi_flow.bpmn", "kpi_start.json", "kpi_serve.json")
    runtime.deploy([FIXTURES / n for n in names], actor="owner")
    clock.set(local("2026-11-30T09:00"))
    runtime.start_case("kpi_flow", {})
    text = (FIXTURES / "kpi_flow.bpmn").read_text(encoding="utf-8")
    late = (
        '<bpmn:userTask id="serve_late" name="高級客服接手">\n      <bpmn:extensionElements>\n'
        "        <spiffworkflow:properties>"
    )
    assert late in text
    declared = tmp_path / "kpi_flow.bpmn"
    declared.write_text(
        text.replace(late, late + '<spiffworkflow:property name="summary" value="escalation" />'),
        encoding="utf-8",
    )
    runtime.deploy([declared, *(FIXTURES / n for n in names[1:])], actor="owner")
    runtime.start_case("kpi_flow", {})
    clock.set(local("2026-11-30T11:30"))
    fire_due_timers(runtime)

    def escalations() -> int:
        (monday,) = [
            r for r in daily_summary(db, "2026-W49", ZONE, clock.now()) if r.period == "2026-11-30"
        ]
        return monday.escalations

    assert escalations() == 1
    rebuild_kpis(db, ZONE)
    assert escalations() == 1
