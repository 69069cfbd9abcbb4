"""Races on store slots: three cases ask for the same slot of the only staff member and room
at the same moment. Exactly one gets it; the others are told "taken" with alternatives (their
steps go on: the customer is offered another time), and no slot is ever held twice.

On PostgreSQL the three steps really run side by side and the loser's insert meets the
UNIQUE (resource, slot) constraint; on SQLite write steps queue and the loser sees the booking.
The process loops back to "pick a time" when the slot was taken, so a loser races again in the
next round; a new case replaces each winner."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engine.casework.resources import SlotBooking, add_resource, add_service_item, add_shift
from engine.identity.users import add_user
from engine.store.tables import Case, Event
from tests.hardening.helpers import HARDENING_FIXTURES, RACE_TOTALS

ROUNDS = 150
USERS = ("u0", "u1", "u2")


def slots(runtime, count: int) -> tuple[list[datetime], list[tuple[datetime, datetime]]]:
    """`count` half-hour starts on working days from tomorrow, and the shifts covering them."""
    cal = runtime.calendar
    day = cal.local(runtime.clock.now()).date() + timedelta(days=1)
    starts: list[datetime] = []
    shifts = []
    while len(starts) < count:
        if cal.is_working_day(day):
            opens = datetime.combine(day, cal.office_start, cal.zone).astimezone(UTC)
            closes = datetime.combine(day, cal.office_end, cal.zone).astimezone(UTC)
            shifts.append((opens, closes))
            t = opens
            while t + timedelta(minutes=30) <= closes and len(starts) < count:
                starts.append(t)
                t += timedelta(minutes=30)
        day += timedelta(days=1)
    return starts, shifts


def test_booking_races(runtime, db, settings, clock, racer, figure):
    for user in USERS:
        add_user(db, settings, user, ["service_desk"], clock.now())
    starts, shifts = slots(runtime, ROUNDS)
    with db.write() as session:
        add_service_item(session, "trim", "修剪", 30, "trim")
        staff = add_resource(session, "staff", "阿芳", "一號店", ["trim"])
        add_resource(session, "room", "一號房", "一號店", [])
        for opens, closes in shifts:
            add_shift(session, staff.id, opens, closes)
        session.commit()
    runtime.deploy(
        [HARDENING_FIXTURES / "race_booking.bpmn", HARDENING_FIXTURES / "race_pick.json"]
    )

    def new_case() -> str:
        return runtime.start_case(
            "race_booking", {"service_item": "trim", "attempts": 0}, prevalidated=True
        ).number

    contenders = [new_case() for _ in range(3)]
    winners: dict[str, datetime] = {}
    refusals: Counter[str] = Counter()
    created = 3
    started = time.perf_counter()
    for i, start in enumerate(starts):
        tasks = [runtime.list_tasks(case=n, status="open")[0] for n in contenders]
        when = start.isoformat()
        assert [t.element_id for t in tasks] == ["pick"] * 3
        outcomes = racer.race(
            [
                lambda t=t, u=u, when=when: runtime.complete_task(
                    t.id, {"confirmed": True, "start": when}, u
                )
                for t, u in zip(tasks, USERS, strict=True)
            ]
        )
        assert [kind for kind, _ in outcomes] == ["ok"] * 3, outcomes  # different cases
        results = [case.data["result"] for _, case in outcomes]
        got = [n for n, r in zip(contenders, results, strict=True) if r["ok"]]
        assert len(got) == 1, (i, results)
        for result in results:
            if not result["ok"]:
                assert result["reason"] == "taken", result
                assert start.isoformat() not in result["alternatives"]
                refusals[result["reason"]] += 1
        winners[got[0]] = start
        contenders = [n for n in contenders if n != got[0]] + [new_case()]
        created += 1
    race_s = time.perf_counter() - started

    with db.read() as session:
        held = session.execute(
            select(
                SlotBooking.slot_start, func.count(), func.count(func.distinct(SlotBooking.case_id))
            ).group_by(SlotBooking.slot_start)
        ).all()
        booked_cases = dict(
            session.execute(
                select(Case.number, Case.appointment_at).where(Case.appointment_at.is_not(None))
            ).all()
        )
        booked_events = Counter(
            session.scalars(select(Event.case_id).where(Event.kind == "slot_booked")).all()
        )
    # Each slot: the staff member and the room, held by one case; every slot went once.
    assert len(held) == ROUNDS and all(rows == 2 and cases == 1 for _, rows, cases in held)
    assert booked_cases == winners
    assert sorted(booked_events.values()) == [1] * ROUNDS
    for number in list(winners)[:: max(1, ROUNDS // 20)]:
        case = runtime.get_case(number)
        assert [t.element_id for t in case.open_tasks] == ["confirm"]
        assert case.data["result"]["start"] == winners[number].isoformat()

    conflicts = sum(refusals.values())
    RACE_TOTALS.update(rounds=ROUNDS, single=ROUNDS, conflicts=conflicts, booking=ROUNDS)
    figure(
        f"races/bookings: {ROUNDS} rounds, 3 cases a round on one staff member and one room: "
        f"{ROUNDS} single winners, {conflicts} told 'taken' with alternatives, 0 slots held "
        f"twice; {race_s / ROUNDS * 1000:.0f} ms a round, {created} cases"
    )
