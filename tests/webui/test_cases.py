"""Supervisor pages: case list with filters and paging, the case page, case actions."""

from __future__ import annotations

import json
import re

from tests.conftest import fixture_files
from tests.webui.conftest import csrf_token


def make_cases(runtime, count=3):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    names = ["王小明", "陳大文", "林美麗", "張三", "李四"]
    return [
        runtime.start_case(
            "review_flow", {"customer_name": names[i % 5], "phone": f"1380000{i:04d}"}
        ).number
        for i in range(count)
    ]


def test_only_supervisors_see_cases(app, login, runtime):
    number = make_cases(runtime, 1)[0]
    alice = login("alice")
    assert alice.get("/cases").status_code == 403
    assert alice.get(f"/cases/{number}").status_code == 403
    assert app.test_client().get("/cases").status_code == 302


def test_case_list_filters_and_pages(app, login, runtime, clock):
    numbers = make_cases(runtime, 5)
    sue = login("sue")
    page = sue.get("/cases")
    assert page.status_code == 200 and all(n in page.text for n in numbers)
    assert (
        numbers[1] in sue.get("/cases?customer=陳").text
        and numbers[0] not in sue.get("/cases?customer=陳").text
    )
    assert numbers[2] in sue.get("/cases?customer=13800000002").text
    assert 'href="/cases/RV-' not in sue.get("/cases?status=completed").text
    assert sue.get("/cases?step=task_a").text.count('href="/cases/RV-') == 5
    assert "RV-2026" not in sue.get("/cases?step=task_b").text
    assert "RV-2026" not in sue.get("/cases?overdue=1").text
    assert sue.get("/cases?from=2026-11-23&to=2026-11-23").text.count('href="/cases/RV-') == 5
    assert "RV-2026" not in sue.get("/cases?from=2026-11-24").text


def test_keyset_paging(runtime, clock):
    from engine.casework.case_filter import CaseFilter
    from engine.casework.queries import list_cases

    numbers = []
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    for _ in range(7):
        clock.advance(minutes=1)
        numbers.append(runtime.start_case("review_flow").number)
    first = list_cases(runtime.db, CaseFilter(), clock.now(), limit=3)
    second = list_cases(runtime.db, CaseFilter(), clock.now(), after=first.next_cursor, limit=3)
    third = list_cases(runtime.db, CaseFilter(), clock.now(), after=second.next_cursor, limit=3)
    seen = [r.number for r in first.rows + second.rows + third.rows]
    assert seen == list(reversed(numbers)) and third.next_cursor is None


def test_case_page_shows_diagram_of_its_version_and_markers(app, login, runtime):
    number = make_cases(runtime, 1)[0]
    page = login("sue").get(f"/cases/{number}")
    assert page.status_code == 200
    xml = json.loads(
        re.search(
            r'<script type="application/json" id="diagram-xml">(.*?)</script>', page.text, re.S
        ).group(1)
    )
    assert 'id="task_a"' in xml
    markers = json.loads(
        re.search(r"data-markers='([^']*)'", page.text).group(1).replace("&#34;", '"')
    )
    assert markers["active"] == ["task_a"]
    assert "受理審核" in page.text and "案件開始" in page.text


def test_actions_reassign_message_cancel(app, login, runtime):
    number = make_cases(runtime, 1)[0]
    sue = login("sue")
    token = csrf_token(sue.get(f"/cases/{number}").text)
    task_id = runtime.get_case(number).open_tasks[0].id
    sue.post(
        f"/cases/{number}/tasks/{task_id}/reassign", data={"user": "carol", "csrf_token": token}
    )
    assert runtime.get_task(task_id).assignee == "carol"
    refused = sue.post(
        f"/cases/{number}/tasks/{task_id}/reassign",
        data={"user": "bob", "csrf_token": token},
        follow_redirects=True,
    )
    assert "bob" in refused.text and runtime.get_task(task_id).assignee == "carol"
    wrong = sue.post(
        f"/cases/{number}/message",
        data={"name": "nope", "note": "x", "csrf_token": token},
        follow_redirects=True,
    )
    assert "沒有等待訊息 nope" in wrong.text  # the engine's refusal, in the page's language
    sue.post(
        f"/cases/{number}/cancel",
        data={"reason": "客戶取消", "confirmed": "yes", "csrf_token": token},
    )
    assert runtime.get_case(number).status == "cancelled"
