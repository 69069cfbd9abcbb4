"""A customer answers the consultation's satisfaction survey in real Chromium from the link in
the SMS the case queued: no sign-in, the answer reaches the case, the desk's survey call closes
by itself, and opening the link again says it was already answered."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from engine.identity.users import add_user
from engine.store.tables import Case, Outbox
from tests.e2e.staff_browser import new_tab, portal_links_to, serve, shot
from tests.webui.portal_world import files

pytestmark = pytest.mark.e2e

FILES = files("consultation")
CALLED = {"channel": "電話", "customer_name": "周先生", "phone": "13800000005"}
RECORD = {
    "customer_name": "周先生",
    "phone": "13800000005",
    "channel": "電話",
    "content": "上個月的賬單為何多了 30 元?",
    "topic": "費用查詢",
    "needs_specialist": False,
    "important": False,
}


@pytest.fixture
def server(app, runtime, db, settings, clock, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("CASEFLOW_SECRET_KEY", "e2e-customer-links")
    add_user(db, settings, "desk", ["service_desk"], clock.now())
    runtime.deploy(FILES, actor="owner")
    with serve(app) as base:
        portal_links_to(runtime, base)  # the links in the messages lead to this server
        yield base


def complete(runtime, number: str, element_id: str, data: dict) -> None:
    (task,) = [
        t
        for t in runtime.list_tasks(case=number, status=("open", "claimed"))
        if t.element_id == element_id
    ]
    runtime.complete_task(task.id, data, "desk")


def test_customer_answers_the_survey_from_the_sms_link(server, browser, runtime, db):
    number = runtime.start_case("consultation", CALLED).number
    complete(runtime, number, "record_consultation", RECORD)
    reply = {"reply_text": "多出的 30 元是上月的短信套餐費。", "reply_method": "短信"}
    complete(runtime, number, "reply_customer", {**reply, "customer_reaction": "滿意"})
    assert [t.element_id for t in runtime.list_tasks(case=number, status=("open",))] == [
        "satisfaction_survey"
    ]

    # The SMS as the outbox holds it, with the link in its text.
    with db.read() as session:
        case_id = session.scalars(select(Case.id).where(Case.number == number)).one()
        sms = session.scalars(
            select(Outbox).where(Outbox.case_id == case_id).order_by(Outbox.id.desc())
        ).first()
    assert (sms.channel, sms.recipient) == ("sms", "13800000005")
    link = re.search(r"https?://\S+", sms.body).group(0)
    assert link.startswith(f"{server}/book/reply/survey_answer/")

    errors: list[str] = []
    context, tab = new_tab(browser, errors)
    tab.goto(link)
    assert tab.text_content("h1").strip() == "客戶咨詢滿意度調查"
    assert tab.text_content("#case-number").strip() == number
    shot(tab, "customer-link-survey")
    for field, score in (
        ("channel_convenience", 5),
        ("staff_attitude", 4),
        ("result_satisfaction", 3),
    ):
        tab.check(f"input[name={field}][value='{score}']")
    tab.fill("textarea[name=survey_comment]", "回覆很快")
    tab.click("text=送出")
    assert "已收到您的回覆" in tab.text_content("#reply-done")

    case = runtime.get_case(number)
    assert case.status == "completed"
    assert (case.data["result_satisfaction"], case.data["survey_channel"]) == (3, "網上")
    assert case.data["survey_comment"] == "回覆很快"
    assert runtime.list_tasks(case=number, status=("open", "claimed")) == []

    # A second visit: already answered, and nothing changes.
    answer = tab.goto(link)
    assert answer.status == 409
    assert "此連結已使用過" in tab.text_content("#link-refused")
    shot(tab, "customer-link-used")
    context.close()
    assert errors == []
