"""月嫂上單: order → nurses contacted best first (the next one after a refusal or a failed
interview) → profile to the customer → interview → three-party contract → follow-ups on day 3,
day 8 and day 15 after the start date (mediation and a replaced nurse when the customer is not
satisfied) → holiday greetings while she works → the photo studio told before the baby's first
month → 下戶 with a final rating that ranks her in later placements.

The shared steps live in caregiver_matching.bpmn and caregiver_service.bpmn (call activities).
Every step uses a new Runtime, so the case is saved and loaded between steps; timers are fired
by moving the clock, never by sleeping.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from jinja2.sandbox import SandboxedEnvironment

from engine.casework.directory import add_person, get_person
from engine.core.errors import ValidationFailed
from engine.definitions.layout import missing_di
from engine.definitions.sources import DefinitionError
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import complete, open_elements, open_task, outbox, utc

ROOT = Path(__file__).resolve().parents[2]
MY_KEYS = (
    "caregiver_matching",
    "caregiver_service",
    "maternity_nurse_placement",
    "nanny_placement",
    "complaint_handling",
    "infant_massage_booking",
)


def files(*keys: str) -> list[Path]:
    found = []
    for key in keys:
        found.append(ROOT / "processes" / f"{key}.bpmn")
        found += sorted((ROOT / "forms").glob(f"{key}.*.json"))
    return found


FILES = files("maternity_nurse_placement", "caregiver_matching", "caregiver_service")

ORDER = {
    "customer_name": "張太太",
    "customer_phone": "+86 138 0013 8000",
    "customer_email": "zhang@example.com",
    "address": "上海市徐匯區漕溪北路 100 號 8 樓",
    "baby_due_date": "2026-12-18",
    "service_days": 26,
    "required_skills": ["催乳"],
}


@pytest.fixture
def nurses(db):
    """Three available nurses with the skill the customer asks for, none rated yet: ranked by
    experience. A fourth lacks the skill and is never offered."""
    with db.write() as session:
        ids = {
            name: add_person(
                session, "nurse", name, phone, skills=["催乳", "月子餐"], experience_years=years
            ).id
            for name, phone, years in [
                ("陳阿姨", "+86 139 0000 0001", 8),
                ("李阿姨", "+86 139 0000 0002", 5),
                ("王阿姨", "+86 139 0000 0003", 3),
            ]
        }
        add_person(
            session, "nurse", "趙阿姨", "+86 139 0000 0004", skills=["月子餐"], experience_years=20
        )
        session.commit()
    return ids


@pytest.fixture
def deployed(runtime, users, nurses):
    runtime.deploy(FILES, actor="owner")
    return runtime


def instructions(fresh_runtime, number, element_id):
    """The task's instructions as the clerk reads them."""
    case = fresh_runtime().get_case(number)
    (task,) = [t for t in case.open_tasks if t.element_id == element_id]
    return SandboxedEnvironment().from_string(task.instructions).render(**case.data)


def person(db, person_id):
    with db.read() as session:
        return get_person(session, person_id)


def timers(fresh_runtime, number):
    return [(t.element_id, t.due_at) for t in fresh_runtime().get_case(number).timers]


def opens_exactly_at(fresh_runtime, clock, number, element_id, due_utc):
    """One minute before: the worker fires nothing and no task is open; at the moment: it is."""
    due = utc(due_utc)
    clock.set((due - timedelta(minutes=1)).isoformat())
    fire_due_timers(fresh_runtime())
    assert element_id not in open_elements(fresh_runtime(), number)
    clock.set(due_utc)
    assert fire_due_timers(fresh_runtime()).fired >= 1
    task = open_task(fresh_runtime(), number, element_id)
    assert task.created_at == due
    return task


def order_placed(fresh_runtime, **changes):
    number = fresh_runtime().start_case("maternity_nurse_placement", actor="alice").number
    register = open_task(fresh_runtime(), number, "register_order")
    assert (register.role, register.name) == ("service_desk", "登記月嫂訂單")
    fresh_runtime().complete_task(register.id, {**ORDER, **changes}, "alice")
    return number


def nurse_hired(fresh_runtime, number, start_at, service_days=26, contract_no="MN-2026-001"):
    """The first candidate offered agrees, the customer likes her, the interview passes."""
    complete(fresh_runtime, number, "contact_candidate", {"candidate_response": "同意"})
    complete(
        fresh_runtime,
        number,
        "customer_decision",
        {
            "customer_interested": True,
            "interview_at": "2026-11-25T14:00",
            "interview_place": "公司會議室",
        },
    )
    complete(fresh_runtime, number, "record_interview", {"interview_result": "面試成功"})
    return complete(
        fresh_runtime,
        number,
        "sign_contract",
        {
            "contract_no": contract_no,
            "signed_on": "2026-11-26",
            "start_at": start_at,
            "service_days": service_days,
            "service_fee": 16800,
            "service_agreement_signed": True,
            "contract_archived": True,
        },
    )


