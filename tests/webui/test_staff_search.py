"""Finding a customer by phone, name or case number from the header's search box: the customer
with their cases, only the cases the user's roles may find (engine.core.rules.case_scope), and
every case shown recorded as a view of personal data."""

from __future__ import annotations

from sqlalchemy import select

from engine.identity.users import add_user
from engine.store.tables import Case, Event
from tests.webui.conftest import PASSWORD
from tests.webui.desk_processes import deploy_desk, desk_process

PHONE = "13800001111"


def _world(runtime, db, settings, clock):
    for name in ("fred", "fiona"):
        add_user(db, settings, name, ["field_staff"], clock.now(), password=PASSWORD)
    deploy_desk(
        runtime,
        desk_process("home_visit", "上門回訪", "field_staff", prefix="HV"),
        # Stands for a customer-facing process: the front desk finds all of its cases.
        desk_process("repair_dispatch", "維修派工", "field_staff", prefix="RP"),
    )


def listed(page, number: str) -> bool:
    """Whether the search results list case `number` (not just the search box repeating it)."""
    return f">{number}<" in page.text


def _start(runtime, key, name, phone):
    return runtime.start_case(key, {"customer_name": name, "phone": phone}).number


def test_the_front_desk_finds_a_customer_with_their_history(
    app, login, runtime, db, settings, clock
):
    _world(runtime, db, settings, clock)
    first = _start(runtime, "review_flow", "王小明", PHONE)
    task = runtime.get_case(first).open_tasks[0].id
    runtime.complete_task(task, {"approve": False}, "alice")  # ends at once: not accepted
    second = _start(runtime, "review_flow", "王小明", PHONE)
    _start(runtime, "review_flow", "李大華", "13999990000")
    alice = login("alice")

    inbox = alice.get("/tasks")
    assert 'action="/search"' in inbox.text and 'name="q"' in inbox.text  # in the header

    page = alice.get(f"/search?q={PHONE[:7]}")
    assert page.status_code == 200
    assert "王小明" in page.text and PHONE in page.text and "李大華" not in page.text
    assert listed(page, first) and listed(page, second)
    assert "測試審核流程" in page.text  # the process by its name
    assert "已完成" in page.text and "進行中" in page.text  # the status in words
    assert "受理審核" in page.text  # the open step of the running case
    # Dates in company time: started on Monday 09:30 in Shanghai (01:30 UTC).
    assert "2026-11-23 09:30" in page.text
    assert f"/new?customer_name=%E7%8E%8B%E5%B0%8F%E6%98%8E&amp;phone={PHONE}" in page.text

    by_name = alice.get("/search?q=王小")
    assert listed(by_name, first) and listed(by_name, second) and "李大華" not in by_name.text
    by_number = alice.get(f"/search?q={second.lower()}")
    # The case found by its number, with the customer's other cases.
    assert listed(by_number, second) and listed(by_number, first)

    nothing = alice.get("/search?q=13700000000")
    assert nothing.status_code == 200 and "王小明" not in nothing.text


def test_field_staff_find_only_the_cases_of_their_own_tasks(
    app, login, runtime, db, settings, clock
):
    _world(runtime, db, settings, clock)
    mine = _start(runtime, "home_visit", "陳太太", "13811112222")
    theirs = _start(runtime, "home_visit", "張先生", "13833334444")
    unclaimed = _start(runtime, "home_visit", "趙小姐", "13855556666")
    desk_case = _start(runtime, "review_flow", "周先生", "13877778888")
    runtime.claim(runtime.get_case(mine).open_tasks[0].id, "fred")
    runtime.claim(runtime.get_case(theirs).open_tasks[0].id, "fiona")
    fred = login("fred")

    assert listed(fred.get("/search?q=13811112222"), mine)
    found = fred.get("/search?q=13833334444")  # fiona's task: not fred's case
    assert found.status_code == 200 and not listed(found, theirs) and "張先生" not in found.text
    assert not listed(fred.get(f"/search?q={theirs}"), theirs)
    assert not listed(fred.get("/search?q=13877778888"), desk_case)  # no field task at all
    # A task still open to every field staff member is in fred's inbox, so he finds it.
    assert listed(fred.get("/search?q=13855556666"), unclaimed)
    # A search by a shorter prefix does not list the others either.
    wide = fred.get("/search?q=138")
    assert listed(wide, mine) and not listed(wide, theirs) and not listed(wide, desk_case)

    # Once fred completed the task, the case stays his.
    task = runtime.get_case(mine).open_tasks[0].id
    runtime.complete_task(task, {"approve": True}, "fred")
    assert listed(fred.get("/search?q=13811112222"), mine)


