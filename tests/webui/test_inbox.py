"""The staff inbox: filters (process, role, due, open / claimed by me), a customer or case
search, paging both ways with a total, the customer and process of each task, the count
behind every choice; and a task someone else claimed says so before its form is filled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from engine import InboxFilter, staff
from engine.identity.users import add_user
from engine.store.tables import Task
from tests.webui.conftest import PASSWORD, csrf_token
from tests.webui.desk_processes import deploy_desk, desk_process

# The fixed clock is Monday 23 November 2026, 09:30 in Shanghai (01:30 UTC).
DUE = {
    "overdue_today": "2026-11-23T00:00:00+00:00",  # 08:00 today: overdue, today, this week
    "overdue_friday": "2026-11-20T01:00:00+00:00",  # last Friday: overdue only
    "today": "2026-11-23T08:00:00+00:00",  # 16:00 today: today, this week
    "thursday": "2026-11-26T02:00:00+00:00",  # this week
    "next_week": "2026-12-01T02:00:00+00:00",
}


def _set_due(db, task_id: int, when: str) -> None:
    with db.write() as session:
        session.execute(
            update(Task).where(Task.id == task_id).values(due_at=datetime.fromisoformat(when))
        )
        session.commit()


def _world(runtime, db, count: int = 30) -> dict[str, object]:
    deploy_desk(runtime, desk_process("home_visit", "上門回訪", "service_desk", prefix="HV"))
    numbers = []
    for i in range(count):
        case = runtime.start_case(
            "review_flow", {"customer_name": f"客戶{i:02d}", "phone": f"139000000{i:02d}"}
        )
        numbers.append(case.number)
    visit = runtime.start_case("home_visit", {"customer_name": "陳太太", "phone": "13811112222"})
    tasks = {n: runtime.get_case(n).open_tasks[0].id for n in [*numbers, visit.number]}
    for key, number in zip(DUE, numbers, strict=False):
        _set_due(db, tasks[number], DUE[key])
    runtime.claim(tasks[numbers[10]], "alice")
    runtime.claim(tasks[numbers[11]], "alice")
    runtime.claim(tasks[numbers[12]], "carol")
    return {"numbers": numbers, "visit": visit.number, "tasks": tasks}


def test_the_inbox_pages_with_a_total_and_shows_customer_and_process(app, login, runtime, db):
    world = _world(runtime, db)
    alice = login("alice")
    first = alice.get("/tasks")
    assert first.status_code == 200
    # 30 review tasks + the visit, less carol's claim: 30, earliest due first.
    assert "30 個任務" in first.text
    assert "1–25 / 共 30" in first.text and "第 1 / 2 頁" in first.text
    assert first.text.count('<tr class="') == 25
    assert 'rel="next" href="/tasks?page=2"' in first.text and 'rel="prev"' not in first.text
    assert "客戶01" in first.text and "13900000001" in first.text  # the customer, with phone
    assert 'href="tel:13900000001"' in first.text
    assert "測試審核流程" in first.text  # the process by name
    assert first.text.index("客戶01") < first.text.index("客戶00")  # last Friday's first
    second = alice.get("/tasks?page=2")
    assert second.text.count('<tr class="') == 5 and 'rel="prev" href="/tasks"' in second.text
    assert "26–30 / 共 30" in second.text and 'rel="next"' not in second.text
    assert world["numbers"][12] not in first.text + second.text  # carol's
    # Past the end (the list got shorter meanwhile): its last page.
    beyond = alice.get("/tasks?page=9&q=客戶")
    assert beyond.status_code == 302 and beyond.headers["Location"].endswith("page=2")


def test_filters_and_their_counts(app, login, runtime, db):
    world = _world(runtime, db)
    numbers = world["numbers"]

    def page(**kw):
        return staff.inbox(runtime, "alice", InboxFilter(**kw))

    everything = page()
    assert everything.total == 30
    assert everything.counts["status:open"] == 28 and everything.counts["status:claimed"] == 2
    assert everything.counts["due:overdue"] == 2
    assert everything.counts["due:today"] == 2
    assert everything.counts["due:week"] == 3
    assert everything.counts["role:service_desk"] == 30

    overdue = page(due="overdue")
    assert [r.task.case_number for r in overdue.rows] == [numbers[1], numbers[0]]
    assert overdue.total == 2 and overdue.counts["status:open"] == 2
    assert [r.task.case_number for r in page(due="today").rows] == [numbers[0], numbers[2]]
    assert {r.task.case_number for r in page(due="week").rows} == {numbers[i] for i in (0, 2, 3)}

    mine = page(status="claimed")
    assert {r.task.case_number for r in mine.rows} == {numbers[10], numbers[11]}
    assert mine.counts["due:"] == 2 and mine.counts["status:"] == 30
    assert page(status="open").total == 28

    visits = page(process="home_visit")
    assert [r.task.case_number for r in visits.rows] == [world["visit"]]
    assert visits.rows[0].process_name == "上門回訪" and visits.rows[0].customer_name == "陳太太"
    assert visits.counts["status:open"] == 1 and visits.counts["due:overdue"] == 0

    assert [r.task.case_number for r in page(search="客戶07").rows] == [numbers[7]]
    by_phone = page(search="1390000000")  # 13900000000 … 13900000009
    assert {r.task.case_number for r in by_phone.rows} == set(numbers[:10])
    assert by_phone.total == 10 and by_phone.counts["due:overdue"] == 2
    assert [r.task.case_number for r in page(search=numbers[5].lower()).rows] == [numbers[5]]
    assert page(search=numbers[12]).total == 0  # carol's claim is not alice's
    assert page(search="無此人").total == 0

    # A role the user does not hold, an unknown window: not applied.
    assert page(role="finance").total == 30 and page(due="yesterday").total == 30

    # The page shows the counts beside the choices, and keeps the other filters in its links.
    alice = login("alice")
    html = alice.get("/tasks?due=overdue&q=客戶").text
    assert '已逾期 <span class="count">2</span>' in html
    assert 'href="/tasks?due=overdue&amp;q=%E5%AE%A2%E6%88%B6&amp;status=claimed"' in html
    assert "aria-current=true" in html
    assert alice.get("/tasks?q=無此人").text.count('<tr class="') == 0
    assert "沒有符合篩選條件的任務" in alice.get("/tasks?q=無此人").text


def test_a_task_claimed_by_someone_else_says_so_before_the_form(
    app, login, runtime, db, settings, clock
):
    add_user(db, settings, "sam", ["supervisor", "service_desk"], clock.now(), password=PASSWORD)
    world = _world(runtime, db, count=13)
    task_id = world["tasks"][world["numbers"][12]]  # claimed by carol
    alice = login("alice")
    page = alice.get(f"/tasks/{task_id}")
    assert page.status_code == 200
    notice = page.text.index('id="claimed-notice"')
    assert "此任務已由 carol 認領" in page.text
    assert notice < page.text.index('class="task-form"') < page.text.index('name="approve"')
    assert '<fieldset class="plain" disabled>' in page.text
    assert "/cases/" not in page.text  # no reassign link for staff
    supervisor = login("sam").get(f"/tasks/{task_id}")
    assert f'href="/cases/{world["numbers"][12]}"' in supervisor.text
    # carol herself fills it in.
    own = login("carol").get(f"/tasks/{task_id}")
    assert 'id="claimed-notice"' not in own.text and '<fieldset class="plain" >' in own.text
    # A post anyway is refused, and says by whom.
    late = alice.post(
        f"/tasks/{task_id}", data={"approve": "on", "csrf_token": csrf_token(page.text)}
    )
    assert late.status_code == 409 and "carol" in late.text


def test_forms_mark_only_required_fields_and_keep_choices_beside_their_labels(app, login, runtime):
    deploy_desk(runtime)
    alice = login("alice")
    task_id = runtime.start_case("review_flow").open_tasks[0].id
    page = alice.get(f"/tasks/{task_id}").text
    # approve is required (a checkbox beside its title); note is optional: no mark.
    assert '<label class="check" for="f-approve">' in page
    approve = page[page.index('for="f-approve"') : page.index('for="f-note"')]
    assert 'class="req"' in approve and 'aria-required="true"' in approve
    note = page[page.index('for="f-note"') : page.index('for="f-evidence"')]
    assert 'class="req"' not in note and "aria-required" not in note
    assert '<label for="f-note">' in page and 'id="f-note"' in page
