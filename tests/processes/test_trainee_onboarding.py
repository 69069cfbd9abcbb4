"""學員備案 (trainee_onboarding) driven through the runtime, a new Runtime for every step.

Registration sheet handed over → entered in the 58 list by the day's 16:00 cut-off (a missed
cut-off rolls to the next working day's) → group health check booked (paid once by the company)
→ certificate collected 4 working days after the check (failed: the case ends; no-show: the
trainee brings her own certificate or the case ends) → 58到家 certification (failed: corrected
and booked again) → group interview at a partner (failed: the case ends) → hospital internship
followed up every two days until it ends (or stops early) → placement. A step past its due time
stays open and gives the supervisor a follow-up task.

Times: the clock starts on Monday 23 November 2026, 09:30 in Shanghai (01:30 UTC).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2.sandbox import SandboxedEnvironment

from engine.core.errors import ValidationFailed
from engine.identity.users import add_user
from tests.processes.helpers import at, fresh_open_elements, fresh_open_task, sms, utc

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "trainee_onboarding.bpmn",
    *sorted((ROOT / "forms").glob("trainee_onboarding.*.json")),
]

TRAINEE = {
    "customer_name": "劉桂香",
    "phone": "13912345678",
    "id_number": "34012219850612452X",
    "gender": "女",
    "birth_date": "1985-06-12",
    "hometown": "安徽合肥",
    "intended_work": "月嫂",
    "registered_on": "2026-11-23",
    "entered_in_58_list": True,
}
CHECKUP = {
    "checkup_at": "2026-11-25T08:30",
    "checkup_place": "徐匯區健康體檢中心",
    "information_confirmed": True,
    "id_card_collected": True,
    "told_one_free_checkup": True,
}
CERTIFICATION = {
    "certification_phone": "13912345678",
    "phone_not_on_58": True,
    "information_verified": True,
    "certification_contact": "58到家 於老師",
    "certification_at": "2026-12-03T10:00",
}
INTERVIEW = {
    "interview_partner": "愛維爾醫院",
    "interview_at": "2026-12-09T14:00",
    "interview_place": "愛維爾醫院三樓會議室",
    "trainee_wish": "醫院實習",
}


@pytest.fixture
def rt(runtime, fresh_runtime, db, settings, clock):
    for name, roles in {"desk": ["service_desk"], "boss": ["supervisor"]}.items():
        add_user(db, settings, name, roles, clock.now())
    runtime.deploy(FILES, actor="owner")
    return fresh_runtime


def work(rt, number, element_id, data, *, user="desk", due=None, invalid=None, errors=None):
    """Complete the one open task `element_id` (checking its role and due time); when `invalid`
    is given, first show that the form refuses it on exactly the fields `errors`."""
    task = fresh_open_task(rt, number, element_id)
    assert task.role == ("supervisor" if user == "boss" else "service_desk")
    if due is not None:
        assert task.due_at == utc(due), (element_id, task.due_at)
    if invalid is not None:
        with pytest.raises(ValidationFailed) as refused:
            rt().complete_task(task.id, invalid, user)
        assert set(refused.value.errors) == errors
    return rt().complete_task(task.id, data, user)


def registered(rt, clock):
    """Started Monday 09:30; entered before the 16:00 cut-off; the health check booked for
    Wednesday 08:30 (the certificate is collected from Tuesday 1 December 09:00)."""
    number = rt().start_case("trainee_onboarding", {}, actor="desk").number
    work(rt, number, "register_trainee", TRAINEE, due="2026-11-23T08:00:00+00:00")
    work(rt, number, "arrange_health_check", CHECKUP, due="2026-11-26T01:30:00+00:00")
    return number


def certificate(rt, clock, number, result="合格", **extra):
    at(clock, rt, "2026-12-01T01:00:00+00:00", fired=1)
    data = {"checkup_result": result, **extra}
    if result == "合格":
        data |= {"certificate_number": "滬健 2026-1201-0007", "certificate_handed_out": True}
    return work(rt, number, "collect_certificate", data, due="2026-12-02T01:00:00+00:00")


def certified(rt, clock, number):
    certificate(rt, clock, number)
    work(rt, number, "prepare_certification", CERTIFICATION)
    at(clock, rt, "2026-12-03T02:00:00+00:00", fired=1)
    work(rt, number, "record_certification", {"certification_result": "通過"})


def interviewed(rt, clock, number, result, **extra):
    certified(rt, clock, number)
    work(rt, number, "arrange_group_interview", INTERVIEW)
    at(clock, rt, "2026-12-09T06:00:00+00:00", fired=1)
    return work(rt, number, "record_interview", {"interview_result": result, **extra})


def test_files_deploy_and_name_existing_templates(runtime):
    deployed = runtime.deploy(FILES, actor="owner")
    assert {d.key for d in deployed if d.kind == "process"} == {"trainee_onboarding"}
    text = FILES[0].read_text()
    for template in re.findall(r'"(trainee_onboarding\.[a-z_]+)"', text):
        assert (ROOT / "notifications" / f"{template}.txt").is_file(), template


def test_registration_to_placement_after_a_hospital_internship(rt, db, clock):
    number = rt().start_case("trainee_onboarding", {}, actor="desk").number
    # Monday 09:30: today's 16:00 hand-over is the cut-off.
    work(
        rt,
        number,
        "register_trainee",
        TRAINEE,
        due="2026-11-23T08:00:00+00:00",
        invalid={**TRAINEE, "phone": "1391234", "id_number": "123", "entered_in_58_list": False},
        errors={"phone", "id_number", "entered_in_58_list"},
    )
    # Three working days to book the group health check: Thursday 09:30.
    case = work(
        rt,
        number,
        "arrange_health_check",
        CHECKUP,
        due="2026-11-26T01:30:00+00:00",
        invalid={**CHECKUP, "told_one_free_checkup": False},
        errors={"told_one_free_checkup"},
    )
    assert sms(db) == [
        (
            "13912345678",
            "劉桂香 您好：集中體檢已預約在 2026-11-25 08:30，地點 徐匯區健康體檢中心。"
            "本次體檢由公司付費提供，只有一次機會；預約後不去體檢，公司不再提供體檢名額，"
            f"需自行聯繫醫院體檢。單號 {number}。\n",
        )
    ]
    # The certificate is ready 4 working days after the check (counted from Wednesday's
    # opening, 09:00): Tuesday 1 December 09:00.
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("certificate_ready", utc("2026-12-01T01:00:00+00:00"))
    ]
    at(clock, rt, "2026-11-30T23:59:00+00:00", fired=0)
    certificate(rt, clock, number)

    # 58到家: a number already registered on 58同城 cannot be used; the first try fails
    # because the trainee wrote other details than the list, so it is booked again.
    work(
        rt,
        number,
        "prepare_certification",
        CERTIFICATION,
        due="2026-12-03T01:00:00+00:00",
        invalid={**CERTIFICATION, "phone_not_on_58": False},
        errors={"phone_not_on_58"},
    )
    assert sms(db)[-1][1].startswith(
        "劉桂香 您好：58到家認證已預約在 2026-12-03 10:00（對接人 58到家 於老師），當天由客服部老師帶您前往。"
    )
    at(clock, rt, "2026-12-03T02:00:00+00:00", fired=1)
    work(
        rt,
        number,
        "record_certification",
        {"certification_result": "未通過", "certification_note": "現場填寫的住址與名單不一致"},
        due="2026-12-04T02:00:00+00:00",
        invalid={"certification_result": "未通過"},
        errors={"certification_note"},
    )
    work(
        rt,
        number,
        "prepare_certification",
        {
            **CERTIFICATION,
            "certification_phone": "13700001111",
            "certification_at": "2026-12-04T10:00",
        },
        due="2026-12-07T02:00:00+00:00",
    )
    assert sms(db)[-1][0] == "13700001111"
    at(clock, rt, "2026-12-04T02:00:00+00:00", fired=1)
    work(rt, number, "record_certification", {"certification_result": "通過"})

    # Group interview at the hospital; passed and chosen for the internship.
    work(rt, number, "arrange_group_interview", INTERVIEW, due="2026-12-09T02:00:00+00:00")
    assert "愛維爾醫院 的群面會，時間 2026-12-09 14:00" in sms(db)[-1][1]
    at(clock, rt, "2026-12-09T06:00:00+00:00", fired=1)
    work(
        rt,
        number,
        "record_interview",
        {"interview_result": "通過", "hospital_internship": True},
        due="2026-12-10T06:00:00+00:00",
        invalid={"interview_result": "通過"},
        errors={"hospital_internship"},
    )
    clock.set("2026-12-10T02:00:00+00:00")
    case = work(
        rt,
        number,
        "start_internship",
        {
            "internship_hospital": "愛維爾醫院",
            "internship_teacher": "任老師",
            "internship_start": "2026-12-14",
            "internship_end": "2026-12-20",
            "special_training_done": True,
            "rules_briefed": True,
        },
        due="2026-12-11T06:00:00+00:00",  # two working days after the interview result
    )
    assert "實習期間請聽從 任老師 的安排" in sms(db)[-1][1]
    # Every two days at 10:00 from the start: 16th, 18th, 20th; the internship ends on the
    # 20th at 17:00. Each follow-up is due when the next one is (the last: at the end).
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("followup_time_reached", utc("2026-12-16T02:00:00+00:00"))
    ]
    at(clock, rt, "2026-12-16T02:00:00+00:00", fired=1)
    work(
        rt,
        number,
        "internship_followup",
        {"followup_channel": "電話", "internship_status": "實習中", "followup_note": "適應良好"},
        due="2026-12-18T02:00:00+00:00",
    )
    # The follow-up of the 18th is not done by the 20th 10:00: it is noted as missed and the
    # next one opens at once, due at the end of the internship.
    at(clock, rt, "2026-12-18T02:00:00+00:00", fired=1)
    assert fresh_open_elements(rt, number) == ["internship_followup"]
    at(clock, rt, "2026-12-20T02:00:00+00:00", fired=1)
    case = rt().get_case(number)
    assert case.data["missed_followups"] == 1
    work(
        rt,
        number,
        "internship_followup",
        {"followup_channel": "信息", "internship_status": "實習中", "followup_note": "最後一天"},
        due="2026-12-20T09:00:00+00:00",
    )
    case = rt().get_case(number)
    assert case.open_tasks == []
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("internship_ended", utc("2026-12-20T09:00:00+00:00"))
    ]
    # The internship ends on Sunday 17:00: placement within three working days (Thursday).
    at(clock, rt, "2026-12-20T09:00:00+00:00", fired=1)
    case = work(
        rt,
        number,
        "arrange_placement",
        {"placement_kind": "月嫂", "employer": "愛維爾月子中心", "placement_start": "2026-12-28"},
        due="2026-12-24T01:00:00+00:00",
    )
    assert case.status == "completed"
    assert "end_placed" in case.completed_elements
    assert case.data["followup_rounds"] == 3 and case.data["missed_followups"] == 1
    assert len(sms(db)) == 5


def test_a_missed_cut_off_rolls_the_entry_to_the_next_working_days(rt, clock):
    # Friday 17:30: the next cut-off is Monday 16:00.
    clock.set("2026-11-27T09:30:00+00:00")
    number = rt().start_case("trainee_onboarding", {}, actor="desk").number
    assert fresh_open_task(rt, number, "register_trainee").due_at == utc(
        "2026-11-30T08:00:00+00:00"
    )
    at(clock, rt, "2026-11-30T08:00:00+00:00", fired=1)
    task = fresh_open_task(rt, number, "register_trainee")
    assert task.due_at == utc("2026-12-01T08:00:00+00:00")
    case = rt().get_case(number)
    assert case.data["missed_registration_cutoffs"] == 1
    text = SandboxedEnvironment().from_string(task.instructions).render(**case.data)
    assert "本次截止時間：2026-12-01 16:00。已錯過 1 次截止時間" in text


def test_after_the_cut_off_the_entry_is_due_the_next_working_day(rt, clock):
    clock.set("2026-11-23T08:30:00+00:00")  # Monday 16:30
    number = rt().start_case("trainee_onboarding", {}, actor="desk").number
    assert fresh_open_task(rt, number, "register_trainee").due_at == utc(
        "2026-11-24T08:00:00+00:00"
    )


def test_failed_health_check_ends_the_case(rt, clock):
    number = registered(rt, clock)
    case = certificate(
        rt,
        clock,
        number,
        "不合格",
        checkup_note="乙肝表面抗原陽性",
    )
    assert case.status == "completed"
    assert "end_health_failed" in case.completed_elements
    assert case.timers == []


def test_no_show_brings_her_own_certificate_then_certification(rt, db, clock):
    number = registered(rt, clock)
    certificate(rt, clock, number, "未參加體檢", checkup_note="預約當天未到")
    # Ten working days from Tuesday 1 December 09:00.
    task = fresh_open_task(rt, number, "collect_own_certificate")
    assert task.due_at == utc("2026-12-15T01:00:00+00:00")
    assert sms(db)[-1][1] == (
        "劉桂香 您好：您未參加預約的集中體檢，公司不再提供體檢名額。請自行聯繫醫院體檢，"
        f"並於 2026-12-15 09:00 前把健康證交給客服部老師，逾期備案終止。單號 {number}。\n"
    )
    work(
        rt,
        number,
        "collect_own_certificate",
        {
            "checkup_result": "合格",
            "own_checkup_hospital": "合肥市第一人民醫院",
            "certificate_number": "皖健 88",
        },
        invalid={"checkup_result": "合格", "own_checkup_hospital": "合肥市第一人民醫院"},
        errors={"certificate_number"},
    )
    assert fresh_open_elements(rt, number) == ["prepare_certification"]


def test_no_certificate_by_the_deadline_ends_the_case(rt, clock):
    number = registered(rt, clock)
    certificate(rt, clock, number, "未參加體檢")
    at(clock, rt, "2026-12-15T01:00:00+00:00", fired=1)
    case = rt().get_case(number)
    assert case.status == "completed"
    assert "end_no_certificate" in case.completed_elements


def test_failed_interview_ends_the_case(rt, clock):
    number = registered(rt, clock)
    case = interviewed(rt, clock, number, "未通過", interview_note="溝通表達不清")
    assert case.status == "completed"
    assert "end_interview_failed" in case.completed_elements


def test_passed_interview_without_internship_goes_to_placement(rt, clock):
    number = registered(rt, clock)
    interviewed(rt, clock, number, "通過", hospital_internship=False)
    # Wednesday 9 December 14:00 + 3 working days.
    case = work(
        rt,
        number,
        "arrange_placement",
        {"placement_kind": "保潔", "employer": "潔家家政", "placement_start": "2026-12-14"},
        due="2026-12-14T06:00:00+00:00",
    )
    assert case.status == "completed" and "start_internship" not in case.completed_elements


def test_internship_stopped_early_goes_to_placement(rt, clock):
    number = registered(rt, clock)
    interviewed(rt, clock, number, "通過", hospital_internship=True)
    work(
        rt,
        number,
        "start_internship",
        {
            "internship_hospital": "愛維爾醫院",
            "internship_teacher": "任老師",
            "internship_start": "2026-12-14",
            "internship_end": "2027-01-14",
            "special_training_done": True,
            "rules_briefed": True,
        },
    )
    at(clock, rt, "2026-12-16T02:00:00+00:00", fired=1)
    work(
        rt,
        number,
        "internship_followup",
        {
            "followup_channel": "電話",
            "internship_status": "提前結束實習",
            "followup_note": "家中有事",
        },
    )
    case = rt().get_case(number)
    # Placement within three working days of Wednesday 10:00; no follow-up is waiting any more.
    assert fresh_open_elements(rt, number) == ["arrange_placement"]
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("placement_overdue", utc("2026-12-21T02:00:00+00:00"))
    ]


def test_a_late_step_stays_open_and_the_supervisor_follows_it_up(rt, clock):
    number = rt().start_case("trainee_onboarding", {}, actor="desk").number
    work(rt, number, "register_trainee", TRAINEE)
    at(clock, rt, "2026-11-26T01:30:00+00:00", fired=1)
    assert fresh_open_elements(rt, number) == ["arrange_health_check", "supervise_overdue"]
    # Thursday 09:30: three working days after the entry.
    work(
        rt,
        number,
        "supervise_overdue",
        {"confirmed": True, "comment": "已催客服部老師今天內預約"},
        user="boss",
    )
    work(rt, number, "arrange_health_check", CHECKUP)
    assert fresh_open_elements(rt, number) == []