def test_all_my_processes_and_forms_deploy_together_with_a_layout(runtime):
    deployed = runtime.deploy(files(*MY_KEYS), actor="owner")
    assert {d.key for d in deployed if d.kind == "process"} == set(MY_KEYS)
    for key in MY_KEYS:
        xml = (ROOT / "processes" / f"{key}.bpmn").read_bytes()
        assert missing_di(xml) == [], key
    # Every notification template the scripts name exists.
    for key in MY_KEYS:
        text = (ROOT / "processes" / f"{key}.bpmn").read_text()
        for template in re.findall(rf'"((?:{"|".join(MY_KEYS)})\.[a-z_]+)"', text):
            assert (ROOT / "notifications" / f"{template}.txt").is_file(), template
    # A placement deployed without its shared subprocesses is refused.
    with pytest.raises(DefinitionError, match="caregiver_matching"):
        runtime.deploy([ROOT / "processes" / "nanny_placement.bpmn"])


def test_placement_from_order_to_rating(deployed, fresh_runtime, db, clock, nurses):
    number = order_placed(fresh_runtime)

    # The best-ranked nurse with the skill is offered first: 陳 (8 years), never 趙 (no 催乳).
    contact = open_task(fresh_runtime(), number, "contact_candidate")
    assert contact.role == "service_desk"
    text = instructions(fresh_runtime, number, "contact_candidate")
    assert "月嫂 陳阿姨" in text and "+86 139 0000 0001" in text
    assert "其他候選人（依排名）：李阿姨、王阿姨" in text
    # She declines: the next candidate is contacted.
    fresh_runtime().complete_task(
        contact.id, {"candidate_response": "不同意", "contact_note": "檔期已滿"}, "alice"
    )
    assert "月嫂 李阿姨" in instructions(fresh_runtime, number, "contact_candidate")

    # 李 agrees: her profile goes to the customer (SMS and e-mail).
    complete(fresh_runtime, number, "contact_candidate", {"candidate_response": "同意"})
    sms, mail = outbox(db)
    assert (
        sms.recipient == "+86 138 0013 8000"
        and "月嫂 李阿姨（從業 5 年，暫無客戶評價）" in sms.body
    )
    assert (mail.recipient, mail.subject) == (
        "zhang@example.com",
        f"為您推薦的月嫂：李阿姨（{number}）",
    )

    # Interview agreed: both sides are told; the interview fails → the next candidate.
    complete(
        fresh_runtime,
        number,
        "customer_decision",
        {
            "customer_interested": True,
            "interview_at": "2026-11-25T14:00",
            "interview_place": "公司會議室",
        },
    )
    to_customer, to_nurse = outbox(db)[2:]
    assert to_customer.recipient == "+86 138 0013 8000" and "2026-11-25 14:00" in to_customer.body
    assert to_nurse.recipient == "+86 139 0000 0002" and "公司會議室" in to_nurse.body
    complete(
        fresh_runtime,
        number,
        "record_interview",
        {"interview_result": "面試未通過", "interview_note": "客戶希望更會做月子餐"},
    )
    assert "月嫂 王阿姨" in instructions(fresh_runtime, number, "contact_candidate")

    case = nurse_hired(fresh_runtime, number, start_at="2026-12-20T10:00")
    assert case.data["caregiver"]["name"] == "王阿姨"
    assert [(e["name"], e["outcome"]) for e in case.data["matching_log"]] == [
        ("陳阿姨", "不同意"),
        ("李阿姨", "面試未通過"),
        ("王阿姨", "簽約"),
    ]
    assert person(db, nurses["王阿姨"])["available"] is False  # she is placed

    # What the case now waits for, all at 10:00 in Shanghai: day 3; the first public holiday and
    # the studio notice (滿月 2027-01-17 minus 5 days), each also ended by 下戶; and the contract
    # end (26 days), counted from the contract dates from the start.
    assert timers(fresh_runtime, number) == [
        ("day3_due", utc("2026-12-23T02:00:00+00:00")),
        ("holiday_due", utc("2027-01-01T02:00:00+00:00")),
        ("photo_notice_due", utc("2027-01-12T02:00:00+00:00")),
        ("contract_end_due", utc("2027-01-15T02:00:00+00:00")),
    ]

    day3 = opens_exactly_at(
        fresh_runtime, clock, number, "followup_day3", "2026-12-23T02:00:00+00:00"
    )
    assert day3.role == "service_desk" and day3.name == "上戶三天跟蹤回訪"
    fresh_runtime().complete_task(
        day3.id,
        {"customer_satisfied": True, "contact_channel": "電話", "followup_notes": "很滿意"},
        "alice",
    )
    day8 = opens_exactly_at(
        fresh_runtime, clock, number, "followup_day8", "2026-12-28T02:00:00+00:00"
    )
    fresh_runtime().complete_task(
        day8.id,
        {"customer_satisfied": True, "contact_channel": "微信", "followup_notes": "一切正常"},
        "alice",
    )

    # New Year's Day: one greeting SMS, then the next holiday after the service ends.
    clock.set("2027-01-01T02:00:00+00:00")
    assert fire_due_timers(fresh_runtime()).fired == 1
    greeting = outbox(db)[-1]
    assert greeting.recipient == "+86 138 0013 8000" and "節日快樂" in greeting.body
    assert ("holiday_due", utc("2027-02-05T02:00:00+00:00")) in timers(fresh_runtime, number)
    assert fresh_runtime().get_case(number).data["holiday_greetings_sent"] == 1

    day15 = opens_exactly_at(
        fresh_runtime, clock, number, "followup_day15", "2027-01-04T02:00:00+00:00"
    )
    fresh_runtime().complete_task(
        day15.id,
        {"customer_satisfied": True, "contact_channel": "微信", "followup_notes": "寶寶很好"},
        "alice",
    )
    assert ("contract_end_due", utc("2027-01-15T02:00:00+00:00")) in timers(fresh_runtime, number)

    # Five days before the first month: book the studio; it gets an e-mail with an invitation.
    photo = opens_exactly_at(
        fresh_runtime, clock, number, "arrange_photo_shoot", "2027-01-12T02:00:00+00:00"
    )
    assert "2027-01-17" in instructions(fresh_runtime, number, "arrange_photo_shoot")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            photo.id, {"shoot_at": "2027-13-01T10:00", "customer_agreed": False}, "carol"
        )
    assert set(failure.value.errors) == {"shoot_at", "shoot_address", "customer_agreed"}
    fresh_runtime().complete_task(
        photo.id,
        {
            "shoot_at": "2027-01-16T10:00",
            "shoot_address": ORDER["address"],
            "customer_agreed": True,
        },
        "carol",
    )
    studio, customer = outbox(db)[-2:]
    assert (studio.channel, studio.recipient) == ("email", "booking@wangzheng-studio.example")
    assert "上門時間：2027-01-16 10:00" in studio.body
    assert "DTSTART:20270116T020000Z" in studio.attachments[0]["text"]
    assert customer.recipient == "+86 138 0013 8000" and "汪正影業" in customer.body

    # 下戶 after 26 days: the greetings stop and the final follow-up opens.
    final = opens_exactly_at(
        fresh_runtime, clock, number, "final_followup", "2027-01-15T02:00:00+00:00"
    )
    assert [t for t, _ in timers(fresh_runtime, number)] == []
    case = fresh_runtime().complete_task(
        final.id,
        {"caregiver_rating": 5, "caregiver_comment": "專業細心", "would_rehire": True},
        "alice",
    )
    assert case.status == "completed"
    wang = person(db, nurses["王阿姨"])
    assert (wang["rating"], wang["rating_count"], wang["available"]) == (5.0, 1, True)

    # The rating ranks her first for the next customer, ahead of more experienced 陳.
    clock.set("2027-01-20T02:00:00+00:00")
    later = order_placed(fresh_runtime, customer_name="林太太")
    text = instructions(fresh_runtime, number=later, element_id="contact_candidate")
    assert "月嫂 王阿姨" in text and "評分 5.0（1 次評價）" in text


