"""The customer pages' world for tests/webui/test_portal_*.py: two stores with addresses, a
facial with its preparation notes, one beautician on shift on Wednesday 25 November 2026 at
淮海店 and one on Thursday 26 November at 徐家匯店, the processes customers book, and a helper
that books a facial through the pages. The clock stands at Monday 23 November 2026 09:30."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.casework.resources import (
    add_resource,
    add_service_item,
    add_shift,
    add_store,
)
from engine.store.tables import Case, Outbox
from tests.webui.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13800138000"
HUAIHAI = ("淮海店", "上海市黃浦區淮海中路 100 號")
XUJIAHUI = ("徐家匯店", "上海市徐匯區漕溪北路 8 號")
# A signed-service booking's answers (the time is the test's).
SIGNED = {
    "service_item": "合同起草",
    "customer_name": "陳大文",
    "phone": PHONE,
    "email": "chen@example.com",
}
# Wednesday 25 November 2026, 10:00 in Shanghai.
WED_10 = "2026-11-25T02:00:00+00:00"


def files(*keys: str) -> list[Path]:
    found: list[Path] = []
    for key in keys:
        found.append(ROOT / "processes" / f"{key}.bpmn")
        found += sorted((ROOT / "processes").glob(f"{key}.*.dmn"))
        found += sorted((ROOT / "forms").glob(f"{key}.*.json"))
    return found


@pytest.fixture
def stores(db) -> None:
    with db.write() as session:
        add_store(session, *HUAIHAI)
        add_store(session, *XUJIAHUI)
        add_service_item(session, "facial", "面部護理", 60, "facial", "請勿化妝；提前10分鐘到店")
        lin = add_resource(session, "staff", "美容師小林", HUAIHAI[0], ["facial"])
        add_resource(session, "room", "1號房", HUAIHAI[0])
        add_shift(session, lin.id, "2026-11-25T09:00", "2026-11-25T17:00")
        zhou = add_resource(session, "staff", "美容師小周", XUJIAHUI[0], ["facial"])
        add_resource(session, "room", "2號房", XUJIAHUI[0])
        add_shift(session, zhou.id, "2026-11-26T09:00", "2026-11-26T17:00")
        session.commit()


def count_cases(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Case))


@pytest.fixture
def signed(runtime) -> Any:
    runtime.deploy(files("signed_service_booking"), actor="owner")
    return runtime


@pytest.fixture
def store_portal(runtime, stores) -> Any:
    runtime.deploy(files("store_appointment"), actor="owner")
    return runtime


def book_facial(
    client: Any,
    start: str = WED_10,
    store: str = HUAIHAI[0],
    day: str = "2026-11-25",
    phone: str = PHONE,
) -> str:
    """Book a facial through the pages; returns the booking number shown."""
    page = client.get(f"/book/store_appointment?service_item=facial&store={store}&day={day}")
    assert start in page.text, "the time is not offered"
    done = client.post(
        "/book/store_appointment",
        data={
            "service_item": "facial",
            "store": store,
            "day": day,
            "appointment_at": start,
            "customer_name": "王美玲",
            "phone": phone,
            "csrf_token": csrf_token(page.text),
        },
        follow_redirects=True,
    )
    assert done.status_code == 200, done.text
    return re.search(r'id="booking-number">([^<]+)<', done.text).group(1)


def look_up(client: Any, number: str, phone: str = PHONE, **headers: str) -> Any:
    token = csrf_token(client.get("/book/status").text)
    return client.post(
        "/book/status",
        data={"number": number, "phone": phone, "csrf_token": token},
        headers=headers or None,
    )


def sms_texts(db) -> list[str]:
    with db.read() as session:
        return list(
            session.scalars(select(Outbox.body).where(Outbox.channel == "sms").order_by(Outbox.id))
        )


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
