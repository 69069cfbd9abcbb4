"""簽約服務預約 §1.2, §1.6, §1.7: the booking window and the lead in working days.

A request must be for office hours (Mon–Fri 09:00–17:00, public holidays closed) and at least
N working days ahead, N being the process parameter `advance_working_days` (default 1) of the
deployed version. The rule counts as the process's own check does: the working days after
today's company-local date up to the appointment's date (today never counts). The booking page
refuses a time that breaks it before any case exists, naming the earliest time the customer
may book; a request marked urgent passes a shorter lead and the case is flagged. Staff keying
in a request are not refused: the process flags it and the review decides.

Times are Shanghai time (UTC+8); every instant is asserted to the minute.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.casework import portal
from engine.core.errors import ValidationFailed
from engine.definitions.sources import SourceFile
from engine.store.tables import Case, Outbox
from tests.processes.test_signed_service_booking import (  # noqa: F401 - fixtures
    FILES,
    KEY,
    PHONE,
    REQUEST,
    booking,
    confirmed_booking,
    open_task,
    shown,
)

FRI_1630 = "2026-11-27T08:30:00+00:00"  # Friday 27 November 2026, 16:30
TOO_SHORT = "未按規定提前 1 個工作日預約"
# The deployed process, its staff and three lawyers (the fixture of the process's main tests).
pytestmark = pytest.mark.usefixtures("booking")


def count(db, table=Case) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(table))


def book(rt, when: str, **extra):
    return portal.book(rt, KEY, {**REQUEST, "appointment_at": when, **extra})


def refusal(rt, db, when: str, **extra):
    """The booking page's refusal of `when` (its code and the earliest time it names); no
    case and no message come of it."""
    cases, messages = count(db), count(db, Outbox)
    with pytest.raises(ValidationFailed) as failure:
        book(rt, when, **extra)
    assert list(failure.value.errors) == ["appointment_at"]
    assert (count(db), count(db, Outbox)) == (cases, messages)
    refused = failure.value.errors["appointment_at"][0]
    return refused.code, refused.params.get("earliest")


def deploy_with_lead(runtime, days: int) -> None:
    """The process owner changes N in the diagram's parameters and deploys a new version."""
    text = FILES[0].read_text(encoding="utf-8")
    old = '<spiffworkflow:property name="default:advance_working_days" value="1"/>'
    assert old in text
    changed = text.replace(old, old.replace('value="1"', f'value="{days}"'))
    runtime.deploy([SourceFile(FILES[0].name, changed.encode()), *FILES[1:]], actor="owner")


def test_friday_1630_for_monday_1000_is_one_working_day_ahead_and_booked(fresh_runtime, clock, db):
    # By hand: the working days after Friday 27 November up to Monday 30 November are
    # Saturday (no), Sunday (no), Monday (yes) = 1, which is at least N = 1: allowed.
    clock.set(FRI_1630)
    number = book(fresh_runtime(), "2026-11-30T10:00")
    case = fresh_runtime().get_case(number)
    assert case.data["appointment_at"] == "2026-11-30T02:00:00+00:00"
    assert (case.data["problems"], case.data["short_notice"]) == ([], False)
    assert case.data["advance_working_days"] == 1
    # The earliest time it allows is Monday's opening; Friday itself is 0 working days ahead.
    page = portal.page(fresh_runtime(), KEY)
    earliest = portal.earliest_booking(fresh_runtime(), page)
    assert (earliest[0], earliest[1].isoformat()) == ("appointment_at", "2026-11-30T01:00:00+00:00")
    assert (
        portal.check_booking_time(fresh_runtime(), page, "appointment_at", "2026-11-30T09:00")
        is None
    )
    assert refusal(fresh_runtime(), db, "2026-11-27T16:45") == (
        "time_too_soon",
        "2026-11-30T01:00:00+00:00",
    )
    assert count(db) == 1


MON_0900 = "2026-11-30T01:00:00+00:00"


