"""A time a customer gives on a link page (the signed-service booking returned for correction:
/book/reply/resubmission/<token>) is checked by the booking page's own rule — office hours on
working days, public holidays closed, not past, at least `advance_working_days` working days
ahead unless marked urgent — and stored as the instant in UTC. A refused time is said beside
the field in the page's language and changes nothing: no message reaches the case, nothing is
queued, and the link still works. The clock stands at Monday 23 November 2026 09:30 Shanghai.

The change request of /book/status asks the same lead of the signed service's new time; its
form has no urgent choice, so a time too soon is refused naming the earliest one."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine import portal
from engine.casework import links
from engine.casework.portal_lead import running_case_lead
from engine.core.errors import ValidationFailed
from engine.identity.users import add_user
from engine.store.tables import Case, Event, Outbox
from tests.webui.conftest import csrf_token
from tests.webui.portal_world import (  # noqa: F401 - fixtures
    PHONE,
    book_facial,
    files,
    store_portal,
    stores,
)

KEY = "signed_service_booking"
REQUEST = {
    "service_item": "合同起草",
    "customer_name": "陳大文",
    "phone": PHONE,
    "email": "chen@example.com",
    "appointment_at": "2026-11-26T10:00",  # Thursday, company time
}
RETURN = {
    "review_decision": "退回修改",
    "important": False,
    "return_reason": "請補充業務需求說明",
    "guidance": "請寫明合同類型後重新提交",
}
ACCEPT = {
    "review_decision": "受理",
    "important": False,
    "location": "上海市浦東新區世紀大道 100 號 12 樓",
    "preparation_notes": "請攜帶營業執照副本",
}


@pytest.fixture(autouse=True)
def link_key(monkeypatch):
    monkeypatch.setenv("CASEFLOW_SECRET_KEY", "link-times-test")


def complete(runtime, number: str, element_id: str, data: dict, user: str = "alice") -> None:
    (task,) = [
        t
        for t in runtime.list_tasks(case=number, status=("open", "claimed"))
        if t.element_id == element_id
    ]
    runtime.complete_task(task.id, data, user)


@pytest.fixture
def signed(runtime, db, settings, clock):
    runtime.deploy(files(KEY), actor="owner")
    add_user(db, settings, "alice", ["service_desk"], clock.now())
    return runtime


@pytest.fixture
def returned(signed):
    """A booking made on the page and returned for correction: (number, the link's path)."""
    number = portal.book(signed, KEY, REQUEST)
    complete(signed, number, "review_request", RETURN)
    url = signed.get_case(number).data["returned"]["resubmit_url"]
    return number, url[len(signed.settings.portal.base_url) :]


def snapshot(runtime, db, number: str) -> tuple:
    """What a refused answer must leave as it was: the case's data, its history, its outbox
    and the messages it waits for."""
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        events = session.scalar(select(func.count()).where(Event.case_id == case_id))
        queued = session.scalar(select(func.count()).where(Outbox.case_id == case_id))
    case = runtime.get_case(number, history_limit=0)
    return case.data, events, queued, sorted(case.waiting_messages)


def resubmit(client, path: str, **fields):
    page = client.get(path)
    assert page.status_code == 200
    values = {k: v for k, v in REQUEST.items() if k != "appointment_at"}
    return client.post(path, data={**values, **fields, "csrf_token": csrf_token(page.text)})


def field_error(html: str, name: str = "appointment_at") -> str:
    found = re.search(rf'<span class="field-error" id="err-{name}"[^>]*>([^<]*)<', html)
    assert found, html[-2000:]
    return found.group(1)


def test_a_resubmitted_time_is_stored_in_utc(app, signed, returned):
    number, path = returned
    done = resubmit(app.test_client(), path, appointment_at="2026-11-27T15:00")
    assert done.status_code == 200, done.text[-2000:]
    case = signed.get_case(number)
    # Friday 15:00 in Shanghai is 07:00 UTC, as the booking page would have stored it.
    assert case.data["appointment_at"] == "2026-11-27T07:00:00+00:00"
    assert case.data["resubmission_count"] == 1 and case.data["problems"] == []


def test_the_picker_starts_at_the_earliest_time_the_lead_allows(app, returned):
    _, path = returned
    page = app.test_client().get(path).text
    picker = re.search(r'<input type="datetime-local" name="appointment_at"[^>]*>', page).group(0)
    # N = 1 on Monday 09:30: Tuesday 09:00; marked urgent, the next minute.
    assert 'min="2026-11-24T09:00"' in picker and 'data-min-urgent="2026-11-23T09:31"' in picker
    assert 'data-check-urgent-field="urgent"' in picker
    assert 'value="2026-11-26T10:00"' in picker  # the booked time, in company time


@pytest.mark.parametrize(
    ("wanted", "code", "said"),
    [
        ("2026-11-28T10:00", "day_closed", "2026年11月28日（星期六）不營業，請選擇工作日。"
         "最近可預約的時間：2026年11月30日（星期一）09:00。"),
        ("2027-01-01T10:00", "day_holiday", "元旦"),
        ("2026-11-20T10:00", "time_past", None),
        ("2026-11-24T17:30", "time_outside_hours", "該時間不在營業時間內（09:00–17:00）"),
        ("2026-11-23T16:00", "time_too_soon", "須至少提前 1 個工作日預約，最早可預約 "
         "2026年11月24日（星期二）09:00。如屬緊急需求，請勾選「緊急需求」，我們會盡量安排。"),
    ],
)  # fmt: skip
def test_a_time_the_booking_page_refuses_is_refused_and_changes_nothing(
    app, signed, db, returned, wanted, code, said
):
    number, path = returned
    before = snapshot(signed, db, number)
    client = app.test_client()
    refused = resubmit(client, path, appointment_at=wanted)
    assert refused.status_code == 422
    if said:
        assert said in field_error(refused.text)
    assert snapshot(signed, db, number) == before

    # The engine says why, by the same rule as the booking page.
    token = path.rsplit("/", 1)[1]
    with pytest.raises(ValidationFailed) as failure:
        links.answer(signed, "resubmission", token, {**REQUEST, "appointment_at": wanted})
    assert [m.code for m in failure.value.errors["appointment_at"]] == [code]
    assert snapshot(signed, db, number) == before

    # The link still works: a good time goes through.
    done = resubmit(client, path, appointment_at="2026-11-30T10:00")
    assert done.status_code == 200
    assert signed.get_case(number).data["appointment_at"] == "2026-11-30T02:00:00+00:00"


def test_the_refusal_speaks_english_when_asked(app, signed, returned):
    _, path = returned
    client = app.test_client()
    client.set_cookie("lang", "en")
    refused = resubmit(client, path, appointment_at="2026-11-23T16:00")
    assert refused.status_code == 422
    assert "at least 1 working day ahead: the earliest you can book is Tue 24 Nov 2026, 09:00" in (
        field_error(refused.text)
    )


def test_an_urgent_resubmission_too_soon_goes_through_flagged(app, signed, returned):
    number, path = returned
    done = resubmit(app.test_client(), path, appointment_at="2026-11-23T16:00", urgent="on")
    assert done.status_code == 200
    case = signed.get_case(number)
    assert case.data["appointment_at"] == "2026-11-23T08:00:00+00:00"
    assert (case.data["urgent_flag"], case.data["short_notice"]) == (True, True)


# ----- the change request of /book/status --------------------------------------------------


@pytest.fixture
def confirmed(signed, db, clock):
    """A signed booking accepted and given a professional: it takes change requests."""
    from engine.casework.directory import PersonKind, add_person

    with db.write() as session:
        add_person(session, PersonKind.PROFESSIONAL, "王律師", "+86 139 0000 0002", None,
                   ["合同起草"], experience_years=12)  # fmt: skip
        session.commit()
    number = portal.book(signed, KEY, REQUEST)
    complete(signed, number, "review_request", ACCEPT)
    assert portal.status(signed, number, PHONE).can_change
    return number


def ask_change(client, number: str, new_start: str):
    token = csrf_token(client.get("/book/status").text)
    data = {"number": number, "phone": PHONE, "kind": "change", "csrf_token": token}
    return client.post("/book/request", data={**data, "new_start": new_start, "reason": "出差"})


def test_a_change_to_a_time_too_soon_is_refused_naming_the_earliest(app, signed, db, confirmed):
    before = snapshot(signed, db, confirmed)
    with pytest.raises(ValidationFailed) as failure:
        portal.request_change(signed, confirmed, PHONE, "change", {"new_start": "2026-11-23T16:00"})
    (refused,) = failure.value.errors["new_start"]
    assert (refused.code, refused.params["earliest"]) == (
        "time_too_soon",
        "2026-11-24T01:00:00+00:00",
    )
    assert not refused.params["urgent"]  # the change form has no urgent choice to offer
    assert snapshot(signed, db, confirmed) == before

    client = app.test_client()
    page = ask_change(client, confirmed, "2026-11-23T16:00")
    assert page.status_code == 422
    assert "須至少提前 1 個工作日預約，最早可預約 2026年11月24日（星期二）09:00。" in page.text
    assert "緊急需求" not in page.text
    assert snapshot(signed, db, confirmed) == before

    # A time the lead allows reaches the case (sent in UTC; the process shows it to the desk
    # in company time).
    assert ask_change(client, confirmed, "2026-11-24T09:00").status_code == 200
    assert signed.get_case(confirmed).data["requested_appointment_at"] == "2026-11-24 09:00"


def test_a_store_appointment_has_no_lead_and_its_change_goes_through(app, store_portal, clock):  # noqa: F811
    client = app.test_client()
    number = book_facial(client)  # Wednesday 25 November 10:00 at 淮海店
    assert running_case_lead(store_portal, number) is None
    clock.set("2026-11-24T01:00:00+00:00")  # Tuesday 09:00
    assert ask_change(client, number, "2026-11-25T14:00").status_code == 200
    assert store_portal.get_case(number).data["appointment_at"] == "2026-11-25T06:00:00+00:00"
