"""The 月嫂/育嬰師 follow-up loop as seed 003 §7/§8 writes it, driven through the runtime with the
injectable clock (caregiver_service.bpmn, called by maternity_nurse_placement and nanny_placement):

- the follow-up calls: day 3 after the start; if the customer is satisfied then, again five days
  after that call; day 15 after the start. Each call is due `followup_due_hours` (24) after it
  opens; a missed one gives the supervisor a task and stays open;
- "not satisfied" at any call: the service desk mediates; when that fails, the supervisor settles
  it or replaces the caregiver through caregiver_matching;
- the contract end comes from the contract dates, ends whatever follow-up is open and frees the
  caregiver at once;
- the customer ends the contract early or extends it (messages with the new end date);
- the 滿月 photo shoot follows the actual birth date and survives a change of caregiver.

Every step uses a new Runtime; times are in UTC (Shanghai is UTC+8).
"""

from __future__ import annotations

from datetime import timedelta

from engine.worker.timers import fire_due_timers
from tests.processes import test_maternity_nurse_placement as placement
from tests.processes.helpers import complete, open_elements, open_task, outbox, utc
from tests.processes.test_maternity_nurse_placement import (
    ORDER,
    instructions,
    nurse_hired,
    order_placed,
    person,
    timers,
)

# The 月嫂 placement's fixtures: three nurses ranked by experience, and the three processes
# (maternity_nurse_placement, caregiver_matching, caregiver_service) deployed with their forms.
nurses = placement.nurses
deployed = placement.deployed

SATISFIED = {"customer_satisfied": True, "contact_channel": "電話", "followup_notes": "滿意"}


def unsatisfied(note):
    return {"customer_satisfied": False, "contact_channel": "電話", "followup_notes": note}


def at(clock, fresh_runtime, when):
    clock.set(when)
    return fire_due_timers(fresh_runtime())


def opens_exactly_at(fresh_runtime, clock, number, element_id, due_utc):
    """A minute before: not open; at the minute: open, created then."""
    due = utc(due_utc)
    at(clock, fresh_runtime, (due - timedelta(minutes=1)).isoformat())
    assert element_id not in open_elements(fresh_runtime(), number)
    at(clock, fresh_runtime, due_utc)
    task = open_task(fresh_runtime(), number, element_id)
    assert task.created_at == due
    return task


def placed(fresh_runtime, start_at="2026-12-01T09:00", service_days=26, **order):
    number = order_placed(fresh_runtime, **order)
    nurse_hired(fresh_runtime, number, start_at=start_at, service_days=service_days)
    return number


def waits(fresh_runtime, number):
    return dict(timers(fresh_runtime, number))


def test_followup_calls_on_day_3_five_days_after_a_satisfied_call_and_day_15(
    deployed, fresh_runtime, clock
):
    number = placed(fresh_runtime)  # 上戶 2026-12-01 09:00 Shanghai = 01:00 UTC

    day3 = opens_exactly_at(
        fresh_runtime, clock, number, "followup_day3", "2026-12-04T01:00:00+00:00"
    )
    assert (day3.role, day3.due_at) == ("service_desk", utc("2026-12-05T01:00:00+00:00"))
    # The call is made at 15:30 that day: the next one is five days after it, not on day 8.
    clock.set("2026-12-04T07:30:00+00:00")
    fresh_runtime().complete_task(day3.id, SATISFIED, "alice")
    assert waits(fresh_runtime, number)["day8_due"] == utc("2026-12-09T07:30:00+00:00")
    day8 = opens_exactly_at(
        fresh_runtime, clock, number, "followup_day8", "2026-12-09T07:30:00+00:00"
    )
    assert day8.due_at == utc("2026-12-10T07:30:00+00:00")

    # Missed: at its due time the supervisor gets a task; the call stays open.
    at(clock, fresh_runtime, "2026-12-10T07:29:00+00:00")
    assert "supervise_followup" not in open_elements(fresh_runtime(), number)
    at(clock, fresh_runtime, "2026-12-10T07:30:00+00:00")
    chase = open_task(fresh_runtime(), number, "supervise_followup")
    assert (chase.role, chase.created_at) == ("supervisor", utc("2026-12-10T07:30:00+00:00"))
    assert "followup_day8" in open_elements(fresh_runtime(), number)
    clock.set("2026-12-10T08:00:00+00:00")
    complete(fresh_runtime, number, "followup_day8", SATISFIED, user="carol")
    complete(
        fresh_runtime,
        number,
        "supervise_followup",
        {"confirmed": True, "comment": "已催客服回訪"},
        user="sue",
    )

    # Day 15 counts from the start again.
    day15 = opens_exactly_at(
        fresh_runtime, clock, number, "followup_day15", "2026-12-16T01:00:00+00:00"
    )
    assert day15.due_at == utc("2026-12-17T01:00:00+00:00")
    fresh_runtime().complete_task(day15.id, SATISFIED, "alice")
    assert sorted(waits(fresh_runtime, number)) == [
        "contract_end_due",
        "holiday_due",
        "photo_notice_due",
    ]


