"""Store resources: free slots, bookings that can never share a slot, release and rebooking.

The clock stands at Monday 2026-11-23 09:30 in Shanghai (01:30 UTC); local 10:00 is 02:00 UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from engine.casework import slots
from engine.casework.resources import (
    BookingError,
    Resource,
    SlotBooking,
    add_resource,
    add_service_item,
    add_shift,
    add_store,
    bookings_for_case,
    store_details,
)
from engine.casework.slots import (
    appointment_details,
    book_slot,
    free_slots,
    rebook_slot,
    release_booking,
)
from engine.core import stepcontext
from engine.definitions.sources import SourceFile
from engine.identity.users import add_user
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.tables import Case, Event, ProcessVersion
from tests.conftest import FIXTURES, fixture_files

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)  # 08:00 local
TUESDAY = MONDAY + timedelta(days=1)


def local(day: datetime, hhmm: str) -> str:
    """ISO UTC of a Shanghai wall-clock time on `day` (UTC+8, no DST)."""
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return (day + timedelta(hours=hours - 8, minutes=minutes)).isoformat()


def seed(db: Database, shifts: dict[str, list[tuple[str, str]]] | None = None) -> dict[str, int]:
    """Store 徐匯店: 王芳 (facial, massage), 李娜 (facial); room 美容室 (any item) and a massage
    station. Store 靜安店: 張敏 (facial) and one room. Shifts Monday to Friday 09:00-17:00
    unless `shifts` says otherwise (name → [(start ISO, end ISO)])."""
    ids: dict[str, int] = {}
    with db.write() as session:
        add_service_item(session, "facial", "面部護理", 60, "facial")
        add_service_item(session, "massage", "全身按摩", 90, "massage")
        add_service_item(session, "nails", "美甲", 45, "nails")
        for kind, name, store, skills in [
            ("staff", "王芳", "徐匯店", ["facial", "massage"]),
            ("staff", "李娜", "徐匯店", ["facial"]),
            ("room", "美容室", "徐匯店", []),
            ("station", "按摩床", "徐匯店", ["massage"]),
            ("staff", "張敏", "靜安店", ["facial"]),
            ("room", "靜安一號房", "靜安店", []),
        ]:
            ids[name] = add_resource(session, kind, name, store, skills).id
        for name in ("王芳", "李娜", "張敏"):
            if shifts is not None:
                for start, end in shifts.get(name, []):
                    add_shift(session, ids[name], start, end)
                continue
            for day in range(5):
                when = MONDAY + timedelta(days=day)
                add_shift(session, ids[name], local(when, "09:00"), local(when, "17:00"))
        session.commit()
    return ids


def new_case(db: Database, number: str) -> int:
    """A bare case row to hang bookings on (direct calls, outside any diagram)."""
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    with db.write() as session:
        version = session.scalars(
            select(ProcessVersion).where(ProcessVersion.key == "bare")
        ).first()
        if version is None:
            version = ProcessVersion(
                key="bare", version=1, name="bare", content_hash="0", case_prefix="T",
                sources=[], spec_json="{}", task_meta={}, serializer_version="0", deployed_at=now,
            )  # fmt: skip
            session.add(version)
            session.flush()
        case = Case(
            number=number, process_version_id=version.id, process_key="bare", status="running",
            state="{}", serializer_version="0", started_at=now, updated_at=now,
        )  # fmt: skip
        session.add(case)
        session.commit()
        return case.id


@contextmanager
def step(
    db: Database, case_id: int, number: str, now: datetime
) -> Iterator[stepcontext.StepContext]:
    """Run helpers as a case step would: one session, committed at the end."""
    with db.write() as session:
        ctx = stepcontext.StepContext(session, case_id, number, "bare", "alice", now)
        with stepcontext.step(ctx):
            yield ctx
        session.commit()


@pytest.fixture
def shop(db, clock):
    ids = seed(db)
    cases = {n: new_case(db, n) for n in ("T-1", "T-2", "T-3")}

    @contextmanager
    def as_case(number: str = "T-1") -> Iterator[stepcontext.StepContext]:
        with step(db, cases[number], number, clock.now()) as ctx:
            yield ctx

    as_case.ids, as_case.cases = ids, cases
    return as_case


def slot_rows(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(SlotBooking))


# ----- free slots --------------------------------------------------------------------------


def test_free_slots_follow_office_hours_and_the_clock(shop):
    with shop():
        today = free_slots("facial", "2026-11-23")
        tuesday = free_slots("massage", "2026-11-24T12:00:00+08:00")
        saturday = free_slots("facial", "2026-11-28")
    # From now (09:30) on the half-hour grid; the last 60-minute start is 16:00.
    assert today[0] == local(MONDAY, "09:30") == "2026-11-23T01:30:00+00:00"
    assert today[-1] == local(MONDAY, "16:00") and len(today) == 14
    assert tuesday[0] == local(TUESDAY, "09:00") and tuesday[-1] == local(TUESDAY, "15:30")
    assert saturday == []


def test_free_slots_need_staff_on_shift_with_the_skill(db, clock):
    ids = seed(db, shifts={"王芳": [(local(MONDAY, "13:00"), local(MONDAY, "15:00"))]})
    case_id = new_case(db, "T-1")
    with step(db, case_id, "T-1", clock.now()):
        facial = free_slots("facial", "2026-11-23")
        massage = free_slots("massage", "2026-11-23")
        nails = free_slots("nails", "2026-11-23")
    assert facial == [local(MONDAY, t) for t in ("13:00", "13:30", "14:00")]
    assert massage == [local(MONDAY, t) for t in ("13:00", "13:30")]  # 90 minutes must fit
    assert nails == []  # nobody has the skill
    assert ids["王芳"]


def test_a_store_restricts_staff_and_rooms(shop):
    with shop() as ctx:
        assert book_slot("facial", local(MONDAY, "10:00"), store="靜安店")["room"] == "靜安一號房"
        # 靜安店 has one staff member and one room: 09:30, 10:00 and 10:30 overlap the booking.
        jingan = free_slots("facial", "2026-11-23", store="靜安店")
        xuhui = free_slots("facial", "2026-11-23", store="徐匯店")
        assert jingan[0] == local(MONDAY, "11:00")
        assert local(MONDAY, "10:00") in xuhui
        with pytest.raises(BookingError, match="unknown store"):
            free_slots("facial", "2026-11-23", store="浦東店")
        assert ctx.case_id


def test_unknown_item_and_bad_day_are_errors(shop):
    with shop():
        with pytest.raises(BookingError, match="unknown service item 'yoga'"):
            free_slots("yoga", "2026-11-23")
        with pytest.raises(BookingError, match="not an ISO 8601"):
            free_slots("facial", "next monday")
        with pytest.raises(BookingError, match="unknown service item"):
            book_slot(None, local(MONDAY, "10:00"))


def test_helpers_need_a_case_step():
    with pytest.raises(stepcontext.NoStep):
        free_slots("facial", "2026-11-23")


# ----- booking -----------------------------------------------------------------------------


def test_book_slot_holds_staff_and_room_for_every_half_hour(shop, db):
    with shop() as ctx:
        result = book_slot("massage", "2026-11-23 10:00")  # naive = Shanghai time
        held = bookings_for_case(ctx.session, ctx.case_id)
    assert result["ok"] is True
    assert result["start"] == local(MONDAY, "10:00") and result["end"] == local(MONDAY, "11:30")
    assert (result["staff"], result["room"], result["store"]) == ("王芳", "美容室", "徐匯店")
    assert result["booking_ref"].startswith("T-1-")
    assert slot_rows(db) == 6  # 90 minutes: three slots, staff and room
    assert held == [{k: result[k] for k in ("booking_ref", "start", "end", "staff", "room", "store")}
                    | {"service_item": "massage"}]  # fmt: skip
    with db.read() as session:
        assert session.get(Case, shop.cases["T-1"]).appointment_at.isoformat() == result["start"]
        events = session.scalars(select(Event).where(Event.kind == "slot_booked")).all()
    assert [e.detail["booking_ref"] for e in events] == [result["booking_ref"]]


def test_a_45_minute_item_holds_two_slots(shop, db):
    with shop() as ctx:
        ctx.session.execute(
            update(Resource).where(Resource.name == "李娜").values(skills=["facial", "nails"])
        )
        assert book_slot("nails", local(MONDAY, "10:00"))["staff"] == "李娜"
    with shop("T-2"):
        # Only 李娜 does nails, and she is busy until 10:45: the 10:30 slot is hers too.
        assert book_slot("nails", local(MONDAY, "10:30"))["reason"] == "taken"
        # 徐匯店's only room for a facial is taken as well, so 靜安店 gets the facial.
        assert book_slot("facial", local(MONDAY, "10:00"))["store"] == "靜安店"
    assert slot_rows(db) == 4 + 4


def test_the_least_busy_staff_member_gets_the_booking(shop):
    with shop("T-1"):
        assert book_slot("facial", local(MONDAY, "10:00"), store="徐匯店")["staff"] == "王芳"
    with shop("T-2"):
        assert book_slot("facial", local(MONDAY, "14:00"), store="徐匯店")["staff"] == "李娜"


def test_a_taken_slot_gives_the_nearest_free_times(shop):
    with shop("T-1"):
        assert book_slot("facial", local(MONDAY, "15:00"), store="徐匯店")["ok"]
    with shop("T-2"):
        # 李娜 is free, but 徐匯店 has one room that suits a facial.
        answer = book_slot("facial", local(MONDAY, "15:00"), store="徐匯店")
    assert answer["ok"] is False and answer["reason"] == "taken"
    assert answer["message"] == "該時段已無空閒的人員或房間"
    # 14:30 would run into the 15:00 booking; nearest first, then listed in time order.
    assert answer["alternatives"] == [
        local(MONDAY, t) for t in ("12:30", "13:00", "13:30", "14:00", "16:00")
    ]


def test_when_the_day_is_full_alternatives_come_from_the_next_working_days(db, clock):
    friday = MONDAY + timedelta(days=4)
    monday_next = MONDAY + timedelta(days=7)
    seed(
        db,
        shifts={
            "王芳": [(local(friday, "16:00"), local(friday, "17:00"))],
            "張敏": [(local(monday_next, "09:00"), local(monday_next, "17:00"))],
        },
    )
    case_id = new_case(db, "T-1")
    with step(db, case_id, "T-1", clock.now()):
        answer = book_slot("facial", local(friday, "10:00"))
    # Nobody works Friday 10:00; Friday 16:00 is the only slot that day; the weekend is closed.
    assert answer["reason"] == "taken"
    assert answer["alternatives"] == [local(friday, "16:00")] + [
        local(monday_next, t) for t in ("09:00", "09:30", "10:00", "10:30")
    ]
    # Each at the store a booking then would go to: the customer is told where.
    assert answer["alternative_stores"] == ["徐匯店"] + ["靜安店"] * 4


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (local(MONDAY, "09:00"), "past"),  # the clock says 09:30
        ("2026-11-20T10:00:00+08:00", "past"),
        (local(MONDAY, "18:00"), "closed"),
        (local(MONDAY, "16:30"), "closed"),  # 60 minutes would run past 17:00
        (local(MONDAY, "08:30"), "past"),
        (local(TUESDAY, "08:30"), "closed"),
        ("2026-11-28T10:00:00+08:00", "closed"),  # Saturday
        ("2027-01-01T10:00:00+08:00", "closed"),  # New Year's Day
        (local(TUESDAY, "10:15"), "off_grid"),
    ],
)
def test_times_that_can_never_be_booked(shop, db, start, reason):
    with shop():
        answer = book_slot("facial", start)
    assert answer["ok"] is False and answer["reason"] == reason and answer["message"]
    # Shifts are planned for this week only: later requests may have no alternatives.
    assert len(answer["alternatives"]) == (5 if start < "2026-11-27" else 0)
    assert all(a >= "2026-11-23T01:30:00+00:00" for a in answer["alternatives"])
    assert slot_rows(db) == 0


def test_bad_start_and_a_second_booking_are_errors(shop):
    with shop():
        with pytest.raises(BookingError, match="not an ISO 8601"):
            book_slot("facial", "tomorrow at ten")
        with pytest.raises(BookingError, match="expected an ISO 8601"):
            book_slot("facial", 1000)
        assert book_slot("facial", local(TUESDAY, "10:00"))["ok"]
        with pytest.raises(BookingError, match="already holds booking T-1-.*rebook_slot"):
            book_slot("facial", local(TUESDAY, "14:00"))


def test_release_frees_the_slots(shop, db):
    with shop():
        assert book_slot("facial", local(TUESDAY, "10:00"), store="靜安店")["ok"]
    with shop("T-2"):
        assert book_slot("facial", local(TUESDAY, "10:00"), store="靜安店")["reason"] == "taken"
    with shop("T-1"):
        assert release_booking() == 1
        assert release_booking() == 0
    assert slot_rows(db) == 0
    with db.read() as session:
        assert session.get(Case, shop.cases["T-1"]).appointment_at is None
    with shop("T-2"):
        assert book_slot("facial", local(TUESDAY, "10:00"), store="靜安店")["ok"]


def test_rebook_moves_the_booking_even_onto_its_own_slots(shop, db):
    with shop() as ctx:
        first = book_slot("facial", local(TUESDAY, "10:00"), store="靜安店")
        # One staff member in 靜安店: 10:30 overlaps the old booking, which is released first.
        moved = rebook_slot("facial", local(TUESDAY, "10:30"), store="靜安店")
        held = bookings_for_case(ctx.session, ctx.case_id)
    assert moved["ok"] and moved["booking_ref"] != first["booking_ref"]
    assert [(b["start"], b["booking_ref"]) for b in held] == [
        (local(TUESDAY, "10:30"), moved["booking_ref"])
    ]
    assert slot_rows(db) == 4
    with db.read() as session:
        assert session.get(Case, shop.cases["T-1"]).appointment_at.isoformat() == moved["start"]


def test_a_failed_rebook_keeps_the_old_booking(shop, db):
    with shop("T-2"):
        assert book_slot("facial", local(TUESDAY, "14:00"), store="靜安店")["ok"]
    with shop("T-1") as ctx:
        first = book_slot("facial", local(TUESDAY, "10:00"), store="靜安店")
        answer = rebook_slot("facial", local(TUESDAY, "14:00"), store="靜安店")
        late = rebook_slot("facial", local(TUESDAY, "20:00"), store="靜安店")
        held = bookings_for_case(ctx.session, ctx.case_id)
    assert answer["ok"] is False and answer["reason"] == "taken"
    assert late["reason"] == "closed"
    assert local(TUESDAY, "10:00") not in answer["alternatives"]  # that is the current booking
    assert local(TUESDAY, "13:00") in answer["alternatives"]
    assert [b["booking_ref"] for b in held] == [first["booking_ref"]]
    assert slot_rows(db) == 8
    with db.read() as session:
        assert session.get(Case, shop.cases["T-1"]).appointment_at.isoformat() == first["start"]
        kinds = session.scalars(select(Event.kind).where(Event.case_id == ctx.case_id)).all()
    assert kinds == ["slot_booked"]  # the undone release left no trace


def test_rebook_without_a_booking_just_books(shop):
    with shop():
        assert rebook_slot("facial", local(TUESDAY, "11:00"))["ok"]


def test_a_slot_taken_between_check_and_insert_is_answered_not_raised(shop, db, monkeypatch):
    """The unique constraint is the real guard: a stale free check (as a concurrent step on
    PostgreSQL would see) ends in ok False with alternatives, and the step carries on."""
    with shop("T-2"):
        assert book_slot("facial", local(TUESDAY, "10:00"), store="靜安店")["ok"]
    real_board, stale = slots._Request.board, []

    def board_missing_other_bookings(self, day):
        board = real_board(self, day)
        if not stale:  # the first look misses the booking made by T-2
            stale.append(True)
            board.booked = set()
        return board

    monkeypatch.setattr(slots._Request, "board", board_missing_other_bookings)
    with shop("T-1") as ctx:
        answer = book_slot("facial", local(TUESDAY, "10:00"), store="靜安店")
        assert answer["ok"] is False and answer["reason"] == "taken"
        assert local(TUESDAY, "11:00") in answer["alternatives"]
        ctx.session.flush()  # the session is still usable: the savepoint was rolled back
        assert bookings_for_case(ctx.session, ctx.case_id) == []
    assert stale and slot_rows(db) == 4


def test_other_database_errors_are_not_mistaken_for_a_taken_slot(shop, db, clock):
    """Only a unique violation on the slot rows means "taken": here the case does not exist."""
    with pytest.raises(IntegrityError, match="(?i)foreign key"):
        with step(db, 999_999, "T-404", clock.now()):
            book_slot("facial", local(TUESDAY, "10:00"))


# ----- administration ----------------------------------------------------------------------


def test_admin_functions_validate(db):
    with db.write() as session:
        add_service_item(session, "facial", "面部護理", 60, "facial")
        with pytest.raises(BookingError, match="already exists"):
            add_service_item(session, "facial", "面部護理", 60, "facial")
        with pytest.raises(BookingError, match="duration_min"):
            add_service_item(session, "long", "太長", 0, "x")
        with pytest.raises(BookingError, match="kind 'desk'"):
            add_resource(session, "desk", "前台", "徐匯店")
        room = add_resource(session, "room", "美容室", "徐匯店")
        staff = add_resource(session, "staff", "王芳", "徐匯店", ["facial"])
        with pytest.raises(BookingError, match="not a staff member"):
            add_shift(session, room.id, "2026-11-23 09:00", "2026-11-23 17:00")
        with pytest.raises(BookingError, match="must end after"):
            add_shift(session, staff.id, "2026-11-23 17:00", "2026-11-23 09:00")
        shift = add_shift(session, staff.id, "2026-11-23 09:00", "2026-11-23 17:00")
        assert shift.starts_at == datetime(2026, 11, 23, 1, tzinfo=UTC)  # naive = local time
        assert bookings_for_case(session, 12345) == []


def test_stores_have_addresses_and_items_preparation_notes(db, clock):
    with db.write() as session:
        add_service_item(session, "facial", "面部護理", 60, "facial", "請勿化妝。")
        add_resource(session, "room", "美容室", "徐匯店")  # a store not known yet: no address
        assert store_details(session, "徐匯店") == {"name": "徐匯店", "address": ""}
        add_store(session, "徐匯店", "上海市徐匯區漕溪北路88號")
        with pytest.raises(BookingError, match="needs a name"):
            add_store(session, " ")
        session.commit()
    case_id = new_case(db, "T-1")
    with step(db, case_id, "T-1", clock.now()):
        assert appointment_details("facial", "徐匯店") == {
            "service_item_name": "面部護理",
            "prep_notes": "請勿化妝",  # the messages add their own full stop
            "store_name": "徐匯店",
            "store_address": "上海市徐匯區漕溪北路88號",
        }
        assert appointment_details("facial", None)["store_name"] == ""
        assert appointment_details("pedicure")["service_item_name"] == "pedicure"


# ----- through a diagram -------------------------------------------------------------------


def test_a_booking_commits_with_the_case_step(runtime, db, users):
    seed(db, shifts={"張敏": [(local(TUESDAY, "09:00"), local(TUESDAY, "17:00"))]})
    runtime.deploy(fixture_files("booking_flow.bpmn"))
    case = runtime.start_case(
        "booking_flow",
        {"service_item": "facial", "start": local(TUESDAY, "10:00")},
        prevalidated=True,
    )
    assert [t.element_id for t in case.open_tasks] == ["confirm"]
    assert case.data["result"]["ok"] is True and case.data["result"]["staff"] == "張敏"
    with db.read() as session:
        row = session.scalars(select(Case).where(Case.number == case.number)).one()
        assert [b["start"] for b in bookings_for_case(session, row.id)] == [local(TUESDAY, "10:00")]
        assert row.appointment_at.isoformat() == local(TUESDAY, "10:00")
    # The same time again: the second case is offered the nearest free times instead.
    other = runtime.start_case(
        "booking_flow",
        {"service_item": "facial", "start": local(TUESDAY, "10:00")},
        prevalidated=True,
    )
    assert [t.element_id for t in other.open_tasks] == ["offer_alternatives"]
    alternatives = other.data["result"]["alternatives"]
    assert alternatives == [
        local(TUESDAY, t) for t in ("09:00", "11:00", "11:30", "12:00", "12:30")
    ]
    # The customer picks one: the diagram books it and moves on to the confirmation.
    picked = runtime.complete_task(
        other.open_tasks[0].id,
        {"confirmed": True, "give_up": False, "start": alternatives[1]},
        "alice",
    )
    assert [t.element_id for t in picked.open_tasks] == ["confirm"]
    assert picked.data["result"]["start"] == local(TUESDAY, "11:00")
    assert slot_rows(db) == 8


def test_a_customer_may_give_up(runtime, db, users):
    seed(db, shifts={})
    runtime.deploy(fixture_files("booking_flow.bpmn"))
    case = runtime.start_case(
        "booking_flow",
        {"service_item": "facial", "start": local(TUESDAY, "10:00")},
        prevalidated=True,
    )
    assert case.data["result"] == {
        "ok": False,
        "reason": "taken",
        "message": "該時段已無空閒的人員或房間",
        "alternatives": [],
        "alternative_stores": [],
    }
    done = runtime.complete_task(
        case.open_tasks[0].id, {"confirmed": True, "give_up": True}, "alice"
    )
    assert done.status == "completed" and done.data["give_up"] is True
    assert slot_rows(db) == 0


def test_a_step_that_fails_after_booking_keeps_no_booking(runtime, db, users):
    seed(db)
    text = (FIXTURES / "booking_flow.bpmn").read_text()
    text = text.replace(
        "result = book_slot(service_item, start)",
        "result = book_slot(service_item, start)\nchecked = 1 / divisor",
    )
    runtime.deploy(
        [SourceFile("booking_flow.bpmn", text.encode()), FIXTURES / "booking_alternatives.json"]
    )
    case = runtime.start_case(
        "booking_flow",
        {"service_item": "facial", "start": local(TUESDAY, "10:00"), "divisor": 0},
        prevalidated=True,
    )
    assert case.status == "error" and case.error_element == "book"
    assert slot_rows(db) == 0  # the booking went with the failed step
    fixed = runtime.retry_case(case.number, data={"divisor": 1})
    assert fixed.status == "running" and fixed.data["result"]["ok"] is True
    assert slot_rows(db) == 4


def test_rebooking_inside_a_case_step_keeps_or_moves_the_booking(runtime, db, users):
    """rebook_slot's savepoint nests inside the runtime's per-task savepoint."""
    seed(db, shifts={"張敏": [(local(TUESDAY, "09:00"), local(TUESDAY, "17:00"))]})
    text = (FIXTURES / "booking_flow.bpmn").read_text()
    text = text.replace(
        "result = book_slot(service_item, start)",
        "first = book_slot(service_item, start)\nresult = rebook_slot(service_item, new_start, store)",
    )
    runtime.deploy(
        [SourceFile("booking_flow.bpmn", text.encode()), FIXTURES / "booking_alternatives.json"]
    )
    data = {"service_item": "facial", "store": "", "start": local(TUESDAY, "10:00")}
    moved = runtime.start_case(
        "booking_flow", {**data, "new_start": local(TUESDAY, "14:00")}, prevalidated=True
    )
    assert moved.data["result"]["start"] == local(TUESDAY, "14:00")
    kept = runtime.start_case(
        "booking_flow", {**data, "new_start": local(TUESDAY, "14:00")}, prevalidated=True
    )
    assert kept.data["first"]["start"] == local(TUESDAY, "10:00")
    assert kept.data["result"]["reason"] == "taken"
    assert [t.element_id for t in kept.open_tasks] == ["offer_alternatives"]
    with db.read() as session:
        starts = {
            number: [b["start"] for b in bookings_for_case(session, case_id)]
            for number, case_id in session.execute(select(Case.number, Case.id))
        }
    assert starts == {
        moved.number: [local(TUESDAY, "14:00")],
        kept.number: [local(TUESDAY, "10:00")],
    }


# ----- the last free slot, booked twice at the same moment ---------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request, db) -> Iterator[Database]:
    if request.param == "sqlite":
        yield db
        return
    database = Database(request.getfixturevalue("pg_db_url"))
    yield database
    database.dispose()


def test_two_cases_race_for_the_last_free_slot(any_db, settings, clock):
    """Two threads start cases at the same moment for the only free slot: one gets it, the
    other is offered alternatives, and the slot is held once."""
    seed(
        any_db,
        shifts={
            "李娜": [(local(MONDAY, "14:00"), local(MONDAY, "15:00"))],
            "張敏": [(local(TUESDAY, "09:00"), local(TUESDAY, "17:00"))],
        },
    )
    Runtime(any_db, settings, clock).deploy(fixture_files("booking_flow.bpmn"))
    barrier, results, errors = threading.Barrier(2), [], []

    def start() -> None:
        runtime = Runtime(any_db, settings, clock)
        barrier.wait(timeout=10)
        try:
            results.append(
                runtime.start_case(
                    "booking_flow",
                    {"service_item": "facial", "start": local(MONDAY, "14:00")},
                    prevalidated=True,
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    answers = sorted((c.data["result"] for c in results), key=lambda r: not r["ok"])
    assert [a["ok"] for a in answers] == [True, False]
    assert answers[0]["start"] == local(MONDAY, "14:00") and answers[0]["staff"] == "李娜"
    assert answers[1]["reason"] == "taken"
    assert answers[1]["alternatives"] == [
        local(TUESDAY, t) for t in ("09:00", "09:30", "10:00", "10:30", "11:00")
    ]
    assert sorted(t.element_id for c in results for t in c.open_tasks) == [
        "confirm",
        "offer_alternatives",
    ]
    assert slot_rows(any_db) == 4


@pytest.mark.postgres
def test_both_checks_pass_then_the_unique_constraint_decides(
    pg_db_url, settings, clock, monkeypatch
):
    """PostgreSQL runs the two steps truly side by side: both see the slot free, both insert;
    the second insert waits for the first transaction, then fails on the unique constraint
    inside its savepoint, and that case is offered alternatives instead."""
    db = Database(pg_db_url)
    try:
        seed(
            db,
            shifts={
                "李娜": [(local(MONDAY, "14:00"), local(MONDAY, "16:00"))],
                "張敏": [(local(TUESDAY, "09:00"), local(TUESDAY, "17:00"))],
            },
        )
        add_user(db, settings, "alice", ["service_desk"], clock.now())
        runtime = Runtime(db, settings, clock)
        runtime.deploy(fixture_files("booking_flow.bpmn"))
        first = runtime.start_case(
            "booking_flow",
            {"service_item": "facial", "start": local(MONDAY, "15:00")},
            prevalidated=True,
        )
        assert first.data["result"]["ok"]
        waiting = [
            runtime.start_case(
                "booking_flow",
                {"service_item": "facial", "start": local(MONDAY, "15:00")},
                prevalidated=True,
            )
            for _ in range(2)
        ]
        assert [c.data["result"]["alternatives"][0] for c in waiting] == [
            local(MONDAY, "14:00")
        ] * 2

        real_insert, barrier, lost = slots.insert, threading.Barrier(2), []
        waited: set[int] = set()

        def insert_after_both_looked(model):
            if threading.get_ident() not in waited:
                waited.add(threading.get_ident())
                barrier.wait(timeout=10)
            return real_insert(model)

        real_taken = slots._taken_meanwhile

        def taken(exc):
            lost.append(exc)
            return real_taken(exc)

        monkeypatch.setattr(slots, "insert", insert_after_both_looked)
        monkeypatch.setattr(slots, "_taken_meanwhile", taken)
        results, errors = [], []

        def pick(case) -> None:
            try:
                results.append(
                    Runtime(db, settings, clock).complete_task(
                        case.open_tasks[0].id,
                        {"confirmed": True, "give_up": False, "start": local(MONDAY, "14:00")},
                        "alice",
                    )
                )
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=pick, args=(c,)) for c in waiting]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        assert len(lost) == 1 and getattr(lost[0].orig, "sqlstate", None) == "23505"
        oks = sorted(c.data["result"]["ok"] for c in results)
        assert oks == [False, True]
        loser = next(c for c in results if not c.data["result"]["ok"])
        assert [t.element_id for t in loser.open_tasks] == ["offer_alternatives"]
        assert loser.data["result"]["alternatives"][0] == local(TUESDAY, "09:00")
        assert slot_rows(db) == 8
    finally:
        db.dispose()
