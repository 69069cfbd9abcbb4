"""Data defects customers and staff met, each walked through in real Chromium:

1. a customer's change request reaches the process with the new time (portal contract);
2. reloading the booking confirmation, or posting the form again, books nothing more;
3. a task form is not prefilled from another task's field of the same name, and a payment
   below the amount due does not pass;
4. a changed form reaches new cases of the processes that use it, not the running ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from engine.identity.users import add_user
from engine.runtime.versions import get_process
from engine.store.tables import Case
from tests.conftest import fixture_files
from tests.e2e.staff_browser import facial_store, new_tab, serve, sign_in
from tests.webui.conftest import PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def store(app, runtime, db, settings, clock) -> Iterator[str]:
    """The store appointment process with a facial room and a beautician on Wednesday."""
    facial_store(runtime, db, settings, clock)
    with serve(app) as base:
        yield base


@pytest.fixture
def tab(browser) -> Iterator[object]:
    errors: list[str] = []
    context, page = new_tab(browser, errors)
    try:
        yield page
    finally:
        context.close()
    assert errors == []


def book_facial(tab, base: str, name: str = "王美玲") -> str:
    tab.goto(f"{base}/book/store_appointment?service_item=facial&day=2026-11-25")
    tab.select_option("select[name=appointment_at]", label="2026年11月25日（星期三）10:00")
    tab.fill("input[name=customer_name]", name)
    tab.fill("input[name=phone]", "13800138000")
    submit(tab, "text=送出預約")
    return tab.text_content("#booking-number").strip()


def submit(tab, selector: str) -> None:
    """Click a button that posts a form and wait for the answer's page."""
    with tab.expect_navigation():
        tab.click(selector)


def look_up(tab, base: str, number: str) -> None:
    tab.goto(f"{base}/book/status")
    tab.fill("input[name=number]", number)
    tab.fill("input[name=phone]", "13800138000")
    submit(tab, "main button[type=submit]")


# ----- 1. the change request's new time ------------------------------------------------------


def test_a_change_request_moves_the_store_appointment(store, tab, runtime):
    number = book_facial(tab, store)
    look_up(tab, store, number)

    # A time in the past is refused beside the field as it is picked: the form is not sent,
    # nothing reaches the case.
    tab.fill("input[name=new_start]", "2026-11-20T10:00")
    tab.fill("form:has(input[value=change]) input[name=reason]", "要加班")
    tab.wait_for_selector("#err-new_start")
    assert "該時間已過" in tab.text_content("#err-new_start")
    tab.click("text=申請更改")  # refused on the page: no post
    assert tab.locator("#err-new_start").is_visible()
    case = runtime.get_case(number)
    assert "change" not in case.data and case.data["appointment_at"] == "2026-11-25T02:00:00+00:00"

    # Wednesday 14:00 company time: the store moves the booking.
    tab.fill("input[name=new_start]", "2026-11-25T14:00")
    submit(tab, "text=申請更改")
    assert "已收到您的更改申請" in tab.text_content("main")
    case = runtime.get_case(number)
    assert case.data["change"] == {"new_start": "2026-11-25T06:00:00+00:00", "reason": "要加班"}
    assert case.data["change_refusal"] == ""
    assert case.data["booking"]["ok"] is True
    assert case.data["appointment_at"] == "2026-11-25T06:00:00+00:00"
    assert [t.element_id for t in case.open_tasks] == ["attend"]


# ----- 2. reloading the confirmation books nothing ---------------------------------------------


@pytest.fixture
def booking_page(app, runtime) -> Iterator[str]:
    runtime.deploy(fixture_files("portal_flow.bpmn", "portal_start.json"), actor="owner")
    with serve(app) as base:
        yield base


def test_reload_back_and_resubmit_book_once(booking_page, tab, db):
    base = booking_page

    def cases() -> int:
        with db.read() as session:
            return session.scalar(select(func.count()).select_from(Case))

    tab.goto(f"{base}/book/portal_flow")
    first_key = tab.input_value("input[name=form_key]")
    tab.fill("input[name=customer_name]", "王小明")
    tab.fill("input[name=customer_phone]", "13812345678")
    tab.fill("input[name=appointment_at]", "2026-11-26T10:00")
    submit(tab, "text=送出預約")
    assert tab.url == f"{base}/book/portal_flow/booked"  # redirected after the post
    number = tab.text_content("#booking-number").strip()
    assert cases() == 1

    tab.reload()  # a GET: the same confirmation, nothing posted again
    assert tab.text_content("#booking-number").strip() == number
    assert cases() == 1

    # Back: the browser refills what was typed on a freshly rendered form; sent again, it is
    # the same booking.
    tab.go_back()
    assert tab.input_value("input[name=customer_name]") == "王小明"
    submit(tab, "text=送出預約")
    assert tab.text_content("#booking-number").strip() == number
    assert cases() == 1

    # The first form's key posted again, even with an answer changed: still the first booking.
    tab.goto(f"{base}/book/portal_flow")
    tab.eval_on_selector("input[name=form_key]", "(e, key) => { e.value = key }", first_key)
    tab.fill("input[name=customer_name]", "王大明")
    tab.fill("input[name=customer_phone]", "13812345678")
    tab.fill("input[name=appointment_at]", "2026-11-26T10:00")
    submit(tab, "text=送出預約")
    assert tab.text_content("#booking-number").strip() == number
    assert cases() == 1

    # A new form with other answers is a new booking.
    tab.goto(f"{base}/book/portal_flow")
    tab.fill("input[name=customer_name]", "王大明")
    tab.fill("input[name=customer_phone]", "13812345679")
    tab.fill("input[name=appointment_at]", "2026-11-27T10:00")
    submit(tab, "text=送出預約")
    assert tab.text_content("#booking-number").strip() != number
    assert cases() == 2

    # The confirmation is this browser's: another one is sent to the booking form.
    other = tab.context.browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(f"{base}/book/portal_flow/booked")
        assert stranger.url == f"{base}/book/portal_flow"
        assert stranger.locator("#booking-number").count() == 0
    finally:
        other.close()


