"""GPS 安裝 (gps_installation) driven through the runtime, a new Runtime for every step.

Installation request with the vehicle and driver lists → free on-site design by the technical
department → dispatch order (安裝任務派工單), approved by the GPS department manager who names
the installer (or returned and revised) → the customer is told who comes when → installation
with each terminal and SIM registered → acceptance (not accepted: rework, then acceptance again)
→ after-sales tracking every 30 days for 365 days, which ends by itself. A step past its due
time stays open and gives the manager a follow-up task.

Times: the clock starts on Monday 23 November 2026, 09:30 in Shanghai (01:30 UTC).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from engine.core.errors import ValidationFailed
from engine.identity.users import add_user
from tests.processes.helpers import at, fresh_open_elements, fresh_open_task, sms, utc

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "gps_installation.bpmn",
    *sorted((ROOT / "forms").glob("gps_installation.*.json")),
]
ROLES = {
    "desk": "service_desk",
    "tech_dept": "specialist",
    "boss": "supervisor",
    "tech": "field_staff",
}

REQUEST = {
    "customer_name": "順達物流有限公司",
    "contact_name": "王經理",
    "phone": "021-58881234",
    "address": "上海市閔行區虹橋路 88 號停車場",
    "product_model": "GPS-T200 車載終端",
    "wanted_date": "2026-11-26",
    "vehicles": [
        {
            "vehicle_plate": "滬A12345",
            "vehicle_type": "廂式貨車",
            "driver_name": "張師傅",
            "driver_phone": "13800138001",
        },
        {
            "vehicle_plate": "滬B67890",
            "vehicle_type": "冷藏車",
            "driver_name": "李師傅",
            "driver_phone": "13800138002",
        },
    ],
}
DESIGN = {
    "design_visit_on": "2026-11-24",
    "design_rows": [
        {"vehicle_plate": "滬A12345", "terminal_position": "儀表台下方", "power_source": "常電"},
        {"vehicle_plate": "滬B67890", "terminal_position": "副駕駛座下", "power_source": "ACC"},
    ],
}
ORDER = {
    "installation_at": "2026-11-26T09:00",
    "terminal_count": 2,
    "tools_needed": "萬用表、電鑽、扎帶",
    "spare_parts": "保險絲 4 個",
}
INSTALLED = [
    {"vehicle_plate": "滬A12345", "terminal_number": "T200-1001", "sim_number": "14700001001"},
    {"vehicle_plate": "滬B67890", "terminal_number": "T200-1002", "sim_number": "14700001002"},
]


@pytest.fixture
def rt(runtime, fresh_runtime, db, settings, clock):
    for name, role in ROLES.items():
        add_user(db, settings, name, [role], clock.now())
    runtime.deploy(FILES, actor="owner")
    return fresh_runtime


def work(rt, number, element_id, user, data, *, due=None, invalid=None, errors=None):
    """Complete the one open task `element_id` as `user` (checking the role and due time); when
    `invalid` is given, first show that the form refuses it on exactly the fields `errors`."""
    task = fresh_open_task(rt, number, element_id)
    assert task.role == ROLES[user]
    if due is not None:
        assert task.due_at == utc(due), (element_id, task.due_at)
    if invalid is not None:
        with pytest.raises(ValidationFailed) as refused:
            rt().complete_task(task.id, invalid, user)
        assert set(refused.value.errors) == errors
    return rt().complete_task(task.id, data, user)


def approved(rt):
    number = rt().start_case("gps_installation", {}, actor="desk").number
    work(rt, number, "record_request", "desk", REQUEST)
    work(rt, number, "design_installation", "tech_dept", DESIGN)
    work(rt, number, "draft_dispatch_order", "desk", ORDER)
    work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "批准", "installer_name": "許建國", "installer_phone": "13800004001"},
    )
    return number


def test_files_deploy_and_name_existing_templates(runtime):
    deployed = runtime.deploy(FILES, actor="owner")
    assert {d.key for d in deployed if d.kind == "process"} == {"gps_installation"}
    for template in re.findall(r'"(gps_installation\.[a-z_]+)"', FILES[0].read_text()):
        assert (ROOT / "notifications" / f"{template}.txt").is_file(), template


def test_request_to_acceptance_after_rework_then_a_year_of_tracking(rt, db, clock):
    number = rt().start_case("gps_installation", {}, actor="desk").number
    # Each vehicle row needs its plate and driver; one working day to record the request.
    work(
        rt,
        number,
        "record_request",
        "desk",
        REQUEST,
        due="2026-11-24T01:30:00+00:00",
        invalid={**REQUEST, "vehicles": [{"vehicle_plate": "滬A12345", "driver_phone": "138"}]},
        errors={"vehicles.0.driver_name", "vehicles.0.driver_phone"},
    )
    work(
        rt,
        number,
        "design_installation",
        "tech_dept",
        DESIGN,
        due="2026-11-25T01:30:00+00:00",
        invalid={**DESIGN, "design_rows": []},
        errors={"design_rows"},
    )
    work(rt, number, "draft_dispatch_order", "desk", ORDER, due="2026-11-24T01:30:00+00:00")
    # The manager returns it once; it comes back to the desk with the comment.
    work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "退回", "approval_comment": "冷藏車需帶防水接頭"},
        due="2026-11-24T01:30:00+00:00",
        invalid={"approval": "批准"},
        errors={"installer_name", "installer_phone"},
    )
    assert sms(db) == []
    work(
        rt,
        number,
        "draft_dispatch_order",
        "desk",
        {**ORDER, "spare_parts": "保險絲 4 個、防水接頭 2 個"},
    )
    work(
        rt,
        number,
        "approve_dispatch",
        "boss",
        {"approval": "批准", "installer_name": "許建國", "installer_phone": "13800004001"},
    )
    assert sms(db) == [
        (
            "021-58881234",
            "王經理 您好：順達物流有限公司 的 2 輛車 GPS 終端安裝已安排，安裝人員 許建國 將於 "
            "2026-11-26 09:00 到 上海市閔行區虹橋路 88 號停車場 上門安裝，請安排車輛和司機在場。"
            f"單號 {number}。\n",
        )
    ]

    # Installation: due eight hours after the agreed start (Thursday 17:00).
    clock.set("2026-11-26T07:00:00+00:00")
    work(
        rt,
        number,
        "install",
        "tech",
        {
            "information_checked": True,
            "tools_ready": True,
            "installed": INSTALLED,
            "finished_at": "2026-11-26T14:40",
        },
        due="2026-11-26T09:00:00+00:00",
        invalid={
            "information_checked": True,
            "tools_ready": True,
            "installed": [{**INSTALLED[0], "sim_number": "147"}],
            "finished_at": "2026-11-26T14:40",
        },
        errors={"installed.0.sim_number"},
    )
    # Not accepted: rework by the installer, then acceptance again (two working days each).
    work(
        rt,
        number,
        "acceptance",
        "desk",
        {"acceptance_result": "不通過", "acceptance_problems": "滬B67890 平台顯示離線"},
        due="2026-11-30T07:00:00+00:00",
        invalid={"acceptance_result": "不通過"},
        errors={"acceptance_problems"},
    )
    clock.set("2026-11-27T01:00:00+00:00")
    work(
        rt,
        number,
        "rework",
        "tech",
        {
            "rework_summary": "SIM 卡未激活，已更換",
            "installed": [INSTALLED[0], {**INSTALLED[1], "sim_number": "14700001003"}],
            "rework_finished_at": "2026-11-27T08:50",
        },
        due="2026-11-30T07:00:00+00:00",
    )
    clock.set("2026-11-27T02:30:00+00:00")  # Friday 10:30
    case = work(
        rt,
        number,
        "acceptance",
        "desk",
        {"acceptance_result": "驗收通過", "platform_online_checked": True, "accepted_by": "王經理"},
        due="2026-12-01T01:00:00+00:00",
    )
    assert case.data["rework_count"] == 1
    assert case.data["installed"][1]["sim_number"] == "14700001003"
    assert sms(db)[-1][1] == (
        "順達物流有限公司 您好：2 台 GPS 終端已安裝並驗收完成。我們將每 30 天回訪一次，"
        "售後跟蹤至 2027-11-27；保修期外維修只收零部件費用。如有故障請致電客服中心。"
        f"單號 {number}。\n"
    )

    # After-sales tracking: at 10:00 every 30 days from the acceptance day, each due when the
    # next one is; the 12th (day 360) is the last, the period ends on day 365 at 10:00.
    first = utc("2026-11-27T02:00:00+00:00")
    for n in range(1, 13):
        when = first + timedelta(days=30 * n)
        # After the missed round the open follow-up's own deadline is what comes next.
        waiting = "tracking_missed" if n == 4 else "tracking_time_reached"
        assert [(t.element_id, t.due_at) for t in rt().get_case(number).timers] == [(waiting, when)]
        # (at n == 4 the missed follow-up closes and the new round, due at once, opens in the
        # same firing)
        at(clock, rt, when.isoformat(), fired=1)
        due = min(when + timedelta(days=30), first + timedelta(days=365))
        if n == 3:  # not done in time: noted, and the next round opens
            assert fresh_open_task(rt, number, "aftersales_followup").due_at == due
            continue
        work(
            rt,
            number,
            "aftersales_followup",
            "desk",
            {
                "tracking_channel": "電話",
                "terminals_status": "全部正常",
                "repair_needed": False,
                "tracking_note": "使用正常",
            },
            due=due.isoformat(),
        )
    case = rt().get_case(number)
    assert case.data["missed_trackings"] == 1 and case.data["tracking_rounds"] == 12
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("aftersales_period_over", utc("2027-11-27T02:00:00+00:00"))
    ]
    at(clock, rt, "2027-11-27T02:00:00+00:00", fired=1)
    case = rt().get_case(number)
    assert case.status == "completed"
    assert "end_tracking_done" in case.completed_elements
    assert case.open_tasks == [] and case.timers == []


def test_accepted_first_time_starts_tracking_without_rework(rt, clock):
    number = approved(rt)
    work(
        rt,
        number,
        "install",
        "tech",
        {
            "information_checked": True,
            "tools_ready": True,
            "installed": INSTALLED,
            "finished_at": "2026-11-26T12:00",
        },
    )
    case = work(
        rt,
        number,
        "acceptance",
        "desk",
        {"acceptance_result": "驗收通過", "platform_online_checked": True, "accepted_by": "王經理"},
    )
    assert case.data["rework_count"] == 0 and "rework" not in case.completed_elements
    # Accepted on Monday: first follow-up 30 days later at 10:00.
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("tracking_time_reached", utc("2026-12-23T02:00:00+00:00"))
    ]


def test_a_late_installation_stays_open_and_the_manager_follows_it_up(rt, clock):
    number = approved(rt)
    at(clock, rt, "2026-11-26T09:00:00+00:00", fired=1)
    assert fresh_open_elements(rt, number) == ["install", "supervise_overdue"]
    work(
        rt,
        number,
        "supervise_overdue",
        "boss",
        {"confirmed": True, "comment": "安裝人員車輛故障，明天上午完成"},
    )
    assert fresh_open_elements(rt, number) == ["install"]