def test_who_finds_what(app, login, runtime, db, settings, clock):
    _world(runtime, db, settings, clock)
    repair = _start(runtime, "repair_dispatch", "吳先生", "13600001111")  # field staff tasks
    visit = _start(runtime, "home_visit", "鄭小姐", "13600002222")  # not customer-facing
    review = _start(runtime, "review_flow", "王先生", "13600003333")  # service desk task
    pages = {name: login(name).get("/search?q=1360000") for name in ("alice", "bob", "sue", "olga")}

    def found(name):
        return {n for n in (repair, visit, review) if listed(pages[name], n)}

    # The front desk: every case of the customer-facing processes, and its own tasks' cases.
    assert found("alice") == {repair, review}
    # Senior service is front desk too; review_flow's cases have no senior task yet.
    assert found("bob") == {repair}
    # Supervisors: every case.
    assert found("sue") == {repair, visit, review}
    # A process owner works no case.
    assert found("olga") == set()
    # Supervisors' results link to the case page.
    assert f'href="/cases/{repair}"' in pages["sue"].text
    assert f'href="/cases/{repair}"' not in pages["alice"].text


def test_the_search_is_recorded_as_a_view_of_personal_data(
    app, login, runtime, db, settings, clock
):
    _world(runtime, db, settings, clock)
    shown = _start(runtime, "review_flow", "王小明", PHONE)
    hidden = _start(runtime, "home_visit", "王小明", PHONE)  # alice may not find it
    alice = login("alice")
    assert alice.get(f"/search?q={PHONE}").status_code == 200
    with db.read() as session:
        views = session.execute(
            select(Case.number, Event.actor, Event.detail)
            .join(Case, Case.id == Event.case_id)
            .where(Event.kind == "personal_data_viewed")
        ).all()
    assert [(n, a) for n, a, _ in views] == [(shown, "alice")]
    assert views[0][2] == {"what": "customer_search"}  # what was searched for is not kept
    assert hidden not in {n for n, _, _ in views}
    # An empty search shows nothing and records nothing.
    alice.get("/search?q=")
    alice.get("/search?q=13700000000")
    with db.read() as session:
        count = len(
            session.scalars(select(Event).where(Event.kind == "personal_data_viewed")).all()
        )
    assert count == 1


def test_english_search_page(app, login, runtime, db, settings, clock):
    _world(runtime, db, settings, clock)
    _start(runtime, "review_flow", "王小明", PHONE)
    alice = login("alice")
    alice.set_cookie("lang", "en")
    page = alice.get(f"/search?q={PHONE}")
    assert "Find a customer" in page.text and "New case for this customer" in page.text
    assert "running" in page.text


def test_the_api_shows_a_case_only_to_those_who_may_find_it(app, runtime, db, settings, clock):
    """GET /api/cases/<number> follows the search's rule: field staff read the case of their
    own task, not a colleague's (before, any task of a field-staff role was enough)."""
    from engine.identity.tokens import issue_token
    from webui import api

    if "api" not in app.blueprints:
        app.register_blueprint(api.bp)
    _world(runtime, db, settings, clock)
    mine = _start(runtime, "home_visit", "陳太太", "13811112222")
    theirs = _start(runtime, "home_visit", "張先生", "13833334444")
    runtime.claim(runtime.get_case(mine).open_tasks[0].id, "fred")
    runtime.claim(runtime.get_case(theirs).open_tasks[0].id, "fiona")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {issue_token(db, 'fred', clock.now())}"}
    assert client.get(f"/api/cases/{mine}", headers=headers).status_code == 200
    refused = client.get(f"/api/cases/{theirs}", headers=headers)
    assert refused.status_code == 403 and "張先生" not in refused.text
    assert client.get("/api/cases/XX-20260101-0001", headers=headers).status_code == 404