# ----- 3. prefill only what a form asks for; a short payment does not pass ------------------------


@pytest.fixture
def cleaning(app, runtime, fresh_runtime, db, settings, clock) -> Iterator[str]:
    from tests.processes import test_home_cleaning_dispatch as hc

    for name, roles in {"desk": ["service_desk"], "ayi": ["field_staff"]}.items():
        add_user(db, settings, name, roles, clock.now())
    add_user(db, settings, "cashier", ["finance"], clock.now(), password=PASSWORD)
    runtime.deploy(hc.FILES, actor="owner")
    # Up to finance's confirmation: the cleaner signed the work order at 16:00 (received_at),
    # the visit is done and the service centre collected the 760 due.
    number, _case = hc.start_and_quote(fresh_runtime)
    hc.agree(fresh_runtime, number, agreed_price=760)
    hc.dispatch(fresh_runtime, number)
    clock.set("2026-11-25T03:30:00+00:00")
    visit = {
        "visit_result": "已完成並經客戶驗收簽名",
        "finished_at": "2026-11-25T11:30",
        "accepted_by": "王小明",
        "work_summary": "全屋開荒",
    }
    hc.work(fresh_runtime, number, "visit", "ayi", visit)
    confirmed = {"end_time_confirmed": "2026-11-25T11:30", "callback_result": "滿意"}
    hc.work(fresh_runtime, number, "confirm_end", "desk", confirmed)
    collected = {**hc.COLLECTED, "amount_collected": 760}
    hc.work(fresh_runtime, number, "collect_payment", "desk", collected)
    with serve(app) as base:
        yield base


def test_finance_sees_an_empty_receipt_time_and_cannot_book_less_than_due(cleaning, tab, runtime):
    (pay,) = [t for t in runtime.list_tasks(status="open") if t.element_id == "confirm_payment"]
    assert runtime.task_data(pay.id)["received_at"] == "2026-11-24T16:00"  # the cleaner's
    sign_in(tab, cleaning, "cashier")
    tab.goto(f"{cleaning}/tasks/{pay.id}")
    assert "應收金額 760 元" in tab.text_content("main")
    # The cleaner's work-order receipt time is not this form's 到賬時間.
    assert tab.input_value("input[name=received_at]") == ""

    tab.select_option("select[name=payment_method]", "銀行轉賬")
    tab.fill("input[name=amount_received]", "700")
    tab.fill("input[name=received_at]", "2026-11-25T12:00")
    submit(tab, "button.primary")
    assert tab.locator("#err-amount_received").is_visible()
    assert "760" in tab.text_content("#err-amount_received")
    assert runtime.get_task(pay.id).status == "open"

    tab.fill("input[name=amount_received]", "760")
    submit(tab, "button.primary")
    assert "/tasks" in tab.url and "已完成" in tab.text_content("main")
    done = runtime.get_task(pay.id)
    assert done.status == "done"
    assert (done.data["amount_received"], done.data["received_at"]) == (760, "2026-11-25T12:00")


# ----- 4. a changed form reaches the processes that use it -------------------------------------


@pytest.fixture
def review(app, runtime) -> Iterator[str]:
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"), actor="owner")
    with serve(app) as base:
        yield base


def test_a_form_deployed_alone_reaches_new_cases_only(review, tab, runtime):
    running = runtime.start_case("review_flow", {"customer_name": "王"}).number
    (old_task,) = runtime.get_case(running).open_tasks

    sign_in(tab, review, "olga")
    tab.goto(f"{review}/models/forms/review_form.json")
    assert "review_flow v1" in tab.text_content("main")
    assert tab.locator("#deploy-note").is_visible()
    form = json.loads(tab.input_value("textarea[name=text]"))
    form["properties"]["priority"] = {"type": "string", "title": "優先級", "enum": ["高", "低"]}
    tab.fill("textarea[name=text]", json.dumps(form, ensure_ascii=False, indent=2))
    submit(tab, "text=部署為新版本")
    text = tab.text_content("main")
    assert "review_flow v2" in text  # the owner is told which processes follow
    assert get_process(runtime.db, "review_flow").latest.version == 2

    new = runtime.start_case("review_flow", {"customer_name": "陳"}).number
    (new_task,) = runtime.get_case(new).open_tasks
    tab.context.clear_cookies()
    sign_in(tab, review, "alice")
    tab.goto(f"{review}/tasks/{new_task.id}")
    assert tab.locator("select[name=priority]").count() == 1
    tab.goto(f"{review}/tasks/{old_task.id}")  # the running case keeps its form
    assert tab.locator("select[name=priority]").count() == 0
    assert tab.locator("input[name=approve]").count() == 1
