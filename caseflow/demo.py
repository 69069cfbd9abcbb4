"""Demo data: service items with their preparation notes, two stores with their addresses, rooms
and staff on shift for the next 14 days, and a
directory of nurses, nannies, cleaners, technicians, professionals and customers with ratings.

`load_demo` may run at every start (`make run`): it adds what is missing and changes nothing
that is there, so a second run only adds shifts for days that came into the 14-day window.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.casework.directory import Person, add_person, add_rating
from engine.casework.resources import (
    Resource,
    ServiceItem,
    Shift,
    Store,
    add_resource,
    add_service_item,
    add_store,
)
from engine.core.calendar import BusinessCalendar
from engine.core.settings import Settings
from engine.store.database import Database

SHIFT_DAYS = 14

SERVICE_ITEMS = [
    # code, name, minutes, skill, preparation notes told in the confirmation and the reminder
    ("facial", "面部護理", 60, "facial", "請勿化妝；提前10分鐘到店"),
    ("skin_check", "皮膚檢測", 30, "facial", "檢測前12小時內請勿使用護膚品；提前10分鐘到店"),
    ("massage", "全身按摩", 90, "massage", "按摩前1小時內請勿進食；請穿著寬鬆衣物"),
    (
        "postnatal_repair",
        "產後修復",
        90,
        "postnatal",
        "產後42天後方可預約；請攜帶產後復查報告；提前10分鐘到店",
    ),
    ("infant_massage", "嬰兒撫觸", 60, "infant_massage", "請在寶寶餵奶後1小時到店；請攜帶尿布"),
    ("consultation", "專業諮詢", 30, "consultation", "如有相關資料請一併攜帶"),
]

# store → address (customers are told where to go)
STORE_ADDRESSES = {
    "徐匯旗艦店": "上海市徐匯區漕溪北路88號2樓",
    "靜安店": "上海市靜安區南京西路1266號3樓",
}

# store → [(kind, name, skills)]; a room with no skills suits every item.
STORES = {
    "徐匯旗艦店": [
        ("room", "美容室A", []),
        ("room", "美容室B", []),
        ("room", "按摩室", ["massage", "postnatal"]),
        ("station", "諮詢台", ["consultation"]),
        ("staff", "陳美玲", ["facial", "massage"]),
        ("staff", "林曉燕", ["facial"]),
        ("staff", "黃麗華", ["massage", "postnatal"]),
        ("staff", "周文博", ["consultation"]),
    ],
    "靜安店": [
        ("room", "護理室", []),
        ("room", "嬰兒護理室", ["infant_massage"]),
        ("station", "諮詢台", ["consultation"]),
        ("staff", "吳雅琴", ["facial", "infant_massage"]),
        ("staff", "趙欣怡", ["facial", "postnatal"]),
        ("staff", "孫志強", ["consultation"]),
    ],
}

# Staff working only part of the day (local wall clock); everyone else works office hours.
PART_TIME = {"林曉燕": (time(9), time(13)), "趙欣怡": (time(13), time(17))}

# kind → [(name, phone, skills, years, ratings, available)]
PEOPLE: dict[str, list[tuple[str, str, list[str], int, list[int], bool]]] = {
    "nurse": [
        (
            "李秀英",
            "13800001001",
            ["newborn_care", "postpartum_meal", "lactation"],
            12,
            [5, 5, 4, 5],
            True,
        ),
        ("王桂芳", "13800001002", ["newborn_care", "postpartum_meal"], 8, [4, 4, 5], True),
        ("張玉蘭", "13800001003", ["newborn_care", "twins"], 15, [5, 4, 5, 5, 5], True),
        ("劉春梅", "13800001004", ["newborn_care"], 2, [], True),
        ("楊淑珍", "13800001005", ["newborn_care", "postpartum_meal"], 6, [3, 2, 2], True),
        ("何翠萍", "13800001006", ["newborn_care", "lactation"], 10, [5, 5], False),
    ],
    "nanny": [
        ("陳曉紅", "13800002001", ["infant_care", "early_education"], 7, [5, 4], True),
        ("羅麗娟", "13800002002", ["infant_care"], 4, [4], True),
        ("鄭佳佳", "13800002003", ["infant_care", "early_education", "english"], 3, [], True),
    ],
    "cleaner": [
        ("馬阿姨", "13800003001", ["regular_clean", "deep_clean"], 9, [5, 5, 4], True),
        ("高阿姨", "13800003002", ["regular_clean", "window"], 5, [4, 3], True),
        ("宋阿姨", "13800003003", ["regular_clean", "deep_clean", "window"], 11, [4, 5, 5], True),
        ("唐阿姨", "13800003004", ["regular_clean"], 1, [], True),
    ],
    "technician": [
        ("許建國", "13800004001", ["gps_terminal", "sim_change"], 8, [5, 4], True),
        ("謝偉", "13800004002", ["appliance_repair", "plumbing"], 12, [4, 4, 5], True),
        ("韓磊", "13800004003", ["gps_terminal", "appliance_repair"], 3, [3], True),
    ],
    "professional": [
        ("周文博", "13800005001", ["consultation", "nutrition"], 14, [5, 5, 4], True),
        ("孫志強", "13800005002", ["consultation"], 6, [4, 5], True),
        ("鄧慧敏", "13800005003", ["consultation", "postnatal", "psychology"], 9, [5], True),
        ("蔡明", "13800005004", ["legal"], 20, [4, 4], True),
    ],
    "customer": [
        ("王小明", "13900000001", [], 0, [], True),
        ("李佳怡", "13900000002", [], 0, [], True),
        ("張偉", "13900000003", [], 0, [], True),
        ("劉婷婷", "13900000004", [], 0, [], True),
    ],
}


def load_demo(db: Database, settings: Settings, now: datetime) -> dict[str, int]:
    """Add the demo data that is missing; returns how many rows of each kind were added."""
    calendar = BusinessCalendar.from_settings(settings)
    added = {
        "stores": 0,
        "service_items": 0,
        "resources": 0,
        "shifts": 0,
        "people": 0,
        "ratings": 0,
    }
    with db.write() as session:
        for store, address in STORE_ADDRESSES.items():
            # A store a resource named before stores had addresses gets its address now.
            known = session.get(Store, store)
            if known is None or not known.address:
                add_store(session, store, address)
                added["stores"] += 1
        for code, name, minutes, skill, notes in SERVICE_ITEMS:
            item = session.get(ServiceItem, code)
            if item is None:
                add_service_item(session, code, name, minutes, skill, notes)
                added["service_items"] += 1
            elif not item.prep_notes:  # an item from before items had notes
                item.prep_notes = notes
        for store, entries in STORES.items():
            for kind, name, skills in entries:
                resource = _resource(session, store, name)
                if resource is None:
                    resource = add_resource(session, kind, name, store, skills)
                    added["resources"] += 1
                if kind == "staff":
                    added["shifts"] += _shifts(session, calendar, resource, now)
        for kind, people in PEOPLE.items():
            for name, phone, skills, years, ratings, available in people:
                if _person(session, kind, phone) is not None:
                    continue
                email = f"{phone}@example.com" if kind == "customer" else None
                person = add_person(
                    session, kind, name, phone, email, skills, years, available=available
                )
                added["people"] += 1
                for score in ratings:
                    add_rating(session, person.id, score, now, comment="歷史評價")
                    added["ratings"] += 1
        session.commit()
    return added


def _resource(session: Session, store: str, name: str) -> Resource | None:
    return session.scalars(
        select(Resource).where(Resource.store == store, Resource.name == name)
    ).first()


def _person(session: Session, kind: str, phone: str) -> Person | None:
    return session.scalars(select(Person).where(Person.kind == kind, Person.phone == phone)).first()


def _shifts(session: Session, calendar: BusinessCalendar, staff: Resource, now: datetime) -> int:
    """Shifts on each working day of the next SHIFT_DAYS days that the staff member lacks."""
    begins, ends = PART_TIME.get(staff.name, (calendar.office_start, calendar.office_end))
    first = calendar.local(now).date()
    have = set(session.scalars(select(Shift.starts_at).where(Shift.resource_id == staff.id)).all())
    count = 0
    for day in (first + timedelta(days=n) for n in range(SHIFT_DAYS)):
        if not calendar.is_working_day(day):
            continue
        starts = calendar.utc(datetime.combine(day, begins))
        if starts in have:
            continue
        ends_at = calendar.utc(datetime.combine(day, ends))
        session.add(Shift(resource_id=staff.id, starts_at=starts, ends_at=ends_at))
        count += 1
    return count


def summary(added: dict[str, Any]) -> str:
    """One line for the command line: what load_demo added."""
    return ", ".join(f"{count} {what}" for what, count in added.items())