def test_unsatisfied_customer_gets_a_replaced_nurse(deployed, fresh_runtime, db, clock, nurses):
    # Born 2026-12-20: the studio notice (2027-01-14) falls after this placement has ended.
    number = order_placed(fresh_runtime, baby_birth_date="2026-12-20")
    nurse_hired(fresh_runtime, number, start_at="2026-12-01T09:00")

    clock.set("2026-12-04T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    complete(
        fresh_runtime,
        number,
        "followup_day3",
        {"customer_satisfied": False, "contact_channel": "電話", "followup_notes": "不會做月子餐"},
    )
    # The service desk mediates; when that fails the supervisor decides on a replacement.
    mediate = open_task(fresh_runtime(), number, "mediate")
    assert mediate.role == "service_desk"
    assert "不會做月子餐" in instructions(fresh_runtime, number, "mediate")
    fresh_runtime().complete_task(
        mediate.id,
        {
            "mediation_cause": "飲食習慣不合",
            "mediation_solution": "請月嫂按客戶口味調整",
            "mediation_resolution": "協調不成，轉主管",
        },
        "alice",
    )
    escalated = open_task(fresh_runtime(), number, "supervisor_mediate")
    assert escalated.role == "supervisor"
    assert "請月嫂按客戶口味調整" in instructions(fresh_runtime, number, "supervisor_mediate")
    fresh_runtime().complete_task(
        escalated.id,
        {
            "supervisor_cause": "飲食習慣不合",
            "supervisor_solution": "更換擅長月子餐的月嫂",
            "supervisor_resolution": "更換人員",
            "replaced_caregiver_rating": 2,
        },
        "sue",
    )
    chen = person(db, nurses["陳阿姨"])
    assert (chen["rating"], chen["rating_count"], chen["available"]) == (2.0, 1, True)

    # Back to the candidates, without 陳: 李 is offered and hired for the remaining days.
    assert "月嫂 李阿姨" in instructions(fresh_runtime, number, "contact_candidate")
    assert "陳阿姨" not in instructions(fresh_runtime, number, "contact_candidate")
    case = nurse_hired(
        fresh_runtime,
        number,
        start_at="2026-12-06T09:00",
        service_days=21,
        contract_no="MN-2026-002",
    )
    assert case.data["caregiver"]["name"] == "李阿姨"
    assert [p["name"] for p in case.data["previous_caregivers"]] == ["陳阿姨"]

    # The follow-ups start again from the new start date.
    day3 = opens_exactly_at(
        fresh_runtime, clock, number, "followup_day3", "2026-12-09T01:00:00+00:00"
    )
    fresh_runtime().complete_task(
        day3.id,
        {"customer_satisfied": True, "contact_channel": "電話", "followup_notes": "滿意"},
        "alice",
    )
    clock.set("2026-12-14T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    complete(
        fresh_runtime,
        number,
        "followup_day8",
        {"customer_satisfied": True, "contact_channel": "電話", "followup_notes": "好"},
    )
    clock.set("2026-12-21T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    complete(
        fresh_runtime,
        number,
        "followup_day15",
        {"customer_satisfied": True, "contact_channel": "微信", "followup_notes": "好"},
    )

    # 下戶 on 2026-12-27 (21 days): the studio wait ends with it, nothing is sent to the studio.
    clock.set("2026-12-27T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    assert "photo_notice_due" not in [t for t, _ in timers(fresh_runtime, number)]
    final = open_task(fresh_runtime(), number, "final_followup")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            final.id, {"caregiver_rating": 9, "caregiver_comment": ""}, "alice"
        )
    assert set(failure.value.errors) == {"caregiver_rating", "caregiver_comment", "would_rehire"}
    case = fresh_runtime().complete_task(
        final.id,
        {"caregiver_rating": 4, "caregiver_comment": "不錯", "would_rehire": True},
        "alice",
    )
    assert case.status == "completed"
    assert person(db, nurses["李阿姨"])["rating"] == 4.0
    assert person(db, nurses["陳阿姨"])["rating_count"] == 1  # the final rating went to 李
    assert not [r for r in outbox(db) if r.recipient == "booking@wangzheng-studio.example"]


