"""A company as the main pages show it, served from a thread, and Chromium to look at it.

`live_company` deploys the store's appointment process (and the small review process), adds
its people, rooms and a shift, and books one appointment through the portal, so every main
page has something on it: the store clerk's task, the supervisor's case, the customer's booking.
Used by the accessibility and keyboard tests (import the fixtures into the test module)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest

from engine.casework import portal
from tests.conftest import fixture_files
from tests.e2e.staff_browser import AXE, facial_store, launch, serve

PHONE = "13800138000"


@dataclass(frozen=True)
class Company:
    base: str  # the server's address
    number: str  # the booked appointment's case number
    phone: str
    task_id: int  # the store clerk's open task (到店接待及服務)
    review_task_id: int  # alice's open task of the review process (a checkbox and a note)


@pytest.fixture
def live_company(app, runtime, db, settings, clock) -> Iterator[Company]:
    facial_store(runtime, db, settings, clock, actor="olga")
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"), actor="olga")
    slot = next(
        s
        for s in portal.free_slots(runtime, "facial", "2026-11-25")
        if runtime.calendar.local(datetime.fromisoformat(s)).hour == 10
    )
    booking = {
        "service_item": "facial",
        "appointment_at": slot,
        "customer_name": "王美玲",
        "phone": PHONE,
    }
    page = portal.page(runtime, "store_appointment")
    schema = {
        **page.schema,
        "properties": {
            **page.schema["properties"],
            "appointment_at": {**page.schema["properties"]["appointment_at"], "enum": [slot]},
        },
    }
    number = portal.book(runtime, "store_appointment", booking, schema=schema)
    task = next(t for t in runtime.get_case(number).open_tasks)
    review = runtime.start_case("review_flow", {"customer_name": "陳大文"})
    with serve(app) as base:
        yield Company(base, number, PHONE, task.id, review.open_tasks[0].id)


@pytest.fixture
def chromium() -> Iterator[object]:
    with launch(AXE) as browser:
        yield browser
