"""Rule 6: the status page shows what was booked and what can still be done: change and
cancel only when the process would accept them now — by its own rules and the case's own
parameters (store_appointment: no change within change_notice_hours, a fee for a cancellation
within cancel_notice_hours; signed_service_booking: fees by working days and free changes) —
otherwise why not. Each answer is checked against what the process itself then does."""

from __future__ import annotations

import re

import pytest

from engine import portal
from tests.processes import test_signed_service_booking as signed
from tests.processes.test_signed_service_booking import booking  # noqa: F401 - fixture
from tests.webui.conftest import csrf_token
from tests.webui.portal_world import (  # noqa: F401 - fixtures
    PHONE,
    ROOT,
    book_facial,
    files,
    look_up,
    store_portal,
    stores,
    text_of,
)


def ask(client, number, kind, **fields):
    token = csrf_token(client.get("/book/status").text)
    data = {"number": number, "phone": PHONE, "kind": kind, "csrf_token": token, **fields}
    return client.post("/book/request", data=data)


def test_a_confirmed_store_booking_offers_change_and_cancel(app, store_portal):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    page = look_up(client, number)
    text = text_of(page.text)
    assert "狀態 已確認" in text
    assert 'name="new_start"' in page.text and 'value="cancel"' in page.text
    assert 'id="change-why-not"' not in page.text and 'id="cancel-notice"' not in page.text


def test_within_24_hours_change_is_refused_and_cancel_warns_of_the_fee(app, store_portal, clock):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)  # Wednesday 10:00
    clock.set("2026-11-24T03:00:00+00:00")  # Tuesday 11:00: 23 hours before
    page = look_up(client, number)
    assert 'name="new_start"' not in page.text
    why = re.search(r'id="change-why-not">([^<]+)<', page.text).group(1)
    assert why == "距預約已不足 24 小時：已無法在線上改期，請致電門店。"
    notice = re.search(r'id="cancel-notice">([^<]+)<', page.text).group(1)
    assert notice == "距預約已不足 24 小時：現在取消可能需繳付違約金 100 元。"
    client.set_cookie("lang", "en")
    english = text_of(look_up(client, number).text)
    assert "Less than 24 hours before the appointment: it cannot be changed online" in english

    # A change posted anyway is refused with the same reason, and nothing reaches the case.
    client.set_cookie("lang", "zh_Hant")
    refused = ask(client, number, "change", new_start="2026-11-25T14:00")
    assert refused.status_code == 409 and why in refused.text
    assert "change" not in store_portal.get_case(number).data

    # The process agrees: asked directly, it refuses the change itself.
    case = store_portal.send_message(
        number, "change_request", {"new_start": "2026-11-25T06:00:00+00:00"}
    )
    assert case.data["change_refusal"] == "預約時間前 24 小時內不能改期"

    # The cancellation goes through, and the process charges what the page announced.
    done = ask(client, number, "cancel", reason="臨時有事")
    assert done.status_code == 200 and "已收到您的取消" in done.text
    case = store_portal.get_case(number)
    assert case.data["late_cancel_penalty"] is True and case.data["late_cancel_fee"] == 100
    assert [t.element_id for t in case.open_tasks] == ["handle_penalty"]


def test_before_the_notice_period_the_process_moves_the_booking(app, store_portal, clock):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    clock.set("2026-11-24T01:00:00+00:00")  # Tuesday 09:00: 25 hours before
    assert portal.status(store_portal, number, PHONE).can_change
    assert ask(client, number, "change", new_start="2026-11-25T14:00").status_code == 200
    case = store_portal.get_case(number)
    assert case.data["change_refusal"] == ""
    assert case.data["appointment_at"] == "2026-11-25T06:00:00+00:00"


def test_the_rule_reads_the_cases_own_parameter(app, store_portal, clock, tmp_path):  # noqa: F811
    """The owner set 48 hours: the page says 48, with no number of its own."""
    source = (ROOT / "processes/store_appointment.bpmn").read_text(encoding="utf-8")
    changed = source.replace(
        '<spiffworkflow:property name="default:change_notice_hours" value="24"/>',
        '<spiffworkflow:property name="default:change_notice_hours" value="48"/>',
    )
    assert changed != source
    path = tmp_path / "store_appointment.bpmn"
    path.write_text(changed, encoding="utf-8")
    store_portal.deploy([path], actor="owner")
    client = app.test_client()
    number = book_facial(client)  # Wednesday 10:00, 48.5 hours ahead
    assert portal.status(store_portal, number, PHONE).can_change
    clock.set("2026-11-23T02:30:00+00:00")  # Monday 10:30: 47.5 hours before
    page = look_up(client, number)
    assert "距預約已不足 48 小時" in page.text and 'name="new_start"' not in page.text