def test_mediation_settled_skips_day_8_and_keeps_day_15(deployed, fresh_runtime, clock):
    number = order_placed(fresh_runtime, baby_birth_date="2026-12-20")
    nurse_hired(fresh_runtime, number, start_at="2026-12-01T09:00")
    clock.set("2026-12-04T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    complete(
        fresh_runtime,
        number,
        "followup_day3",
        {"customer_satisfied": False, "contact_channel": "電話", "followup_notes": "作息不合"},
    )
    complete(
        fresh_runtime,
        number,
        "mediate",
        {
            "mediation_cause": "作息",
            "mediation_solution": "調整夜間安排",
            "mediation_resolution": "協調解決",
        },
        user="sue",
    )
    waits = [t for t, _ in timers(fresh_runtime, number)]
    assert "day8_due" not in waits
    opens_exactly_at(fresh_runtime, clock, number, "followup_day15", "2026-12-16T01:00:00+00:00")
    assert fresh_runtime().get_case(number).data["caregiver"]["name"] == "陳阿姨"


def test_no_candidate_left_then_retry_or_cancel(deployed, fresh_runtime, db):
    number = order_placed(fresh_runtime, required_skills=["雙胞胎護理"])
    task = open_task(fresh_runtime(), number, "no_candidate")
    assert task.role == "supervisor"
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(task.id, {"no_candidate_decision": "等等"}, "sue")
    assert set(failure.value.errors) == {"no_candidate_decision"}
    # A nurse with the skill joins; the supervisor asks for a new search.
    with db.write() as session:
        add_person(
            session,
            "nurse",
            "孫阿姨",
            "+86 139 0000 0009",
            skills=["雙胞胎護理"],
            experience_years=6,
        )
        session.commit()
    fresh_runtime().complete_task(task.id, {"no_candidate_decision": "重新篩選"}, "sue")
    assert "月嫂 孫阿姨" in instructions(fresh_runtime, number, "contact_candidate")
    complete(fresh_runtime, number, "contact_candidate", {"candidate_response": "聯繫不上"})
    # Nobody left again: this time the order is cancelled.
    case = complete(
        fresh_runtime, number, "no_candidate", {"no_candidate_decision": "取消訂單"}, user="sue"
    )
    assert case.status == "completed"
    assert case.data["matching_result"] == "cancelled"


