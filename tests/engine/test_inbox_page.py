"""The inbox page's reads (engine.runtime.inbox): whichever way a filter is read — from the task
indexes, from a list of cases, or task by task for a process with many running cases — the
page lists the same tasks in the same order; counts past their cap are lower bounds, marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from engine import InboxFilter, staff
from engine.identity.users import add_user
from engine.runtime import inbox
from engine.store.tables import Task
from tests.webui.desk_processes import deploy_desk, desk_process


@pytest.fixture
def world(runtime, db, settings, clock):
    add_user(db, settings, "dora", ["service_desk", "senior_service"], clock.now())
    add_user(db, settings, "carl", ["service_desk"], clock.now())
    deploy_desk(runtime, desk_process("home_visit", "上門回訪", "service_desk", prefix="HV"))
    numbers = []
    for i in range(12):
        key = "home_visit" if i % 3 == 0 else "review_flow"
        numbers.append(
            runtime.start_case(
                key, {"customer_name": f"客戶{i:02d}", "phone": f"1390000{i:04d}"}
            ).number
        )
    base = clock.now()
    with db.write() as session:
        for i, number in enumerate(numbers):
            task = runtime.get_case(number).open_tasks[0]
            due = None if i % 4 == 3 else base + timedelta(hours=10 * i - 30)
            session.execute(update(Task).where(Task.id == task.id).values(due_at=due))
        session.commit()
    # Two review cases moved on to senior service; one task claimed by dora, one by carl.
    for number in numbers[1:3]:
        runtime.complete_task(runtime.get_case(number).open_tasks[0].id, {"approve": True}, "carl")
    runtime.claim(runtime.get_case(numbers[4]).open_tasks[0].id, "dora")
    runtime.claim(runtime.get_case(numbers[5]).open_tasks[0].id, "carl")
    return numbers


FILTERS = [
    InboxFilter(),
    InboxFilter(process="home_visit"),
    InboxFilter(process="review_flow", due="overdue"),
    InboxFilter(process="review_flow", status="claimed"),
    InboxFilter(process="review_flow", role="senior_service"),
    InboxFilter(search="客戶0"),
    InboxFilter(search="1390000", process="home_visit", due="week"),
    InboxFilter(status="open", due="today"),
]


def _listing(runtime, flt, limit=100):
    page = staff.inbox(runtime, "dora", flt, limit=limit)
    return [r.task.id for r in page.rows], page


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: repr(f)[12:-1] or "all")
def test_every_way_of_reading_lists_the_same_page(world, runtime, monkeypatch, flt):
    expected, exact = _listing(runtime, flt)
    assert exact.total == len(expected) and not exact.capped
    # Every task is the inbox's own and matches the filter.
    views = {t.id: t for t in runtime.list_tasks(limit=1000)}
    for task_id in expected:
        task = views[task_id]
        assert task.status == "open" or task.assignee == "dora"
        assert (
            flt.status is None or task.status == {"open": "open", "claimed": "claimed"}[flt.status]
        )
        assert flt.role is None or task.role == flt.role
    never = datetime.max.replace(tzinfo=UTC)
    dues = [(views[i].due_at or never, i) for i in expected]
    assert dues == sorted(dues)  # earliest due first, none last, then by id
    # Paged both ways: the pages put together are the list.
    pages = [staff.inbox(runtime, "dora", flt, offset=o, limit=3) for o in range(0, 12, 3)]
    assert [r.task.id for p in pages for r in p.rows] == expected
    # Read task by task (a process with more running cases than CASE_SCAN), or with counts
    # past their cap: the same tasks, the counts marked as lower bounds.
    monkeypatch.setattr(inbox, "CASE_SCAN", 2)
    monkeypatch.setattr(inbox, "COUNT_CAP", 50)
    assert _listing(runtime, flt)[0] == expected
    monkeypatch.setattr(inbox, "COUNT_CAP", 2)
    capped_ids, capped = _listing(runtime, flt)
    assert capped_ids[:2] == expected[:2]
    if exact.total > 2:
        assert "total" in capped.capped and capped.total_text == "2+"


def test_counts_behind_each_choice(world, runtime):
    page = staff.inbox(runtime, "dora")
    # 10 first tasks open to the service desk (one claimed by carl, not listed), 2 senior ones,
    # dora's own claim among them.
    assert page.total == 11
    assert page.counts["status:claimed"] == 1 and page.counts["status:open"] == 10
    assert page.counts["role:senior_service"] == 2 and page.counts["role:service_desk"] == 9
    narrowed = staff.inbox(runtime, "dora", InboxFilter(role="senior_service"))
    assert narrowed.total == 2 and narrowed.counts["status:"] == 2
    assert narrowed.counts["role:service_desk"] == 9  # the other role, as if chosen
    # A sparse process is listed by its cases: exact counts.
    visits = staff.inbox(runtime, "dora", InboxFilter(process="home_visit"))
    assert visits.total == 4 and not visits.capped
