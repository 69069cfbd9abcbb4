"""The one calendar rule for a day or time a customer picks (engine.casework.portal_rules):
past, closed days (weekends, public holidays; make-up working days are open), office hours,
and a store's shifts for a store's service item."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from engine.casework.portal_rules import day_refusal, time_refusal
from engine.casework.resources import add_resource, add_service_item, add_shift, add_store

MONDAY = datetime.fromisoformat("2026-11-23T01:30:00+00:00")  # 09:30 in Shanghai


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def session(db):
    with db.write() as session:
        add_store(session, "淮海店", "上海市黃浦區淮海中路 100 號")
        add_service_item(session, "facial", "面部護理", 60, "facial")
        staff = add_resource(session, "staff", "美容師小林", "淮海店", ["facial"])
        add_resource(session, "staff", "髮型師阿強", "淮海店", ["hair"])
        add_shift(session, staff.id, "2026-11-25T09:00", "2026-11-25T12:00")
        yield session


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (date(2026, 11, 20), "day_past"),
        (date(2026, 11, 23), None),  # today
        (date(2026, 11, 28), "day_closed"),  # Saturday
        (date(2027, 1, 1), "day_holiday"),
    ],
)
def test_days(runtime, session, day, code):
    refused = day_refusal(session, runtime.calendar, MONDAY, day)
    assert (refused.code if refused else None) == code
    if code == "day_holiday":
        assert refused.params["holiday"] == "New Year's Day"
        assert runtime.calendar.holiday_name_in(day, "zh_TW") == "元旦"


def test_a_make_up_working_day_is_open(runtime, session):
    sunday = date(2026, 9, 20)  # worked to bridge the National Day week
    assert sunday.weekday() == 6
    assert day_refusal(session, runtime.calendar, at("2026-09-01T00:00:00+00:00"), sunday) is None


@pytest.mark.parametrize(
    ("when", "code"),
    [
        ("2026-11-23T01:00:00+00:00", "time_past"),
        ("2026-11-24T00:30:00+00:00", "time_outside_hours"),  # 08:30
        ("2026-11-24T08:59:00+00:00", None),  # 16:59 is open
        ("2026-11-24T09:00:00+00:00", "time_outside_hours"),  # 17:00 is closed
        ("2026-11-24T02:00:00+00:00", None),
    ],
)
def test_times(runtime, session, when, code):
    refused = time_refusal(session, runtime.calendar, MONDAY, at(when))
    assert (refused.code if refused else None) == code


@pytest.mark.parametrize(
    ("when", "store", "code"),
    [
        ("2026-11-25T01:00:00+00:00", "淮海店", None),  # Wednesday 09:00
        ("2026-11-25T03:00:00+00:00", "淮海店", None),  # 11:00, the facial ends at 12:00
        ("2026-11-25T03:30:00+00:00", "淮海店", "time_store_closed"),  # would end after the shift
        ("2026-11-25T01:00:00+00:00", None, None),  # any store
        ("2026-11-26T01:00:00+00:00", "淮海店", "day_store_closed"),  # nobody on Thursday
    ],
)
def test_store_shifts(runtime, session, when, store, code):
    refused = time_refusal(session, runtime.calendar, MONDAY, at(when), store, "facial")
    assert (refused.code if refused else None) == code


def test_only_a_stores_item_asks_for_shifts(runtime, session):
    # A signed service's item is named in words: the store's shifts do not apply.
    when = at("2026-11-26T02:00:00+00:00")
    assert time_refusal(session, runtime.calendar, MONDAY, when, None, "合同起草") is None
    # A staff member with another skill does not open the store for a facial.
    assert day_refusal(session, runtime.calendar, MONDAY, date(2026, 11, 26), "淮海店", "facial")