def test_every_form_rejects_an_invalid_submission_field_by_field(deployed, fresh_runtime, clock):
    number = fresh_runtime().start_case("maternity_nurse_placement").number

    def refused(element_id, data, user="alice"):
        task = open_task(fresh_runtime(), number, element_id)
        with pytest.raises(ValidationFailed) as failure:
            fresh_runtime().complete_task(task.id, data, user)
        return set(failure.value.errors)

    assert refused(
        "register_order",
        {
            **ORDER,
            "customer_phone": "abc",
            "baby_birth_date": "2026-02-30",
            "required_skills": ["唱歌"],
            "address": "",
        },
    ) == {"customer_phone", "baby_birth_date", "required_skills.0", "address"}
    complete(fresh_runtime, number, "register_order", ORDER)
    assert refused("contact_candidate", {"candidate_response": "也許"}) == {"candidate_response"}
    complete(fresh_runtime, number, "contact_candidate", {"candidate_response": "同意"})
    assert refused("customer_decision", {"customer_interested": True}) == {
        "interview_at",
        "interview_place",
    }
    complete(
        fresh_runtime,
        number,
        "customer_decision",
        {
            "customer_interested": True,
            "interview_at": "2026-11-25T14:00",
            "interview_place": "公司",
        },
    )
    assert refused("record_interview", {"interview_result": "面試未通過"}) == {"interview_note"}
    complete(fresh_runtime, number, "record_interview", {"interview_result": "面試成功"})
    assert refused(
        "sign_contract",
        {
            "contract_no": "合同一號",
            "start_at": "明天",
            "service_days": 0,
            "service_agreement_signed": False,
        },
    ) == {
        "contract_no",
        "signed_on",
        "start_at",
        "service_days",
        "service_fee",
        "service_agreement_signed",
        "contract_archived",
    }
    nurse_contract = {
        "contract_no": "MN-1",
        "signed_on": "2026-11-26",
        "start_at": "2026-12-01T09:00",
        "service_days": 26,
        "service_fee": 16800,
        "service_agreement_signed": True,
        "contract_archived": True,
    }
    complete(fresh_runtime, number, "sign_contract", nurse_contract)

    clock.set("2026-12-04T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    assert refused("followup_day3", {"customer_satisfied": "ok", "contact_channel": "QQ"}) == {
        "customer_satisfied",
        "contact_channel",
        "followup_notes",
    }
    complete(
        fresh_runtime,
        number,
        "followup_day3",
        {"customer_satisfied": False, "contact_channel": "電話", "followup_notes": "x"},
    )
    assert refused(
        "mediate",
        {"mediation_cause": "x", "mediation_solution": "y", "mediation_resolution": "更換人員"},
    ) == {"mediation_resolution"}
    complete(
        fresh_runtime,
        number,
        "mediate",
        {
            "mediation_cause": "x",
            "mediation_solution": "y",
            "mediation_resolution": "協調不成，轉主管",
        },
    )
    assert refused(
        "supervisor_mediate",
        {"supervisor_cause": "x", "supervisor_solution": "y", "supervisor_resolution": "更換人員"},
        user="sue",
    ) == {"replaced_caregiver_rating"}
    # The photo studio form is checked in test_placement_from_order_to_rating, the final
    # follow-up in test_unsatisfied_customer_gets_a_replaced_nurse, the no-candidate form in
    # test_no_candidate_left_then_retry_or_cancel.