def test_not_satisfied_at_any_call_goes_to_the_service_desk_then_the_supervisor_then_a_replacement(
    deployed, fresh_runtime, clock, db, nurses
):
    number = placed(fresh_runtime)
    at(clock, fresh_runtime, "2026-12-04T01:00:00+00:00")
    complete(fresh_runtime, number, "followup_day3", SATISFIED)

    # Day 8 (five days after the call at 01:00): not satisfied → the service desk mediates.
    at(clock, fresh_runtime, "2026-12-09T01:00:00+00:00")
    complete(fresh_runtime, number, "followup_day8", unsatisfied("夜裡睡得太沉"))
    mediate = open_task(fresh_runtime(), number, "mediate")
    assert mediate.role == "service_desk"
    fresh_runtime().complete_task(
        mediate.id,
        {
            "mediation_cause": "夜間照看",
            "mediation_solution": "調整作息",
            "mediation_resolution": "協調解決",
        },
        "alice",
    )
    # Settled by the desk: day 15 follows.
    assert waits(fresh_runtime, number)["day15_due"] == utc("2026-12-16T01:00:00+00:00")

    # Day 15: not satisfied again; the desk cannot settle it, the supervisor replaces her.
    at(clock, fresh_runtime, "2026-12-16T01:00:00+00:00")
    complete(fresh_runtime, number, "followup_day15", unsatisfied("仍然不滿意"))
    complete(
        fresh_runtime,
        number,
        "mediate",
        {
            "mediation_cause": "夜間照看",
            "mediation_solution": "再次溝通",
            "mediation_resolution": "協調不成，轉主管",
        },
    )
    supervisor = open_task(fresh_runtime(), number, "supervisor_mediate")
    assert supervisor.role == "supervisor"
    assert "仍然不滿意" in instructions(fresh_runtime, number, "supervisor_mediate")
    fresh_runtime().complete_task(
        supervisor.id,
        {
            "supervisor_cause": "夜間照看不到位",
            "supervisor_solution": "更換月嫂",
            "supervisor_resolution": "更換人員",
            "replaced_caregiver_rating": 2,
        },
        "sue",
    )
    chen = person(db, nurses["陳阿姨"])
    assert (chen["rating"], chen["available"]) == (2.0, True)
    # The matching process offers the next nurse; her contract brings the new dates.
    assert "月嫂 李阿姨" in instructions(fresh_runtime, number, "contact_candidate")
    case = nurse_hired(
        fresh_runtime,
        number,
        start_at="2026-12-18T09:00",
        service_days=9,
        contract_no="MN-2026-002",
    )
    assert case.data["caregiver"]["name"] == "李阿姨"
    assert person(db, nurses["李阿姨"])["available"] is False
    assert waits(fresh_runtime, number)["day3_due"] == utc("2026-12-21T01:00:00+00:00")
    assert waits(fresh_runtime, number)["contract_end_due"] == utc("2026-12-27T01:00:00+00:00")


def test_mediation_settled_at_day_15_ends_the_follow_ups(deployed, fresh_runtime, clock):
    number = placed(fresh_runtime)
    for when, element in (
        ("2026-12-04T01:00:00+00:00", "followup_day3"),
        ("2026-12-09T01:00:00+00:00", "followup_day8"),
    ):
        at(clock, fresh_runtime, when)
        complete(fresh_runtime, number, element, SATISFIED)
    at(clock, fresh_runtime, "2026-12-16T01:00:00+00:00")
    complete(fresh_runtime, number, "followup_day15", unsatisfied("有點粗心"))
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
    complete(
        fresh_runtime,
        number,
        "supervisor_mediate",
        {
            "supervisor_cause": "x",
            "supervisor_solution": "提醒月嫂",
            "supervisor_resolution": "協調解決",
        },
        user="sue",
    )
    assert open_elements(fresh_runtime(), number) == []
    assert sorted(waits(fresh_runtime, number)) == [
        "contract_end_due",
        "holiday_due",
        "photo_notice_due",
    ]


def test_contract_end_is_timed_from_the_contract_dates_never_held_up_by_a_follow_up(
    deployed, fresh_runtime, clock, db, nurses
):
    number = placed(fresh_runtime, service_days=10)  # ends 2026-12-11 09:00 Shanghai
    assert waits(fresh_runtime, number)["contract_end_due"] == utc("2026-12-11T01:00:00+00:00")
    # The day-3 call is never made; it is missed and chased, and still open at the end.
    at(clock, fresh_runtime, "2026-12-05T01:00:00+00:00")
    assert open_elements(fresh_runtime(), number) == ["followup_day3", "supervise_followup"]

    at(clock, fresh_runtime, "2026-12-11T00:59:00+00:00")
    assert person(db, nurses["陳阿姨"])["available"] is False
    at(clock, fresh_runtime, "2026-12-11T01:00:00+00:00")
    case = fresh_runtime().get_case(number)
    # The open follow-up and its chase are cancelled, the nurse is free at once, the greetings
    # and the photo wait stop, and the final follow-up opens.
    assert [t.element_id for t in case.open_tasks] == ["final_followup"]
    assert case.timers == []
    assert person(db, nurses["陳阿姨"])["available"] is True
    assert case.data["service_ended_at"] == "2026-12-11T01:00:00+00:00"
    case = complete(
        fresh_runtime,
        number,
        "final_followup",
        {"caregiver_rating": 3, "caregiver_comment": "一般", "would_rehire": False},
    )
    assert (case.status, case.outcome) == ("completed", "served")