@pytest.mark.parametrize(
    ("wanted", "code", "nearest", "nearest_if_urgent"),
    [
        ("2026-11-27T17:30", "time_outside_hours", MON_0900, MON_0900),  # Friday 17:30
        ("2026-11-28T10:00", "day_closed", MON_0900, MON_0900),  # Saturday
        ("2026-11-30T08:30", "time_outside_hours", MON_0900, MON_0900),  # Monday 08:30
        # Passed: an urgent request could still have the next office minute, Friday 16:31.
        ("2026-11-27T16:00", "time_past", MON_0900, "2026-11-27T08:31:00+00:00"),
        # A Saturday two weeks on: the nearest time is the Monday after it, not this one.
        (
            "2026-12-12T10:00",
            "day_closed",
            "2026-12-14T01:00:00+00:00",
            "2026-12-14T01:00:00+00:00",
        ),
    ],
)
def test_outside_the_window_is_refused_naming_the_nearest_time(
    fresh_runtime, clock, db, wanted, code, nearest, nearest_if_urgent
):
    clock.set(FRI_1630)
    assert refusal(fresh_runtime(), db, wanted) == (code, nearest)
    # Urgent does not open a closed day or hour.
    assert refusal(fresh_runtime(), db, wanted, urgent=True) == (code, nearest_if_urgent)
    assert count(db) == 0


def test_the_day_before_national_day(fresh_runtime, clock, db):
    # Wednesday 30 September 2026, 16:30. 1–7 October are public holidays (and the 4th a
    # Sunday), so the first working day after today is Thursday 8 October: with N = 1 that is
    # the earliest, at 09:00. Saturday 10 October is a make-up working day (调休): open.
    clock.set("2026-09-30T08:30:00+00:00")
    rt = fresh_runtime()
    assert refusal(rt, db, "2026-09-30T16:45") == ("time_too_soon", "2026-10-08T01:00:00+00:00")
    assert refusal(rt, db, "2026-10-02T10:00") == ("day_holiday", "2026-10-08T01:00:00+00:00")
    assert refusal(rt, db, "2026-10-07T10:00") == ("day_holiday", "2026-10-08T01:00:00+00:00")
    page = portal.page(rt, KEY)
    assert portal.check_booking_time(rt, page, "appointment_at", "2026-10-10T10:00") is None
    number = book(rt, "2026-10-08T09:00")
    assert fresh_runtime().get_case(number).data["problems"] == []
    assert count(db) == 1


def test_the_day_before_new_year(fresh_runtime, clock, db):
    # Thursday 31 December 2026, 10:00; Friday 1 January is New Year's Day, then a weekend:
    # Monday 4 January 2027 09:00 is the earliest.
    clock.set("2026-12-31T02:00:00+00:00")
    assert refusal(fresh_runtime(), db, "2027-01-01T10:00") == (
        "day_holiday",
        "2027-01-04T01:00:00+00:00",
    )
    assert refusal(fresh_runtime(), db, "2026-12-31T15:00") == (
        "time_too_soon",
        "2027-01-04T01:00:00+00:00",
    )
    assert book(fresh_runtime(), "2027-01-04T09:00")


def test_an_urgent_request_passes_a_shorter_lead_and_the_case_is_flagged(fresh_runtime, clock, db):
    clock.set(FRI_1630)
    assert refusal(fresh_runtime(), db, "2026-11-27T16:45") == (
        "time_too_soon",
        "2026-11-30T01:00:00+00:00",
    )
    number = book(fresh_runtime(), "2026-11-27T16:45", urgent=True)
    case = fresh_runtime().get_case(number)
    assert (case.data["urgent_flag"], case.data["short_notice"], case.data["problems"]) == (
        True,
        True,
        [],
    )
    # Too close for the review a working day ahead: the supervisor has it at once, marked.
    task = open_task(fresh_runtime(), number, "review_escalated")
    assert "【緊急申請】" in shown(fresh_runtime(), number, task)
    # The earliest an urgent request may have is the next office minute.
    page = portal.page(fresh_runtime(), KEY)
    earliest = portal.earliest_booking(fresh_runtime(), page, urgent=True)
    assert earliest[1].isoformat() == "2026-11-27T08:31:00+00:00"


