"""Customers book online, follow their booking with number + phone, change or cancel it."""

from __future__ import annotations

import pytest

from engine.casework import portal
from engine.core.errors import InvalidState, NotFound, ValidationFailed
from tests.conftest import fixture_files

BOOKING = {
    "customer_name": "王小明",
    "customer_phone": "13812345678",
    "appointment_at": "2026-11-26T10:00:00+08:00",
}


@pytest.fixture
def deployed(runtime):
    runtime.deploy(fixture_files("portal_flow.bpmn", "portal_start.json"))
    return runtime


def test_only_processes_with_a_booking_page_are_offered(deployed):
    deployed.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    assert [(p.key, p.title) for p in portal.bookable(deployed)] == [("portal_flow", "門店預約")]
    with pytest.raises(NotFound):
        portal.book(deployed, "review_flow", {})


def test_book_check_change_then_too_late(deployed, clock):
    with pytest.raises(ValidationFailed) as bad:
        portal.book(deployed, "portal_flow", {**BOOKING, "customer_phone": "12345"})
    assert set(bad.value.errors) == {"customer_phone"}
    number = portal.book(deployed, "portal_flow", BOOKING)
    assert number.startswith("PB-")

    shown = portal.status(deployed, number, "+86 138-1234-5678")
    assert shown.status == "running" and shown.can_change and shown.can_cancel
    assert shown.details["customer_name"] == "王小明"
    with pytest.raises(NotFound):
        portal.status(deployed, number, "13800000000")
    with pytest.raises(NotFound):
        portal.status(deployed, "PB-20261123-9999", "13812345678")

    portal.request_change(
        deployed, number, "13812345678", "change", {"new_start": "2026-11-27T15:00:00+08:00"}
    )
    # The process receives the contract's keys, the time in UTC.
    assert deployed.get_case(number).data["change"] == {
        "new_start": "2026-11-27T07:00:00+00:00",
        "reason": "",
    }
    assert deployed.get_case(number).data["appointment_at"] == "2026-11-27T07:00:00+00:00"
    # The cut-off moved with the appointment: 24 hours before 27 Nov 15:00.
    assert [t.due_at.isoformat() for t in deployed.get_case(number).timers] == [
        "2026-11-26T07:00:00+00:00"
    ]

    clock.set("2026-11-26T07:00:00+00:00")
    with pytest.raises(InvalidState, match="no longer be changed"):
        portal.request_change(deployed, number, "13812345678", "cancel", {"reason": "有事"})
    assert deployed.get_case(number).status == "running"


def test_cancel_in_time(deployed):
    number = portal.book(deployed, "portal_flow", BOOKING)
    portal.request_change(deployed, number, "13812345678", "cancel", {"reason": "行程改變"})
    case = deployed.get_case(number)
    assert case.status == "completed" and case.data["cancel"] == {"reason": "行程改變"}
    with pytest.raises(InvalidState):
        portal.request_change(deployed, number, "13812345678", "cancel", {})


def test_a_timer_after_an_event_based_gateway_is_named_after_its_event(deployed, clock):
    """SpiffWorkflow lets the gateway wait on the timer; the case shows the timer event."""
    number = portal.book(deployed, "portal_flow", BOOKING)
    (timer,) = deployed.get_case(number).timers
    assert (timer.element_id, timer.name) == ("changes_closed", "停止線上更改")
    clock.set("2026-11-26T07:00:00+00:00")  # past the change cut-off
    deployed.fire_timers(number)
    fired = [e for e in deployed.get_case(number).history if e.kind == "timer_fired"]
    assert [e.element_id for e in fired] == ["changes_closed"]


@pytest.mark.parametrize(
    ("posted", "code"),
    [
        ({}, "change_time_missing"),
        ({"new_start": "  "}, "change_time_missing"),
        ({"new_start": "next Tuesday"}, "change_time_invalid"),
        ({"new_start": "2026-11-23T09:00"}, "change_time_past"),  # company time, before 09:30
    ],
)
def test_a_change_request_without_a_future_time_sends_nothing(deployed, posted, code):
    number = portal.book(deployed, "portal_flow", BOOKING)
    with pytest.raises(ValidationFailed) as refused:
        portal.request_change(deployed, number, "13812345678", "change", posted)
    assert [m.code for m in refused.value.errors["new_start"]] == [code]
    case = deployed.get_case(number)
    # The booked time as the page sent it, stored as the instant in UTC.
    assert "change" not in case.data and case.data["appointment_at"] == "2026-11-26T02:00:00+00:00"


def test_request_payloads_follow_the_contract(deployed):
    change = portal.request_payload(
        deployed, "change", {"new_start": "2026-11-27T15:00", "reason": " 出差 ", "note": "x"}
    )
    assert change == {"new_start": "2026-11-27T07:00:00+00:00", "reason": "出差"}
    assert portal.request_payload(deployed, "cancel", {"reason": "有事", "x": 1}) == {
        "reason": "有事"
    }