def test_customer_extension_and_early_end_set_a_new_contract_end(
    deployed, fresh_runtime, clock, db, nurses
):
    number = placed(fresh_runtime)  # ends 2026-12-27 01:00 UTC
    clock.set("2026-12-02T02:00:00+00:00")
    fresh_runtime().send_message(
        number, "contract_extension", {"new_end_date": "2027-01-10", "reason": "想多請兩週"}
    )
    assert waits(fresh_runtime, number)["contract_end_due"] == utc("2027-01-10T01:00:00+00:00")
    sms = outbox(db)[-1]
    assert sms.recipient == "+86 139 0000 0001" and "2027-01-10 09:00" in sms.body

    # An "extension" to an earlier day is refused and recorded; nothing moves.
    case = fresh_runtime().send_message(
        number, "contract_extension", {"new_end_date": "2026-12-20"}
    )
    assert case.data["contract_changes"][-1]["refused"] == "新結束日期不晚於原結束日期"
    assert waits(fresh_runtime, number)["contract_end_due"] == utc("2027-01-10T01:00:00+00:00")

    # The customer then ends earlier than planned: first a later day, then today.
    fresh_runtime().send_message(number, "contract_early_end", {"new_end_date": "2026-12-20"})
    assert waits(fresh_runtime, number)["contract_end_due"] == utc("2026-12-20T01:00:00+00:00")
    clock.set("2026-12-05T02:00:00+00:00")
    fire_due_timers(fresh_runtime())  # day 3 opens on 12-04
    case = fresh_runtime().send_message(
        number, "contract_early_end", {"new_end_date": "2026-12-05", "reason": "家中老人來照顧"}
    )
    assert [t.element_id for t in case.open_tasks] == ["final_followup"]
    assert case.timers == []
    assert person(db, nurses["陳阿姨"])["available"] is True
    assert [
        (c["kind"], c.get("end_at"), c.get("refused")) for c in case.data["contract_changes"]
    ] == [
        ("延長", "2027-01-10T01:00:00+00:00", None),
        ("延長", None, "新結束日期不晚於原結束日期"),
        ("提前結束", "2026-12-20T01:00:00+00:00", None),
        ("提前結束", "2026-12-05T02:00:00+00:00", None),
    ]


def test_full_month_photo_follows_the_actual_birth_date_and_survives_a_caregiver_change(
    deployed, fresh_runtime, clock, db
):
    # Ordered with the due date only (2026-12-18): 滿月 2027-01-17, studio notice 01-12 10:00.
    number = placed(fresh_runtime, service_days=45)  # to 2027-01-15 09:00 Shanghai
    assert waits(fresh_runtime, number)["photo_notice_due"] == utc("2027-01-12T02:00:00+00:00")
    # Born three days early: the notice moves to 2027-01-09 10:00.
    clock.set("2026-12-02T02:00:00+00:00")
    case = fresh_runtime().send_message(number, "baby_born", {"baby_birth_date": "2026-12-15"})
    assert case.data["baby_birth_date"] == "2026-12-15"
    assert waits(fresh_runtime, number)["photo_notice_due"] == utc("2027-01-09T02:00:00+00:00")

    # The nurse is replaced at day 3.
    at(clock, fresh_runtime, "2026-12-04T01:00:00+00:00")
    complete(fresh_runtime, number, "followup_day3", unsatisfied("不合"))
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
    complete(
        fresh_runtime,
        number,
        "supervisor_mediate",
        {
            "supervisor_cause": "x",
            "supervisor_solution": "更換",
            "supervisor_resolution": "更換人員",
            "replaced_caregiver_rating": 3,
        },
        user="sue",
    )
    nurse_hired(
        fresh_runtime,
        number,
        start_at="2026-12-06T09:00",
        service_days=40,
        contract_no="MN-2026-003",
    )
    assert waits(fresh_runtime, number)["photo_notice_due"] == utc("2027-01-09T02:00:00+00:00")

    opens_exactly_at(
        fresh_runtime, clock, number, "arrange_photo_shoot", "2027-01-09T02:00:00+00:00"
    )
    text = instructions(fresh_runtime, number, "arrange_photo_shoot")
    assert "於 2026-12-15 出生" in text and "2027-01-14" in text
    complete(
        fresh_runtime,
        number,
        "arrange_photo_shoot",
        {
            "shoot_at": "2027-01-13T10:00",
            "shoot_address": ORDER["address"],
            "customer_agreed": True,
        },
        user="carol",
    )
    studio = [r for r in outbox(db) if r.recipient == "booking@wangzheng-studio.example"]
    assert len(studio) == 1 and "2027-01-13 10:00" in studio[0].body