def test_a_booking_being_arranged_cannot_be_changed_online_yet(app, store_portal):  # noqa: F811
    """Two requests for one slot: the second waits for the desk to offer other times, and
    until then it can be neither changed nor cancelled online."""
    request = {
        "service_item": "facial",
        "store": "淮海店",
        "appointment_at": "2026-11-25T02:00:00+00:00",
        "customer_name": "王美玲",
        "phone": PHONE,
    }
    first = portal.book(store_portal, "store_appointment", request)
    second = portal.book(
        store_portal,
        "store_appointment",
        {**request, "customer_name": "李小姐", "phone": "13900000009"},
    )
    assert portal.status(store_portal, first, PHONE).stage == "confirmed"
    page = look_up(app.test_client(), second, "13900000009")
    text = text_of(page.text)
    assert "狀態 安排中" in text
    assert text.count("預約正在審核或安排中，目前無法在線上辦理，請致電客服。") == 2
    assert 'name="new_start"' not in page.text and 'value="cancel"' not in page.text
    assert [t.element_id for t in store_portal.get_case(second).open_tasks] == [
        "offer_alternatives"
    ]


def test_a_cancelled_booking_says_it_is_closed(app, store_portal):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)
    assert ask(client, number, "cancel", reason="行程改變").status_code == 200
    text = text_of(look_up(client, number).text)
    assert "狀態 客戶取消" in text and text.count("此預約已結束。") == 2


def test_signed_service_fees_by_working_days_and_free_changes(app, booking, fresh_runtime, clock):  # noqa: F811
    number = signed.confirmed_booking(fresh_runtime, clock)  # Thursday 26 November 10:00
    client = app.test_client()
    page = look_up(client, number, signed.PHONE)
    assert 'name="new_start"' in page.text and 'id="change-notice"' not in page.text
    text = text_of(page.text)
    assert "合同起草" in text and "2026年11月26日（星期四）10:00" in text
    assert "上海市浦東新區世紀大道 100 號 12 樓" in text

    clock.set("2026-11-26T00:00:00+00:00")  # Thursday 08:00: no working day left before it
    page = look_up(client, number, signed.PHONE)
    change = re.search(r'id="change-notice">([^<]+)<', page.text).group(1)
    assert change == "距預約已不足 1 個工作日：現在變更可能需繳付變更費 100 元。"
    cancel = re.search(r'id="cancel-notice">([^<]+)<', page.text).group(1)
    assert cancel == "距預約已不足 1 個工作日：現在取消可能需繳付取消費 200 元。"
    # The process then computes the same fee for the change.
    portal.request_change(
        fresh_runtime(), number, signed.PHONE, "change", {"new_start": "2026-11-27T10:00"}
    )
    case = fresh_runtime().get_case(number)
    assert (case.data["change_late"], case.data["pending_change_fee"]) == (True, 100)
    # While the desk handles it, nothing more can be asked online.
    status = portal.status(fresh_runtime(), number, signed.PHONE)
    assert not status.can_change and status.change.why_not.code == "request_not_now"


@pytest.mark.parametrize(
    ("changes_made", "now", "fee", "late", "repeated"),
    [
        (0, "2026-11-24T02:00:00+00:00", None, False, False),
        (1, "2026-11-24T02:00:00+00:00", 100, False, True),
        (1, "2026-11-26T00:00:00+00:00", 200, True, True),
    ],
)
def test_signed_change_fee_rule(runtime, changes_made, now, fee, late, repeated):
    from datetime import datetime

    from engine.casework.portal_rules import request_actions

    data = {
        "appointment_at": "2026-11-26T10:00",
        "change_advance_working_days": 1,
        "late_change_fee": 100,
        "free_changes": 1,
        "changes_made": changes_made,
        "repeat_change_fee": 100,
        "cancel_advance_working_days": 1,
        "late_cancel_fee": 200,
    }
    waits = offered = {"change_request", "cancel_request"}
    actions = request_actions(
        runtime.calendar, datetime.fromisoformat(now), "signed_service_booking", "running",
        waits, data, offered,
    )  # fmt: skip
    change = actions["change"]
    assert change.allowed
    if fee is None:
        assert change.notice is None
    else:
        assert change.notice.params["fee"] == fee
        assert (change.notice.params["late"], change.notice.params["repeated"]) == (late, repeated)
