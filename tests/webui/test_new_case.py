"""Starting a case from the desk: the processes the user may start (start roles, `startable`),
each with its staff start form, validated like the API (422 beside the fields), prefilled for
a customer found in the search, then on to the first task or the case."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from engine.store.tables import Case
from tests.webui.conftest import csrf_token
from tests.webui.desk_processes import deploy_desk, desk_process


def _deploy(runtime):
    deploy_desk(
        runtime,
        # Started by anyone of its first task's lane (senior service) and supervisors.
        desk_process("callback", "回電登記", "senior_service", prefix="CB", start_form=False),
        desk_process("sub_step", "子流程", "service_desk", prefix="SS", startable=False),
    )


def _numbers(db) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Case.number)))


def _cases(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Case))


def test_the_processes_each_role_may_start(app, login, runtime):
    _deploy(runtime)
    alice, bob, sue = login("alice"), login("bob"), login("sue")
    desk = alice.get("/new")
    assert desk.status_code == 200
    assert "測試審核流程" in desk.text and "/new/review_flow" in desk.text
    assert "/new/callback" not in desk.text  # senior service's process
    assert "/new/sub_step" not in desk.text  # only called by other processes
    assert "新建案件" in alice.get("/tasks").text  # the header's link

    senior = bob.get("/new")
    assert "/new/callback" in senior.text and "/new/review_flow" not in senior.text
    assert bob.get("/new/review_flow").status_code == 404
    token = csrf_token(senior.text)
    refused = bob.post("/new/review_flow", data={"csrf_token": token, "customer_name": "x"})
    assert refused.status_code == 404 and _cases(runtime.db) == 0

    everything = sue.get("/new")
    assert "/new/review_flow" in everything.text and "/new/callback" in everything.text
    assert "/new/sub_step" not in everything.text
    assert sue.get("/new/sub_step").status_code == 404


def test_the_start_form_is_checked_like_the_api(app, login, runtime, db):
    _deploy(runtime)
    alice = login("alice")
    page = alice.get("/new/review_flow")
    assert page.status_code == 200
    assert 'name="customer_name"' in page.text and 'name="phone"' in page.text
    assert 'name="form_key"' in page.text
    bad = alice.post(
        "/new/review_flow",
        data={"csrf_token": csrf_token(page.text), "customer_name": "王" * 51, "phone": "1380"},
    )
    assert bad.status_code == 422
    assert 'id="err-customer_name"' in bad.text and "最多 50 個字" in bad.text
    assert 'aria-invalid="true"' in bad.text and "王" * 51 in bad.text  # the value is kept
    assert _cases(db) == 0


def test_started_case_goes_to_its_first_task(app, login, runtime, db):
    _deploy(runtime)
    alice = login("alice")
    page = alice.get("/new/review_flow")
    answer = alice.post(
        "/new/review_flow",
        data={
            "csrf_token": csrf_token(page.text),
            "form_key": "a" * 32,
            "customer_name": "王小明",
            "phone": "13800001111",
            "note": "電話預約",
        },
    )
    assert answer.status_code == 303
    [case] = runtime.list_tasks(case=None, roles=["service_desk"])
    assert answer.headers["Location"] == f"/tasks/{case.id}"
    data = runtime.get_case(case.case_number).data
    assert data["customer_name"] == "王小明" and data["phone"] == "13800001111"
    with db.read() as session:
        assert session.scalar(select(Case.started_by)) == "alice"
    # The same rendering posted again (a double click) starts nothing and goes the same way.
    again = alice.post(
        "/new/review_flow",
        data={"csrf_token": csrf_token(page.text), "form_key": "a" * 32, "customer_name": "王小明"},
    )
    assert again.status_code == 303 and again.headers["Location"] == f"/tasks/{case.id}"
    assert _cases(db) == 1
    followed = alice.get(f"/tasks/{case.id}")
    assert "已建立案件" in followed.text and case.case_number in followed.text


def test_a_process_without_a_start_form_starts_from_its_defaults(app, login, runtime, db):
    _deploy(runtime)
    bob = login("bob")
    page = bob.get("/new/callback?customer_name=王小明&phone=13800001111")
    assert page.status_code == 200 and 'name="customer_name"' not in page.text
    answer = bob.post("/new/callback", data={"csrf_token": csrf_token(page.text)})
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/tasks/")
    # A field the page never showed (a hand-made post) is not passed on: no form, no data.
    crafted = bob.post(
        "/new/callback", data={"csrf_token": csrf_token(page.text), "customer_name": "x"}
    )
    assert crafted.status_code == 303
    assert _cases(db) == 2
    assert all("customer_name" not in runtime.get_case(n).data for n in _numbers(db))


def test_a_customer_found_in_the_search_prefills_the_fields_the_form_declares(app, login, runtime):
    _deploy(runtime)
    alice = login("alice")
    listing = alice.get("/new?customer_name=王小明&phone=13800001111")
    assert "王小明" in listing.text
    link = "/new/review_flow?customer_name=%E7%8E%8B%E5%B0%8F%E6%98%8E&amp;phone=13800001111"
    assert link in listing.text
    page = alice.get("/new/review_flow?customer_name=王小明&phone=13800001111")
    assert 'name="customer_name" value="王小明"' in page.text
    assert 'name="phone" value="13800001111"' in page.text
    assert 'name="note" value=""' in page.text  # a field that is not the customer's: empty


def test_a_start_the_case_list_does_not_show_goes_to_the_case_or_the_search(app, login, runtime):
    _deploy(runtime)
    sue = login("sue")
    page = sue.get("/new/callback")
    answer = sue.post("/new/callback", data={"csrf_token": csrf_token(page.text)})
    # sue holds no senior_service role: no task of hers, so to the case page.
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/cases/CB-")


def test_every_process_of_the_company_opens_with_its_staff_start_form(app, login, runtime):
    """The front desk starts phone bookings, complaints, repairs and placements from the web;
    a process that only other processes call is not offered."""
    root = Path(__file__).resolve().parents[2]
    runtime.deploy([root / "processes", root / "forms", root / "notifications"])
    alice = login("alice")
    listing = alice.get("/new")
    offered = set(re.findall(r'href="/new/([a-z_]+)"', listing.text))
    assert {
        "store_appointment",
        "signed_service_booking",
        "complaint_handling",
        "repair_dispatch",
        "maternity_nurse_placement",
        "nanny_placement",
        "consultation",
        "home_cleaning_dispatch",
    } <= offered
    assert not offered & {"caregiver_matching", "caregiver_service", "field_visit_close"}
    for key in sorted(offered):
        page = alice.get(f"/new/{key}")
        assert page.status_code == 200, key
    # The staff start form where the process has one (a call starts with what is known).
    consultation = alice.get("/new/consultation").text
    assert "登記來電或來函咨詢" in consultation and 'name="content"' in consultation
    # The booking form otherwise; none for a process whose first task records the request.
    assert 'name="appointment_at"' in alice.get("/new/signed_service_booking").text
    complaint = alice.get("/new/complaint_handling").text
    assert "此流程開立時不需填表" in complaint
    # A complaint taken on the phone: started, then on to recording it.
    token = csrf_token(complaint)
    answer = alice.post("/new/complaint_handling", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/tasks/")


def test_a_repeated_start_form_reaching_another_server_process_starts_one_case(
    app, login, runtime, db, settings, clock
):
    """A double click on 建立 whose second post reaches another server process: one case,
    and both posts go to the same place."""
    from engine.runtime.verbs import Runtime
    from webui import create_app

    _deploy(runtime)
    other_process = create_app(
        {"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False},
        runtime=Runtime(db, settings, clock),
    )
    first_tab = login("alice")
    second_tab = other_process.test_client()
    page = second_tab.get("/login")
    second_tab.post(
        "/login",
        data={"name": "alice", "password": "secret-pass-1", "csrf_token": csrf_token(page.text)},
    )
    form = first_tab.get("/new/review_flow").text
    fields = {"form_key": "b" * 32, "customer_name": "王小明", "phone": "13800001111"}
    one = first_tab.post("/new/review_flow", data={**fields, "csrf_token": csrf_token(form)})
    token = csrf_token(second_tab.get("/new/review_flow").text)
    two = second_tab.post("/new/review_flow", data={**fields, "csrf_token": token})
    assert one.status_code == two.status_code == 303
    assert one.location == two.location and _cases(db) == 1