def test_the_lead_is_the_deployed_versions_parameter(fresh_runtime, clock, db):
    deploy_with_lead(fresh_runtime(), 2)
    clock.set(FRI_1630)
    # N = 2: Monday is 1 working day ahead, Tuesday 1 December the second: 09:00 then.
    assert refusal(fresh_runtime(), db, "2026-11-30T10:00") == (
        "time_too_soon",
        "2026-12-01T01:00:00+00:00",
    )
    number = book(fresh_runtime(), "2026-12-01T09:00")
    case = fresh_runtime().get_case(number)
    assert (case.data["advance_working_days"], case.data["problems"]) == (2, [])
    # And back to 0: a time later today is enough.
    deploy_with_lead(fresh_runtime(), 0)
    assert book(fresh_runtime(), "2026-11-27T16:45")
    assert count(db) == 2


@pytest.mark.parametrize(
    ("wanted", "too_short"),
    [
        ("2026-11-27T16:45", True),  # Friday, 0 working days ahead
        ("2026-11-30T09:00", False),  # Monday, 1
        ("2026-12-01T16:59", False),  # Tuesday, 2
    ],
)
def test_the_page_refuses_what_the_process_flags_and_staff_may_key_it_in(
    fresh_runtime, clock, db, wanted, too_short
):
    clock.set(FRI_1630)
    refused = None
    try:
        book(fresh_runtime(), wanted)
    except ValidationFailed as exc:
        refused = exc.errors["appointment_at"][0].code
    assert refused == ("time_too_soon" if too_short else None)
    # A request keyed in by the service desk (a phone call) starts either way; the process's
    # own check flags a short one for the review, by the same count.
    staff = fresh_runtime().start_case(
        KEY, {**REQUEST, "appointment_at": wanted}, actor="alice", check_roles=True
    )
    assert (TOO_SHORT in staff.data["problems"]) is too_short


# ----- change and cancel: the same working-day count ---------------------------------------


def test_a_change_at_midnight_before_the_appointment_day_is_late_on_the_page_and_in_the_case(
    fresh_runtime, clock, db
):
    # Confirmed for Thursday 26 November 10:00; change_advance_working_days = 1. Wednesday
    # 23:59 is 1 working day before (Thursday counts): free. Thursday 00:00 is 0: the late fee.
    number = confirmed_booking(fresh_runtime, clock)
    clock.set("2026-11-25T15:59:00+00:00")  # Wednesday 23:59
    before = portal.status(fresh_runtime(), number, PHONE)
    assert (before.change.allowed, before.change.notice) == (True, None)
    clock.set("2026-11-25T16:00:00+00:00")  # Thursday 00:00
    after = portal.status(fresh_runtime(), number, PHONE)
    assert after.change.notice.code == "change_fee_days"
    assert (after.change.notice.params["fee"], after.change.notice.params["late"]) == (100, True)
    portal.request_change(
        fresh_runtime(),
        number,
        PHONE,
        "change",
        {"new_start": "2026-12-01T10:00", "reason": "出差"},
    )
    case = fresh_runtime().get_case(number)
    assert (case.data["change_days_ahead"], case.data["change_late"]) == (0, True)
    assert case.data["pending_change_fee"] == 100


@pytest.mark.parametrize(
    ("now", "late"),
    [("2026-11-25T15:59:00+00:00", False), ("2026-11-25T16:00:00+00:00", True)],
)
def test_a_cancellation_is_late_by_the_same_count_on_the_page_and_in_the_case(
    fresh_runtime, clock, db, now, late
):
    number = confirmed_booking(fresh_runtime, clock)
    clock.set(now)  # Wednesday 23:59 (1 working day before Thursday), Thursday 00:00 (0)
    shown_notice = portal.status(fresh_runtime(), number, PHONE).cancel.notice
    assert (shown_notice is not None and shown_notice.code == "cancel_fee_days") is late
    portal.request_change(fresh_runtime(), number, PHONE, "cancel", {"reason": "不去了"})
    case = fresh_runtime().get_case(number)
    assert (case.data["cancel_late"], case.data["cancel_fee_flag"]) == (late, late)
