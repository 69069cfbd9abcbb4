"""The directory: ranking people for an order, ratings on their profile, availability,
choosing a professional; and the demo data that fills it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from caseflow.demo import load_demo
from engine.casework.directory import (
    DirectoryError,
    Person,
    Rating,
    add_person,
    add_rating,
    get_person,
    rank_candidates,
    record_rating,
    set_available,
)
from engine.casework.professionals import (
    assign_professional,
    check_professional,
    take_professional,
)
from engine.casework.resources import Resource, ServiceItem, Shift, Store, add_service_item
from engine.casework.slots import book_slot, free_slots
from engine.core import stepcontext
from engine.definitions.sources import SourceFile
from engine.store.database import Database
from engine.store.tables import Case, Event, ProcessVersion

NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # the clock fixture's Monday 09:30 Shanghai


def new_case(db: Database, number: str) -> int:
    with db.write() as session:
        version = session.scalars(
            select(ProcessVersion).where(ProcessVersion.key == "bare")
        ).first()
        if version is None:
            version = ProcessVersion(
                key="bare", version=1, name="bare", content_hash="0", case_prefix="T",
                sources=[], spec_json="{}", task_meta={}, serializer_version="0", deployed_at=NOW,
            )  # fmt: skip
            session.add(version)
            session.flush()
        case = Case(
            number=number, process_version_id=version.id, process_key="bare", status="running",
            state="{}", serializer_version="0", started_at=NOW, updated_at=NOW,
        )  # fmt: skip
        session.add(case)
        session.commit()
        return case.id


@contextmanager
def step(db: Database, case_id: int, number: str = "T-1") -> Iterator[stepcontext.StepContext]:
    with db.write() as session:
        ctx = stepcontext.StepContext(session, case_id, number, "bare", "alice", NOW)
        with stepcontext.step(ctx):
            yield ctx
        session.commit()


@pytest.fixture
def people(db) -> dict[str, int]:
    """Nurses: 張 (4.8 over 5, 15 years), 李 (4.8 over 5, 12 years), 王 (4.0, 8 years),
    劉 (new, 2 years), 陳 (new, 6 years), 楊 (2.3, 20 years), 何 (5.0 but not available)."""
    ids: dict[str, int] = {}
    with db.write() as session:
        for name, skills, years, scores, available in [
            ("張玉蘭", ["newborn_care", "twins"], 15, [5, 5, 5, 5, 4], True),
            ("李秀英", ["newborn_care", "lactation"], 12, [5, 5, 4, 5, 5], True),
            ("王桂芳", ["newborn_care"], 8, [4, 4], True),
            ("劉春梅", ["newborn_care"], 2, [], True),
            ("陳淑華", ["newborn_care", "twins"], 6, [], True),
            ("楊淑珍", ["newborn_care", "twins"], 20, [3, 2, 2], True),
            ("何翠萍", ["newborn_care", "twins"], 10, [5], False),
        ]:
            person = add_person(
                session, "nurse", name, "138" + str(len(ids)).zfill(8), None, skills, years,
                available=available,
            )  # fmt: skip
            for score in scores:
                add_rating(session, person.id, score, NOW)
            ids[name] = person.id
        for name, skills, years, scores in [
            ("周文博", ["consultation", "nutrition"], 14, [4, 4]),
            ("孫志強", ["consultation"], 6, [5, 5, 5]),
            ("蔡明", ["legal"], 20, [4]),
        ]:
            person = add_person(session, "professional", name, None, None, skills, years)
            for score in scores:
                add_rating(session, person.id, score, NOW)
            ids[name] = person.id
        add_service_item(session, "consultation", "專業諮詢", 30, "consultation")
        session.commit()
    ids["case"] = new_case(db, "T-1")
    ids["case2"] = new_case(db, "T-2")
    return ids


def names(cards: list[dict]) -> list[str]:
    return [c["name"] for c in cards]


# ----- ranking ------------------------------------------------------------------------------


def test_rated_first_then_newcomers_then_poorly_rated(db, people):
    with step(db, people["case"]):
        ranked = rank_candidates("nurse", limit=10)
    # 張 and 李 tie on 4.8: the more experienced first. Newcomers: more experience first.
    assert names(ranked) == ["張玉蘭", "李秀英", "王桂芳", "陳淑華", "劉春梅", "楊淑珍"]
    assert ranked[0] == {
        "id": people["張玉蘭"],
        "name": "張玉蘭",
        "phone": "13800000000",
        "rating": 4.8,
        "rating_count": 5,
        "experience_years": 15,
    }
    assert ranked[3]["rating"] is None and ranked[3]["rating_count"] == 0
    assert ranked[5]["rating"] == 2.33


def test_skills_exclude_and_limit(db, people):
    with step(db, people["case"]):
        twins = rank_candidates("nurse", ["newborn_care", "twins"])
        assert names(twins) == ["張玉蘭", "陳淑華", "楊淑珍"]  # 何 is not available
        assert names(rank_candidates("nurse", "twins", exclude=[people["張玉蘭"]])) == [
            "陳淑華",
            "楊淑珍",
        ]
        assert names(rank_candidates("nurse", exclude=str(people["張玉蘭"]), limit=2)) == [
            "李秀英",
            "王桂芳",
        ]
        assert rank_candidates("nurse", ["plumbing"]) == []
        assert rank_candidates("cleaner") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "doctor"}, "kind 'doctor' is not one of customer, nurse"),
        ({"kind": "nurse", "limit": 0}, "limit must be 1..50"),
        ({"kind": "nurse", "limit": True}, "limit must be"),
        ({"kind": "nurse", "skills": 5}, "skills must be"),
        ({"kind": "nurse", "exclude": ["x"]}, "exclude must list person ids"),
    ],
)
def test_bad_ranking_requests(db, people, kwargs, message):
    with step(db, people["case"]), pytest.raises(DirectoryError, match=message):
        rank_candidates(**kwargs)


# ----- ratings and availability -------------------------------------------------------------


def test_a_rating_updates_the_average_and_a_second_one_from_the_case_replaces_it(db, people):
    nurse = people["劉春梅"]
    with step(db, people["case"]):
        assert record_rating(nurse, 4, "很細心") == {
            "person_id": nurse,
            "rating": 4.0,
            "rating_count": 1,
        }
    with step(db, people["case2"], "T-2"):
        assert record_rating(str(nurse), "2")["rating"] == 3.0
    with step(db, people["case"]):
        # The customer of T-1 changes her mind: still two ratings.
        assert record_rating(nurse, 5) == {"person_id": nurse, "rating": 3.5, "rating_count": 2}
    with db.read() as session:
        rows = session.scalars(select(Rating).where(Rating.person_id == nurse)).all()
        assert sorted((r.case_id, r.score) for r in rows) == [
            (people["case"], 5),
            (people["case2"], 2),
        ]
        assert [r.comment for r in rows if r.case_id == people["case"]] == [None]
        assert get_person(session, nurse)["rating"] == 3.5
        events = session.scalars(select(Event.kind).where(Event.kind == "rating_recorded")).all()
    assert len(events) == 3
    # Ranked again: 3.5 is good enough to come before the newcomers.
    with step(db, people["case"]):
        assert names(rank_candidates("nurse"))[3] == "劉春梅"


@pytest.mark.parametrize("score", [0, 6, 4.5, "abc", True, None, -1])
def test_a_rating_is_a_whole_number_from_1_to_5(db, people, score):
    with step(db, people["case"]), pytest.raises(DirectoryError, match="from 1 to 5"):
        record_rating(people["劉春梅"], score)
    with db.read() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Rating).where(Rating.case_id.is_not(None))
            )
            == 0
        )


def test_rating_an_unknown_person_is_an_error(db, people):
    with step(db, people["case"]):
        with pytest.raises(DirectoryError, match="no person with id 9999"):
            record_rating(9999, 5)
        with pytest.raises(DirectoryError, match="no person with id 'someone'"):
            record_rating("someone", 5)


def test_availability(db, people):
    with step(db, people["case"]):
        assert set_available(people["張玉蘭"], False) == {
            "person_id": people["張玉蘭"],
            "available": False,
        }
        assert "張玉蘭" not in names(rank_candidates("nurse", limit=10))
        set_available(people["何翠萍"], True)
        assert names(rank_candidates("nurse", "twins"))[0] == "何翠萍"
        with pytest.raises(DirectoryError, match="True or False"):
            set_available(people["何翠萍"], "yes")
        with pytest.raises(DirectoryError, match="no person"):
            set_available(424242, True)


# ----- professionals ------------------------------------------------------------------------


def test_assign_a_professional(db, people):
    with step(db, people["case"]) as ctx:
        # By service item (its skill) or by skill; best rated unless the customer is important.
        assert assign_professional("consultation")["name"] == "孫志強"
        assert assign_professional("consultation", important=True)["name"] == "周文博"
        assert assign_professional("nutrition")["name"] == "周文博"
        assert assign_professional("legal", True)["name"] == "蔡明"
        assert assign_professional("surgery") is None
        with pytest.raises(DirectoryError, match="service item code or a skill"):
            assign_professional("")
        set_available(people["孫志強"], False)
        assert assign_professional("consultation")["name"] == "周文博"
        kinds = ctx.session.scalars(select(Event.kind).where(Event.case_id == ctx.case_id)).all()
    assert kinds.count("professional_assigned") == 5


def test_a_professional_taken_for_a_time_is_busy_then_while_her_case_runs(db, people):
    thursday = ("2026-11-26T10:00", "2026-11-26T12:00")  # company time
    with step(db, people["case"]):
        taken = take_professional(people["孫志強"], None, "consultation", *thursday)
        assert (taken["name"], taken["registered"], taken["busy"]) == ("孫志強", False, False)
    with step(db, people["case2"], "T-2"):
        overlapping = ("2026-11-26T11:00", "2026-11-26T13:00")
        assert check_professional("孫志強", "consultation", *overlapping)["reason"] == "busy"
        assert check_professional("孫志強", "consultation", "2026-11-26T12:00",
                                  "2026-11-26T13:00")["reason"] == ""  # fmt: skip
        assert check_professional("蔡明", "consultation")["reason"] == "no_item"
        assert check_professional("無此人", "consultation") == {
            "professional": None, "reason": "unknown"
        }  # fmt: skip
        # The directory's own choice passes over her too.
        assert assign_professional("consultation", False, *overlapping)["name"] == "周文博"
        with pytest.raises(DirectoryError, match="must come after start"):
            check_professional("孫志強", "consultation", thursday[1], thursday[0])
    with db.write() as session:
        session.get(Case, people["case"]).status = "completed"
        session.commit()
    with step(db, people["case2"], "T-2") as ctx:
        assert check_professional("孫志強", "consultation", *thursday)["reason"] == ""
        # Someone staff name who is not in the directory is added to it.
        taken = take_professional("錢律師", "139 0000 0099", "legal")
        assert taken["registered"] is True
        assert get_person(ctx.session, taken["id"])["skills"] == ["legal"]


def test_add_person_validates(db):
    with db.write() as session:
        with pytest.raises(DirectoryError, match="kind 'boss'"):
            add_person(session, "boss", "老闆")
        with pytest.raises(DirectoryError, match="needs a name"):
            add_person(session, "nurse", "  ")
        with pytest.raises(DirectoryError, match="experience_years"):
            add_person(session, "nurse", "李", experience_years=-1)
        person = add_person(session, "customer", "王小明", "13900000001", "wang@example.com")
        assert get_person(session, person.id) == {
            "id": person.id,
            "name": "王小明",
            "phone": "13900000001",
            "rating": None,
            "rating_count": 0,
            "experience_years": 0,
            "kind": "customer",
            "email": "wang@example.com",
            "skills": [],
            "available": True,
            "notes": None,
        }
        assert get_person(session, 777) is None


# ----- from a diagram -----------------------------------------------------------------------

RATING_FLOW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs_rating" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="rating_flow" name="測試推薦與評價" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="recommend" name="推薦月嫂">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>candidates = rank_candidates("nurse", ["newborn_care", "twins"], exclude=[declined])
nurse = candidates[0]
set_available(nurse["id"], False)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="finish" name="下戶回訪">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="rating_form.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:scriptTask id="rate" name="記錄評價">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>profile = record_rating(nurse["id"], score, comment)
set_available(nurse["id"], True)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="recommend" />
    <bpmn:sequenceFlow id="f2" sourceRef="recommend" targetRef="finish" />
    <bpmn:sequenceFlow id="f3" sourceRef="finish" targetRef="rate" />
    <bpmn:sequenceFlow id="f4" sourceRef="rate" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

# The visit's form: the score is checked by the process's record_rating (the second test).
RATING_FORM = """{"type": "object", "required": ["confirmed"], "properties": {
  "confirmed": {"type": "boolean", "const": true},
  "score": {"type": "integer", "title": "評分"},
  "comment": {"type": "string", "title": "意見"}}}"""
RATING_FILES = [
    SourceFile("rating_flow.bpmn", RATING_FLOW.encode()),
    SourceFile("rating_form.json", RATING_FORM.encode()),
]


def test_a_placement_recommends_occupies_and_rates_a_nurse(runtime, db, people, users):
    runtime.deploy(RATING_FILES)
    case = runtime.start_case("rating_flow", {"declined": people["張玉蘭"]}, prevalidated=True)
    assert case.data["nurse"]["name"] == "陳淑華"  # 張 declined; the newcomer before 楊
    with db.read() as session:
        assert session.get(Person, people["陳淑華"]).available is False
    done = runtime.complete_task(
        case.open_tasks[0].id, {"confirmed": True, "score": 5, "comment": "非常專業"}, "alice"
    )
    assert done.status == "completed"
    assert done.data["profile"] == {"person_id": people["陳淑華"], "rating": 5.0, "rating_count": 1}
    with db.read() as session:
        assert get_person(session, people["陳淑華"])["available"] is True


def test_a_bad_score_puts_the_case_in_error(runtime, db, people, users):
    runtime.deploy(RATING_FILES)
    case = runtime.start_case("rating_flow", {"declined": 0}, prevalidated=True)
    failed = runtime.complete_task(
        case.open_tasks[0].id, {"confirmed": True, "score": 9, "comment": ""}, "alice"
    )
    assert failed.status == "error" and failed.error_element == "rate"
    assert "from 1 to 5" in failed.error_message


# ----- concurrent ratings ---------------------------------------------------------------------


@pytest.mark.postgres
def test_two_cases_rating_one_person_at_once_both_count(pg_db_url):
    db = Database(pg_db_url)
    try:
        with db.write() as session:
            nurse = add_person(session, "nurse", "劉春梅", skills=["newborn_care"]).id
            session.commit()
        cases = [new_case(db, f"T-{n}") for n in range(4)]
        barrier, errors = threading.Barrier(len(cases)), []

        def rate(case_id: int, score: int) -> None:
            try:
                barrier.wait(timeout=10)
                with step(db, case_id, f"T-{case_id}"):
                    record_rating(nurse, score)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=rate, args=(c, s))
            for c, s in zip(cases, [5, 4, 3, 4], strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        with db.read() as session:
            assert get_person(session, nurse)["rating"] == 4.0
            assert get_person(session, nurse)["rating_count"] == 4
    finally:
        db.dispose()


# ----- demo data ----------------------------------------------------------------------------


def test_demo_data_loads_once_and_is_bookable(db, settings):
    first = load_demo(db, settings, NOW)
    assert first["service_items"] == 6 and first["people"] >= 20 and first["ratings"] > 20
    assert first["stores"] == 2
    # Monday 23 Nov to Sunday 6 Dec: ten working days for each of the seven staff members.
    assert first["shifts"] == 70
    assert load_demo(db, settings, NOW) == {k: 0 for k in first}
    # A week later only the new days are added.
    assert load_demo(db, settings, NOW + timedelta(days=7))["shifts"] == 35
    case_id = new_case(db, "T-1")
    with step(db, case_id):
        slots = free_slots("facial", "2026-11-24")
        assert slots[0] == "2026-11-24T01:00:00+00:00" and len(slots) == 15
        assert book_slot("massage", "2026-11-24T10:00:00+08:00", store="徐匯旗艦店")["ok"]
        assert names(rank_candidates("nurse", "newborn_care", limit=2)) == ["張玉蘭", "李秀英"]
        assert assign_professional("consultation", important=True)["name"] == "周文博"
    with db.read() as session:
        part_time = session.scalars(
            select(Shift).join(Resource).where(Resource.name == "林曉燕").order_by(Shift.starts_at)
        ).first()
    assert (part_time.starts_at.hour, part_time.ends_at.hour) == (1, 5)  # 09:00-13:00 local
    with db.read() as session:
        # Customers are told where each store is and what to prepare for each item.
        assert all(store.address for store in session.scalars(select(Store)))
        assert all(item.prep_notes for item in session.scalars(select(ServiceItem)))
