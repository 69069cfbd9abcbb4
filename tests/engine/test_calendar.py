"""Business calendar: working days, office hours, CN holidays and make-up days, time zones,
and the helpers BPMN scripts call. Dates are real 2026 dates (the `holidays` package carries
the State Council's 2026 schedule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.core.calendar import BusinessCalendar
from engine.core.clock import FixedClock
from engine.core.instants import parse_when
from engine.core.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Shanghai wall-clock time, as the UTC instant the calendar stores."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)


def ny(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.fixture
def cn() -> BusinessCalendar:
    return BusinessCalendar("Asia/Shanghai", "CN")


@pytest.fixture
def us() -> BusinessCalendar:
    return BusinessCalendar("America/New_York", "US")


# ---- configuration -------------------------------------------------------------------------


def test_from_settings_uses_company_settings() -> None:
    settings = Settings(
        path=Path("settings.toml"),
        timezone="Asia/Hong_Kong",
        holidays_country="HK",
        working_days=(0, 1, 2, 3, 4, 5),
        office_start=time(8, 30),
        office_end=time(18),
    )
    cal = BusinessCalendar.from_settings(settings)
    assert cal.timezone == "Asia/Hong_Kong"
    assert cal.holidays_country == "HK"
    assert cal.working_days == (0, 1, 2, 3, 4, 5)
    assert (cal.office_start, cal.office_end) == (time(8, 30), time(18))


def test_default_settings_give_china_calendar() -> None:
    cal = BusinessCalendar.from_settings(Settings(path=Path("settings.toml")))
    assert (cal.timezone, cal.holidays_country, cal.working_days) == (
        "Asia/Shanghai",
        "CN",
        (0, 1, 2, 3, 4),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Asia/Beijing"}, "unknown time zone"),
        ({"holidays_country": "XX"}, "XX"),
        ({"holidays_subdiv": "ZZ"}, "ZZ"),
        ({"working_days": ()}, "working_days"),
        ({"working_days": (0, 7)}, "working_days"),
        ({"office_start": time(17), "office_end": time(9)}, "office_start"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict, message: str) -> None:
    args = {"timezone": "Asia/Shanghai", "holidays_country": "CN", **kwargs}
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**args)


# ---- working days --------------------------------------------------------------------------


def test_package_carries_cn_2026_schedule() -> None:
    """A canary: if the package changes its 2026 data, the tests below need a look."""
    table = holidays.country_holidays("CN", years=2026)
    assert date(2026, 10, 1) in table
    assert date(2026, 2, 17) in table  # Spring Festival
    assert sorted(d for d in table.weekend_workdays if d.year == 2026) == [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]


def test_weekends_are_not_working_days(cn: BusinessCalendar) -> None:
    assert cn.is_working_day(date(2026, 11, 20))  # Friday
    assert not cn.is_working_day(date(2026, 11, 21))  # Saturday
    assert not cn.is_working_day(date(2026, 11, 22))  # Sunday
    assert cn.is_working_day(date(2026, 11, 23))  # Monday


def test_cn_public_holidays_2026(cn: BusinessCalendar) -> None:
    # National Day week: 1-7 October, back to work on Thursday 8 October.
    for day in range(1, 8):
        assert not cn.is_working_day(date(2026, 10, day)), day
    assert cn.is_working_day(date(2026, 10, 8))
    assert cn.holiday_name(date(2026, 10, 1)) is not None
    assert cn.holiday_name(date(2026, 10, 8)) is None
    # Spring Festival: 15-23 February.
    for day in range(15, 24):
        assert not cn.is_working_day(date(2026, 2, day)), day
    assert cn.is_working_day(date(2026, 2, 24))
    # Labour Day 1-5 May, Dragon Boat 19 June, Mid-Autumn 25 September.
    assert not cn.is_working_day(date(2026, 5, 5))
    assert not cn.is_working_day(date(2026, 6, 19))
    assert not cn.is_working_day(date(2026, 9, 25))


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 4),  # Sunday, for New Year
        date(2026, 2, 14),  # Saturday, for Spring Festival
        date(2026, 2, 28),  # Saturday, for Spring Festival
        date(2026, 5, 9),  # Saturday, for Labour Day
        date(2026, 9, 20),  # Sunday, for National Day
        date(2026, 10, 10),  # Saturday, for National Day
    ],
)
def test_cn_makeup_weekend_days_are_working_days(cn: BusinessCalendar, day: date) -> None:
    assert day.weekday() >= 5
    assert cn.is_makeup_working_day(day)
    assert cn.is_working_day(day)


def test_ordinary_weekend_next_to_makeup_day_stays_off(cn: BusinessCalendar) -> None:
    assert not cn.is_working_day(date(2026, 10, 11))  # Sunday after make-up Saturday
    assert not cn.is_working_day(date(2026, 9, 19))  # Saturday before make-up Sunday


def test_is_working_day_reads_an_instant_in_company_zone(cn: BusinessCalendar) -> None:
    # 2026-09-30T16:30Z is already 1 October 00:30 in Shanghai: National Day.
    assert not cn.is_working_day(datetime(2026, 9, 30, 16, 30, tzinfo=UTC))
    assert cn.is_working_day(datetime(2026, 9, 30, 15, 59, tzinfo=UTC))


def test_six_day_week(cn: BusinessCalendar) -> None:
    cal = BusinessCalendar("Asia/Shanghai", "CN", working_days=(0, 1, 2, 3, 4, 5))
    assert cal.is_working_day(date(2026, 11, 21))  # Saturday
    assert not cal.is_working_day(date(2026, 10, 3))  # Saturday in National Day week


def test_holidays_are_loaded_once_per_year(
    cn: BusinessCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = holidays.country_holidays

    def counting(*args, **kwargs):
        calls.append(kwargs.get("years"))
        return real(*args, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", counting)
    for offset in range(365):
        cn.is_working_day(date(2026, 1, 1) + timedelta(days=offset))
    assert sorted(calls) == [2026, 2027]  # 2027 for make-up days it may declare in 2026


# ---- office hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hh", "mm", "open_"),
    [(8, 59, False), (9, 0, True), (16, 59, True), (17, 0, False)],
)
def test_office_hours_boundaries(cn: BusinessCalendar, hh: int, mm: int, open_: bool) -> None:
    assert cn.is_office_time(sh(2026, 11, 23, hh, mm)) is open_


def test_no_office_time_on_weekend_or_holiday(cn: BusinessCalendar) -> None:
    assert not cn.is_office_time(sh(2026, 11, 21, 10))  # Saturday
    assert not cn.is_office_time(sh(2026, 10, 1, 10))  # National Day
    assert cn.is_office_time(sh(2026, 10, 10, 10))  # make-up Saturday


def test_next_office_time(cn: BusinessCalendar) -> None:
    inside = sh(2026, 11, 23, 10, 15)
    assert cn.next_office_time(inside) == inside
    assert cn.next_office_time(sh(2026, 11, 23, 7)) == sh(2026, 11, 23, 9)
    assert cn.next_office_time(sh(2026, 11, 23, 17)) == sh(2026, 11, 24, 9)
    assert cn.next_office_time(sh(2026, 11, 20, 18)) == sh(2026, 11, 23, 9)  # Fri -> Mon
    assert cn.next_office_time(sh(2026, 9, 30, 18)) == sh(2026, 10, 8, 9)  # over the holiday
    assert cn.next_office_time(sh(2026, 10, 9, 18)) == sh(2026, 10, 10, 9)  # make-up Saturday
    assert cn.next_office_time(inside).tzinfo == UTC


# ---- add_working_days ----------------------------------------------------------------------


def test_add_working_days_across_weekend(cn: BusinessCalendar) -> None:
    assert cn.add_working_days(sh(2026, 11, 20, 10), 2) == sh(2026, 11, 24, 10)  # Fri -> Tue
    assert cn.add_working_days(sh(2026, 11, 20, 10), 1) == sh(2026, 11, 23, 10)


def test_add_working_days_counts_from_next_opening(cn: BusinessCalendar) -> None:
    # Saturday evening: counting starts Monday 09:00, so one working day is Tuesday 09:00.
    assert cn.add_working_days(sh(2026, 11, 21, 20), 1) == sh(2026, 11, 24, 9)
    # Weekday after hours: counting starts next morning.
    assert cn.add_working_days(sh(2026, 11, 23, 18), 1) == sh(2026, 11, 25, 9)


def test_add_zero_working_days_is_next_office_time(cn: BusinessCalendar) -> None:
    assert cn.add_working_days(sh(2026, 11, 21, 20), 0) == sh(2026, 11, 23, 9)
    assert cn.add_working_days(sh(2026, 11, 23, 11), 0) == sh(2026, 11, 23, 11)


def test_add_working_days_across_national_day_week(cn: BusinessCalendar) -> None:
    start = sh(2026, 9, 30, 10)  # Wednesday before the holiday
    assert cn.add_working_days(start, 1) == sh(2026, 10, 8, 10)
    assert cn.add_working_days(start, 2) == sh(2026, 10, 9, 10)
    assert cn.add_working_days(start, 3) == sh(2026, 10, 10, 10)  # make-up Saturday
    assert cn.add_working_days(start, 4) == sh(2026, 10, 12, 10)


def test_add_working_days_across_spring_festival(cn: BusinessCalendar) -> None:
    start = sh(2026, 2, 13, 14)  # Friday
    assert cn.add_working_days(start, 1) == sh(2026, 2, 14, 14)  # make-up Saturday
    assert cn.add_working_days(start, 2) == sh(2026, 2, 24, 14)


def test_add_working_days_over_makeup_sunday(cn: BusinessCalendar) -> None:
    assert cn.add_working_days(sh(2026, 9, 18, 10), 1) == sh(2026, 9, 20, 10)


def test_negative_working_days_move_back_keeping_time(cn: BusinessCalendar) -> None:
    assert cn.add_working_days(sh(2026, 11, 23, 10), -1) == sh(2026, 11, 20, 10)  # Mon -> Fri
    assert cn.add_working_days(sh(2026, 10, 8, 10), -1) == sh(2026, 9, 30, 10)  # over holiday
    assert cn.add_working_days(sh(2026, 10, 12, 10), -2) == sh(2026, 10, 9, 10)  # via make-up
    # An appointment on a Saturday: one working day before is Friday.
    assert cn.add_working_days(sh(2026, 11, 21, 10), -1) == sh(2026, 11, 20, 10)
    # After hours: counts back from the appointment itself, not from the next opening.
    assert cn.add_working_days(sh(2026, 11, 25, 18), -1) == sh(2026, 11, 24, 18)


def test_add_working_days_rejects_absurd_n(cn: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="out of range"):
        cn.add_working_days(sh(2026, 11, 23, 10), 10**7)
    with pytest.raises(ValueError, match="whole number"):
        cn.add_working_days(sh(2026, 11, 23, 10), 1.5)


# ---- working_days_between ------------------------------------------------------------------


def test_working_days_between(cn: BusinessCalendar) -> None:
    assert cn.working_days_between(sh(2026, 11, 20, 15), sh(2026, 11, 23, 10)) == 1  # Fri-Mon
    assert cn.working_days_between(sh(2026, 11, 23, 9), sh(2026, 11, 23, 16)) == 0
    assert cn.working_days_between(sh(2026, 11, 23, 9), sh(2026, 11, 27, 9)) == 4
    assert cn.working_days_between(sh(2026, 9, 30, 10), sh(2026, 10, 8, 10)) == 1
    assert cn.working_days_between(sh(2026, 9, 30, 10), sh(2026, 10, 12, 10)) == 4
    assert cn.working_days_between(sh(2026, 10, 8, 10), sh(2026, 9, 30, 10)) == -1
    assert cn.working_days_between(sh(2026, 11, 23, 10), sh(2026, 11, 20, 10)) == -1


def test_working_days_between_uses_local_dates(cn: BusinessCalendar) -> None:
    # 2026-11-22T16:30Z is Monday 00:30 in Shanghai, though still Sunday in UTC.
    friday = sh(2026, 11, 20, 10)
    assert cn.working_days_between(friday, datetime(2026, 11, 22, 16, 30, tzinfo=UTC)) == 1
    assert cn.working_days_between(friday, datetime(2026, 11, 22, 15, 30, tzinfo=UTC)) == 0


@pytest.mark.parametrize("n", [-7, -3, -1, 1, 2, 5, 9])
def test_between_inverts_add(cn: BusinessCalendar, n: int) -> None:
    start = sh(2026, 9, 29, 11)  # in office time, near National Day and its make-up days
    assert cn.working_days_between(start, cn.add_working_days(start, n)) == n


# ---- clock hours and zones -----------------------------------------------------------------


def test_hours_before_and_after(cn: BusinessCalendar) -> None:
    appointment = sh(2026, 11, 25, 10)
    assert cn.hours_before(appointment, 24) == sh(2026, 11, 24, 10)
    assert cn.hours_after(appointment, 1.5) == sh(2026, 11, 25, 11, 30)
    assert cn.hours_before(appointment, 24).tzinfo == UTC


def test_local_and_utc(cn: BusinessCalendar) -> None:
    instant = datetime(2026, 11, 23, 1, tzinfo=UTC)
    local = cn.local(instant)
    assert (local.hour, local.utcoffset()) == (9, timedelta(hours=8))
    assert cn.utc(datetime(2026, 11, 23, 9)) == instant  # naive = company wall clock
    assert cn.utc(datetime(2026, 11, 22, 20, tzinfo=NEW_YORK)) == instant
    assert cn.utc(datetime(2026, 11, 23, 9)).tzinfo == UTC


def test_utc_instant_already_next_day_in_shanghai(cn: BusinessCalendar) -> None:
    # Friday 2026-11-20T16:30Z is Saturday 00:30 in Shanghai: not a working day there.
    instant = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)
    assert instant.weekday() == 4
    assert not cn.is_working_day(instant)
    assert not cn.is_office_time(instant)
    assert cn.next_office_time(instant) == datetime(2026, 11, 23, 1, tzinfo=UTC)


def test_naive_datetimes_are_refused(cn: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cn.is_office_time(datetime(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="naive"):
        cn.add_working_days(datetime(2026, 11, 23, 10), 1)


# ---- another country and zone --------------------------------------------------------------


def test_us_calendar(us: BusinessCalendar) -> None:
    assert not us.is_working_day(date(2026, 7, 3))  # Independence Day (observed)
    assert not us.is_working_day(date(2026, 11, 26))  # Thanksgiving
    assert us.is_working_day(date(2026, 10, 1))  # China's National Day is a US working day
    assert not us.is_working_day(date(2026, 9, 20))  # CN make-up Sunday means nothing here
    assert us.is_office_time(ny(2026, 11, 23, 9))
    assert not us.is_office_time(sh(2026, 11, 23, 10))  # Monday 10:00 Shanghai = Sun 21:00 NY


def test_us_add_working_days_keeps_wall_clock_over_dst(us: BusinessCalendar) -> None:
    # Daylight saving ends 1 November 2026: 10:00 stays 10:00 local, the UTC hour moves.
    result = us.add_working_days(ny(2026, 10, 30, 10), 1)
    assert result == ny(2026, 11, 2, 10)
    assert (result.hour, ny(2026, 10, 30, 10).hour) == (15, 14)


def test_hong_kong_calendar() -> None:
    hk = BusinessCalendar("Asia/Hong_Kong", "HK")
    assert not hk.is_working_day(date(2026, 7, 1))  # HKSAR Establishment Day
    assert not hk.is_working_day(date(2026, 12, 25))
    assert hk.is_working_day(date(2026, 10, 2))  # a mainland holiday only
    cn = BusinessCalendar("Asia/Shanghai", "CN")
    assert cn.is_working_day(date(2026, 7, 1))


# ---- parse_when ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23T10:00:00+08:00", datetime(2026, 11, 23, 2, tzinfo=UTC)),
        ("2026-11-23T02:00:00Z", datetime(2026, 11, 23, 2, tzinfo=UTC)),
        ("2026-11-23T10:00", datetime(2026, 11, 23, 2, tzinfo=UTC)),  # naive = local
        ("2026-11-23 10:00", datetime(2026, 11, 23, 2, tzinfo=UTC)),
        ("2026-11-23", datetime(2026, 11, 22, 16, tzinfo=UTC)),  # local midnight
        (date(2026, 11, 23), datetime(2026, 11, 22, 16, tzinfo=UTC)),
        (datetime(2026, 11, 23, 10), datetime(2026, 11, 23, 2, tzinfo=UTC)),
        (datetime(2026, 11, 23, 2, tzinfo=UTC), datetime(2026, 11, 23, 2, tzinfo=UTC)),
    ],
)
def test_parse_when(value: object, expected: datetime) -> None:
    parsed = parse_when(value, "Asia/Shanghai")
    assert parsed == expected
    assert parsed.tzinfo == UTC


def test_parse_when_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_when("next tuesday", SHANGHAI)
    with pytest.raises(TypeError):
        parse_when(12345, SHANGHAI)


# ---- script helpers ------------------------------------------------------------------------


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock("2026-11-23T02:00:00+00:00")  # Monday 10:00 in Shanghai


@pytest.fixture
def helpers(cn: BusinessCalendar, clock: FixedClock) -> dict:
    return cn.script_helpers(clock.now)


def test_helper_names(helpers: dict) -> None:
    assert set(helpers) == {
        "now",
        "today",
        "working_days_from_now",
        "add_working_days",
        "hours_before",
        "hours_after",
        "days_from_now",
        "is_working_day",
        "working_days_between",
        "is_office_time",
        "days_after",
        "days_before",
        "next_holiday",
        "local_time",
    }


def test_helpers_return_utc_iso_strings(helpers: dict) -> None:
    h = helpers
    assert h["now"]() == "2026-11-23T02:00:00+00:00"
    assert h["today"]() == "2026-11-23"
    assert h["working_days_from_now"](2) == "2026-11-25T02:00:00+00:00"
    assert h["days_from_now"](1) == "2026-11-24T02:00:00+00:00"
    assert h["add_working_days"]("2026-09-30T10:00", 1) == "2026-10-08T02:00:00+00:00"
    assert h["add_working_days"]("2026-10-08T10:00:00+08:00", -1) == "2026-09-30T02:00:00+00:00"
    assert h["hours_before"]("2026-11-25T10:00", 24) == "2026-11-24T02:00:00+00:00"
    assert h["hours_after"](datetime(2026, 11, 25, 2, tzinfo=UTC), 2) == (
        "2026-11-25T04:00:00+00:00"
    )
    for name in ("now", "working_days_from_now", "days_from_now"):
        args = () if name == "now" else (3,)
        text = h[name](*args)
        parsed = datetime.fromisoformat(text)
        assert parsed.utcoffset() == timedelta(0), name
        # Usable as a BPMN timeDate expression as it is.
        assert TimerEventDefinition.get_datetime(text) == parsed


def test_helper_predicates(helpers: dict) -> None:
    h = helpers
    assert h["is_working_day"]("2026-10-01") is False
    assert h["is_working_day"]("2026-10-10") is True  # make-up Saturday
    assert h["is_working_day"]("2026-09-30T16:30:00+00:00") is False  # 1 Oct in Shanghai
    assert h["working_days_between"]("2026-09-30", "2026-10-08") == 1
    assert h["working_days_between"](h["now"](), h["working_days_from_now"](3)) == 3
    assert h["is_office_time"]("2026-11-23T08:59") is False
    assert h["is_office_time"]("2026-11-23T09:00") is True
    assert h["is_office_time"](h["now"]()) is True


def test_helpers_use_injected_clock_on_every_call(cn: BusinessCalendar) -> None:
    clock = FixedClock("2031-03-14T01:00:00+00:00")  # a Friday, far from the real date
    h = cn.script_helpers(clock.now)
    assert h["now"]() == "2031-03-14T01:00:00+00:00"
    assert h["working_days_from_now"](1) == "2031-03-17T01:00:00+00:00"
    clock.advance(hours=15)  # 00:00 Saturday in Shanghai, still Friday in UTC
    assert h["now"]() == "2031-03-14T16:00:00+00:00"
    assert h["today"]() == "2031-03-15"
    assert h["working_days_from_now"](0) == "2031-03-17T01:00:00+00:00"


def test_helpers_today_is_local_date(cn: BusinessCalendar) -> None:
    h = cn.script_helpers(lambda: datetime(2026, 11, 22, 16, 30, tzinfo=UTC))
    assert h["today"]() == "2026-11-23"


def test_helpers_accept_numbers_from_form_data(helpers: dict) -> None:
    assert helpers["working_days_from_now"]("2") == "2026-11-25T02:00:00+00:00"
    assert helpers["working_days_from_now"](2.0) == "2026-11-25T02:00:00+00:00"
    assert helpers["hours_before"]("2026-11-25T10:00", "1.5") == "2026-11-25T00:30:00+00:00"
    with pytest.raises(ValueError):
        helpers["working_days_from_now"](1.5)
    with pytest.raises(TypeError):
        helpers["working_days_from_now"](True)
    with pytest.raises(ValueError):
        helpers["hours_after"]("2026-11-25T10:00", "nan")


def test_helpers_refuse_naive_clock(cn: BusinessCalendar) -> None:
    h = cn.script_helpers(lambda: datetime(2026, 11, 23, 2))
    with pytest.raises(ValueError, match="aware"):
        h["now"]()


def test_days_after_before_and_next_holiday_helpers():
    from datetime import UTC, datetime

    from engine.core.calendar import BusinessCalendar

    cal = BusinessCalendar("Asia/Shanghai", "CN")
    helpers = cal.script_helpers(lambda: datetime(2026, 9, 20, 1, 0, tzinfo=UTC))
    assert helpers["days_after"]("2026-12-01T00:00:00+08:00", 3) == "2026-12-03T16:00:00+00:00"
    assert helpers["days_before"]("2026-12-01T00:00:00+08:00", 1) == "2026-11-29T16:00:00+00:00"
    # Mid-Autumn Festival 2026 is 25 September: 09:00 in Shanghai.
    assert helpers["next_holiday"]() == "2026-09-25T01:00:00+00:00"
    assert helpers["next_holiday"]("2026-09-25T12:00:00+08:00") == "2026-10-01T01:00:00+00:00"


def test_local_time_formats_in_the_company_zone():
    from datetime import UTC, datetime

    from engine.core.calendar import BusinessCalendar

    helpers = BusinessCalendar("Asia/Shanghai", "CN").script_helpers(
        lambda: datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    )
    assert helpers["local_time"]("2026-11-26T02:00:00+00:00") == "2026-11-26 10:00"
    assert helpers["local_time"]("2026-11-26T02:00:00+00:00", "%m月%d日 %H:%M") == "11月26日 10:00"
    with pytest.raises(ValueError):
        helpers["local_time"]("2026-11-26T02:00:00+00:00", "x" * 50)
