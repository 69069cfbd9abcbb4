"""育嬰師上單: the 月嫂 pattern through the same shared subprocesses (caregiver_matching,
caregiver_service): order → the best-rated available nanny → profile → interview → contract →
the start arranged and the nanny briefed → follow-ups on day 3, 8 and 15 → 下戶 and the rating.

Every step uses a new Runtime, so the case is saved and loaded between steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.casework.directory import add_person, add_rating, get_person
from engine.core.errors import ValidationFailed
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import complete, open_task, outbox, utc

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    path
    for key in ("nanny_placement", "caregiver_matching", "caregiver_service")
    for path in [
        ROOT / "processes" / f"{key}.bpmn",
        *sorted((ROOT / "forms").glob(f"{key}.*.json")),
    ]
]

ORDER = {
    "customer_name": "何先生",
    "customer_phone": "+86 136 5555 6666",
    "address": "上海市靜安區南京西路 1266 號",
    "child_age_months": 8,
    "service_days": 90,
    "required_skills": ["早教"],
}
BRIEFING = {
    "start_arrangements": "12 月 1 日 9:00 到，自帶換洗衣物",
    "briefing_points": "孩子對雞蛋過敏；家中有貓",
    "caregiver_briefed": True,
    "placement_recorded": True,
}


@pytest.fixture
def nannies(db, clock):
    """周 is well rated, 吳 has more experience but customers were unhappy with her, 鄭 is new."""
    with db.write() as session:
        zhou = add_person(
            session, "nanny", "周姐", "+86 135 0000 0001", skills=["早教"], experience_years=6
        )
        wu = add_person(
            session, "nanny", "吳姐", "+86 135 0000 0002", skills=["早教"], experience_years=10
        )
        zheng = add_person(
            session, "nanny", "鄭姐", "+86 135 0000 0003", skills=["早教"], experience_years=2
        )
        add_rating(session, zhou.id, 4, clock.now(), "細心")
        add_rating(session, wu.id, 2, clock.now(), "常遲到")
        session.commit()
        return {"周姐": zhou.id, "吳姐": wu.id, "鄭姐": zheng.id}


@pytest.fixture
def deployed(runtime, users, nannies):
    runtime.deploy(FILES, actor="owner")
    return runtime


def hired(fresh_runtime, number):
    complete(fresh_runtime, number, "contact_candidate", {"candidate_response": "同意"})
    complete(
        fresh_runtime,
        number,
        "customer_decision",
        {
            "customer_interested": True,
            "interview_at": "2026-11-24T10:00",
            "interview_place": "客戶家",
        },
    )
    complete(fresh_runtime, number, "record_interview", {"interview_result": "面試成功"})
    return complete(
        fresh_runtime,
        number,
        "sign_contract",
        {
            "contract_no": "NP-2026-007",
            "signed_on": "2026-11-24",
            "start_at": "2026-12-01T09:00",
            "service_days": 90,
            "service_fee": 9000,
            "service_agreement_signed": True,
            "contract_archived": True,
        },
    )


def test_nanny_from_order_to_rating(deployed, fresh_runtime, db, clock, nannies):
    number = fresh_runtime().start_case("nanny_placement", actor="alice").number
    assert number.startswith("NP-20261123-")
    complete(fresh_runtime, number, "register_order", ORDER)

    # Ranked by rating: 周 (4.0) before the newcomer 鄭, and 吳 (2.0) last despite 10 years.
    case = fresh_runtime().get_case(number)
    assert [c["name"] for c in case.data["candidates"]] == ["周姐", "鄭姐", "吳姐"]
    assert case.data["candidate"]["name"] == "周姐"

    case = hired(fresh_runtime, number)
    profile = outbox(db)[0]
    assert profile.recipient == "+86 136 5555 6666"
    assert "育嬰師 周姐（從業 6 年，客戶評分 4.0，共 1 次評價）" in profile.body
    assert len(outbox(db)) == 3  # no e-mail address: profile SMS, interview SMS to each side

    # After the contract the service desk arranges the start and briefs her; nothing else waits.
    brief = open_task(fresh_runtime(), number, "brief_nanny")
    assert (brief.role, brief.name) == ("service_desk", "安排上戶事宜並告知注意事項")
    assert case.timers == []
    fresh_runtime().complete_task(brief.id, BRIEFING, "alice")

    # Day 3 after 2026-12-01 09:00 (01:00 UTC), and not a minute before.
    clock.set("2026-12-04T00:59:00+00:00")
    fire_due_timers(fresh_runtime())
    assert fresh_runtime().get_case(number).open_tasks == []
    clock.set("2026-12-04T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    complete(
        fresh_runtime,
        number,
        "followup_day3",
        {"customer_satisfied": True, "contact_channel": "電話", "followup_notes": "孩子很喜歡她"},
    )
    clock.set("2026-12-09T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    complete(
        fresh_runtime,
        number,
        "followup_day8",
        {"customer_satisfied": True, "contact_channel": "微信", "followup_notes": "好"},
    )
    clock.set("2026-12-16T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    complete(
        fresh_runtime,
        number,
        "followup_day15",
        {"customer_satisfied": True, "contact_channel": "電話", "followup_notes": "好"},
    )

    # Public holidays while she works: New Year's Day, then the Spring Festival run of
    # 2027-02-05..10 gets one greeting only; the next wait is Tomb-Sweeping Day.
    for day in ("2027-01-01", "2027-02-05", "2027-02-06", "2027-02-08"):
        clock.set(f"{day}T02:00:00+00:00")
        fire_due_timers(fresh_runtime())
    greetings = [r for r in outbox(db) if "節日快樂" in r.body]
    assert [(g.recipient, g.created_at) for g in greetings] == [
        ("+86 136 5555 6666", utc("2027-01-01T02:00:00+00:00")),
        ("+86 136 5555 6666", utc("2027-02-05T02:00:00+00:00")),
    ]
    assert [(t.element_id, t.due_at) for t in fresh_runtime().get_case(number).timers] == [
        ("contract_end_due", utc("2027-03-01T01:00:00+00:00")),
        ("holiday_due", utc("2027-04-05T02:00:00+00:00")),
    ]

    # 下戶 on day 90 (2027-03-01): the greetings stop, the final follow-up opens.
    clock.set("2027-03-01T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    case = fresh_runtime().get_case(number)
    assert [t.element_id for t in case.open_tasks] == ["final_followup"]
    assert case.timers == []
    case = complete(
        fresh_runtime,
        number,
        "final_followup",
        {"caregiver_rating": 5, "caregiver_comment": "非常好", "would_rehire": True},
    )
    assert case.status == "completed"
    with db.read() as session:
        zhou = get_person(session, nannies["周姐"])
    assert (zhou["rating"], zhou["rating_count"], zhou["available"]) == (4.5, 2, True)


def test_nanny_forms_reject_invalid_submissions_field_by_field(deployed, fresh_runtime):
    number = fresh_runtime().start_case("nanny_placement").number
    order = open_task(fresh_runtime(), number, "register_order")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            order.id,
            {
                **ORDER,
                "customer_email": "not-an-address",
                "child_age_months": -1,
                "service_days": "三十",
            },
            "alice",
        )
    assert set(failure.value.errors) == {"customer_email", "child_age_months", "service_days"}
    fresh_runtime().complete_task(order.id, ORDER, "alice")

    hired(fresh_runtime, number)
    brief = open_task(fresh_runtime(), number, "brief_nanny")
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            brief.id, {**BRIEFING, "briefing_points": "", "caregiver_briefed": False}, "alice"
        )
    assert set(failure.value.errors) == {"briefing_points", "caregiver_briefed"}


def test_no_replacement_found_ends_the_placement_early(deployed, fresh_runtime, db, clock, nannies):
    number = fresh_runtime().start_case("nanny_placement", actor="alice").number
    complete(fresh_runtime, number, "register_order", ORDER)
    hired(fresh_runtime, number)
    complete(fresh_runtime, number, "brief_nanny", BRIEFING)
    clock.set("2026-12-04T01:00:00+00:00")
    fire_due_timers(fresh_runtime())
    complete(
        fresh_runtime,
        number,
        "followup_day3",
        {
            "customer_satisfied": False,
            "contact_channel": "上門",
            "followup_notes": "與老人相處不好",
        },
    )
    # The service desk mediates first; it fails and the supervisor replaces the nanny.
    complete(
        fresh_runtime,
        number,
        "mediate",
        {
            "mediation_cause": "家庭成員意見不合",
            "mediation_solution": "三方溝通",
            "mediation_resolution": "協調不成，轉主管",
        },
    )
    complete(
        fresh_runtime,
        number,
        "supervisor_mediate",
        {
            "supervisor_cause": "家庭成員意見不合",
            "supervisor_solution": "更換育嬰師",
            "supervisor_resolution": "更換人員",
            "replaced_caregiver_rating": 3,
        },
        user="sue",
    )
    # The other two decline; nobody is left and the supervisor cancels.
    complete(fresh_runtime, number, "contact_candidate", {"candidate_response": "不同意"})
    complete(fresh_runtime, number, "contact_candidate", {"candidate_response": "聯繫不上"})
    case = complete(
        fresh_runtime, number, "no_candidate", {"no_candidate_decision": "取消訂單"}, user="sue"
    )
    # The placement ends: no more holiday greetings, no final rating; the desk settles with
    # the customer.
    assert case.timers == []
    settle = open_task(fresh_runtime(), number, "settle_early_end")
    assert settle.role == "service_desk"
    with pytest.raises(ValidationFailed) as failure:
        fresh_runtime().complete_task(
            settle.id, {"customer_informed": False, "refund_amount": -1}, "alice"
        )
    assert set(failure.value.errors) == {"customer_informed", "refund_amount", "settlement_note"}
    case = fresh_runtime().complete_task(
        settle.id,
        {"customer_informed": True, "refund_amount": 6000, "settlement_note": "退還 87 天費用"},
        "alice",
    )
    assert case.status == "completed"
    assert case.data["matching_result"] == "cancelled"
    with db.read() as session:
        zhou = get_person(session, nannies["周姐"])
    assert (zhou["rating"], zhou["rating_count"], zhou["available"]) == (3.5, 2, True)
