"""Supervisor pages speak in names: a case page with its diagram, timeline and labelled data;
messages sent with their forms, tasks given to holders of their role, cancelling with a
confirmation and a reason, retrying with labelled fields; the incident list, the heat map, and
the case list's names, step filter, exports and paging."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import update

from engine.identity.users import add_user
from engine.store.tables import User
from tests.conftest import fixture_files
from tests.webui.conftest import PASSWORD, csrf_token

SUPERVISE = ("supervise_flow.bpmn", "supervise_start.json", "supervise_review.json")
SUPERVISE += ("supervise_reply.json",)
START = {
    "customer_name": "王小明",
    "phone": "13800000001",
    "total": 100,
    "people": 4,
    "channel": "web",
    "professional_id": 7,
}


@pytest.fixture
def flow(runtime):
    runtime.deploy(fixture_files(*SUPERVISE))

    def start(**changes):
        return runtime.start_case("supervise_flow", {**START, **changes})

    return start


def post(client, url, data, follow=False):
    token = csrf_token(client.get("/cases").text)
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=follow)


def text_of(html: str) -> str:
    """The page's words (tags dropped), to check what people read."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ----- the case page ------------------------------------------------------------------------


def test_case_page_diagram_timeline_and_labelled_data(app, login, flow, db, settings, clock):
    add_user(db, settings, "tom", ["supervisor"], clock.now(), password=PASSWORD)
    number = flow().number
    sue, tom = login("sue"), login("tom")
    for _ in range(3):
        sue.get(f"/cases/{number}")
    tom.get(f"/cases/{number}")
    page = sue.get(f"/cases/{number}")
    html = page.text
    # A tall diagram with zoom in / out / fit buttons.
    assert 'class="diagram tall' in html
    for zoom in ("in", "out", "fit"):
        assert f'data-zoom="{zoom}"' in html
    # The process and the steps by name.
    assert "督導測試流程" in html and "supervise_flow ·" not in html
    timeline = html.split('class="timeline newest"')[1].split("</ol>")[0]
    words = text_of(timeline)
    assert "受理審核" in words and "task_review" not in words
    # Newest first: the latest view comes before the start of the case.
    assert words.index("查看了案件") < words.index("受理審核") < words.index("案件開始")
    # Views folded: one line per person and day (sue saw it three times before this page).
    views = re.findall(r'<li class="views">(.*?)</li>', timeline, re.S)
    assert len(views) == 2, views
    assert any("sue" in v and "×3" in v for v in views) and any("tom" in v for v in views)
    # The data under the titles of the start form; internal keys only in the raw JSON.
    data = html.split('id="data"')[1].split('<details class="raw"')[0]
    shown = text_of(data)
    assert "客戶姓名 王小明" in shown and "來源 網站" in shown and "人數 4" in shown
    assert "professional_id" not in data and "專業人員編號" not in shown
    assert "slot_ref" not in data and "share" not in data
    raw = html.split('<details class="raw"')[1].split("</details>")[0]
    assert "professional_id" in raw and "slot_ref" in raw
    # The counts of where the version's running cases wait, fetched when asked for.
    url = re.search(r'data-heat-url="([^"]+)"', html).group(1)
    assert url == "/cases/heatmap/supervise_flow/1/counts"
    # The case is at the review task and waits for the reply and the phone note at once.
    assert sue.get(url).json == {
        "task_review": {"tasks": 1, "timers": 0, "messages": 0, "errors": 0},
        "wait_reply": {"tasks": 0, "timers": 0, "messages": 1, "errors": 0},
        "wait_call": {"tasks": 0, "timers": 0, "messages": 1, "errors": 0},
    }


# ----- messages -----------------------------------------------------------------------------


def test_message_with_its_form_is_validated_and_delivered(app, login, runtime, flow):
    number = flow().number
    sue = login("sue")
    page = sue.get(f"/cases/{number}").text
    actions = page.split('class="card actions"')[1].split("<h2>")[1:3]
    chooser = "".join(actions)
    # Chosen among what the case waits for, by the names of the waiting elements.
    assert "等待客戶回覆" in chooser and "等待客戶來電" in chooser
    assert "<textarea" not in chooser and "JSON" not in chooser
    form = sue.get(f"/cases/{number}/message?name=customer_reply")
    assert form.status_code == 200
    assert "客戶答覆" in form.text and "同意" in form.text and "評分" in form.text
    assert 'name="data"' not in form.text
    # Validated like a task's form: errors beside the fields, nothing sent.
    missing = post(sue, f"/cases/{number}/message", {"name": "customer_reply", "score": "9"})
    assert missing.status_code == 422
    assert 'id="err-answer"' in missing.text and 'id="err-score"' in missing.text
    assert "customer_reply" in runtime.get_case(number).waiting_messages
    sent = post(
        sue,
        f"/cases/{number}/message",
        {"name": "customer_reply", "answer": "yes", "score": "5", "extra": "dropped"},
    )
    assert sent.status_code == 302
    case = runtime.get_case(number)
    assert case.waiting_messages == ["phone_note"]
    received = [e for e in case.history if e.kind == "message_received"]
    assert received[-1].detail["data"] == {"answer": "yes", "score": 5}
    assert received[-1].actor == "sue"


def test_message_without_a_form_takes_a_note(app, login, runtime, flow):
    number = flow().number
    sue = login("sue")
    form = sue.get(f"/cases/{number}/message?name=phone_note")
    assert 'name="note"' in form.text and "客戶答覆" not in form.text
    unknown = sue.get(f"/cases/{number}/message?name=nothing")
    assert unknown.status_code == 200 and 'role="alert"' in unknown.text
    too_long = post(sue, f"/cases/{number}/message", {"name": "phone_note", "note": "長" * 2001})
    assert too_long.status_code == 422
    assert "phone_note" in runtime.get_case(number).waiting_messages
    post(sue, f"/cases/{number}/message", {"name": "phone_note", "note": "客戶來電說下午在家"})
    case = runtime.get_case(number)
    assert case.waiting_messages == ["customer_reply"]
    page = sue.get(f"/cases/{number}").text
    timeline = page.split('class="timeline newest"')[1].split("</ol>")[0]
    assert "等待客戶來電" in timeline and "客戶來電說下午在家" in timeline
    # A message the case does not wait for is refused and changes nothing.
    refused = post(sue, f"/cases/{number}/message", {"name": "phone_note", "note": "x"}, True)
    assert "not waiting" in refused.text or "沒有等待" in refused.text


# ----- reassign -----------------------------------------------------------------------------


def test_reassign_offers_only_active_holders_of_the_role(app, login, runtime, flow, db):
    add_user(db, runtime.settings, "dora", ["service_desk"], runtime.clock.now())
    add_user(db, runtime.settings, "gone", ["service_desk"], runtime.clock.now())
    with db.write() as session:
        session.execute(update(User).where(User.name == "gone").values(active=False))
        session.commit()
    case = flow()
    task = case.open_tasks[0]
    sue = login("sue")
    page = sue.get(f"/cases/{case.number}").text
    select_html = page.split(f'id="task-{task.id}"')[1].split("</select>")[0]
    offered = re.findall(r'<option value="([^"]+)"', select_html)
    assert offered == ["alice", "carol", "dora"]  # not bob (another role), not gone (inactive)
    post(sue, f"/cases/{case.number}/tasks/{task.id}/reassign", {"user": "carol"})
    assert runtime.get_task(task.id).assignee == "carol"
    again = sue.get(f"/cases/{case.number}").text.split(f'id="task-{task.id}"')[1]
    assert re.findall(r'<option value="([^"]+)"', again.split("</select>")[0]) == [
        "alice",
        "dora",
    ]
    for stranger in ("bob", "gone"):
        refused = post(
            sue, f"/cases/{case.number}/tasks/{task.id}/reassign", {"user": stranger}, True
        )
        assert "Not done" in refused.text or "未完成" in refused.text
        assert runtime.get_task(task.id).assignee == "carol"


# ----- cancel -------------------------------------------------------------------------------


def test_cancel_asks_for_confirmation_and_a_reason(app, login, runtime, flow):
    number = flow().number
    sue = login("sue")
    page = sue.get(f"/cases/{number}").text
    assert f'href="/cases/{number}/cancel"' in page
    confirm = sue.get(f"/cases/{number}/cancel")
    assert confirm.status_code == 200 and "受理審核" in confirm.text
    assert 'name="confirmed" value="yes"' in confirm.text
    # Posting without the confirmation shows the confirmation; nothing changes.
    unconfirmed = post(sue, f"/cases/{number}/cancel", {"reason": "客戶取消"})
    assert unconfirmed.status_code == 200 and 'id="confirm-cancel"' in unconfirmed.text
    assert runtime.get_case(number).status == "running"
    # A reason is required.
    blank = post(sue, f"/cases/{number}/cancel", {"reason": "  ", "confirmed": "yes"})
    assert blank.status_code == 422 and 'id="err-reason"' in blank.text
    assert runtime.get_case(number).status == "running"
    done = post(sue, f"/cases/{number}/cancel", {"reason": "客戶來電取消", "confirmed": "yes"})
    assert done.status_code == 302
    case = runtime.get_case(number)
    assert case.status == "cancelled" and case.cancel_reason == "客戶來電取消"
    timeline = sue.get(f"/cases/{number}").text.split('class="timeline newest"')[1]
    first = timeline.split("</li>")[0]
    assert "客戶來電取消" in first and "sue" in first
    # An ended case has nothing to cancel.
    again = sue.get(f"/cases/{number}/cancel")
    assert again.status_code == 302


# ----- retry --------------------------------------------------------------------------------


def test_retry_with_labelled_fields(app, login, runtime, flow, db):
    number = flow(people=0).number
    assert runtime.get_case(number).status == "error"
    sue = login("sue")
    page = sue.get(f"/cases/{number}/retry")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "計算每人金額" in words and "division by zero" in words
    assert "人數" in words and "總金額" in words and "服務申請" in words
    assert 'name="people" value="0"' in page.text
    assert "professional_id" not in page.text  # internal ids are not offered
    assert '<details class="raw"' in page.text  # raw JSON stays, as an advanced option
    wrong = post(sue, f"/cases/{number}/retry", {"people": "四", "total": "100"})
    assert wrong.status_code == 422 and 'id="err-people"' in wrong.text
    assert runtime.get_case(number).status == "error"
    fixed = post(
        sue,
        f"/cases/{number}/retry",
        {"people": "4", "total": "100", "customer_name": "王小明", "phone": "13800000001"},
    )
    assert fixed.status_code == 302
    case = runtime.get_case(number)
    assert case.status == "running" and case.data["share"] == 25
    retry = [e for e in case.history if e.kind == "retry"][-1]
    assert retry.detail["data"] == {"people": 4} and retry.actor == "sue"


def test_retry_with_raw_json_as_advanced_option(app, login, runtime, flow):
    number = flow(people=0).number
    sue = login("sue")
    bad = post(sue, f"/cases/{number}/retry", {"data": "[1, 2]"})
    assert bad.status_code == 422 and runtime.get_case(number).status == "error"
    post(sue, f"/cases/{number}/retry", {"data": '{"people": 5}'})
    assert runtime.get_case(number).data["share"] == 20


# ----- incidents ----------------------------------------------------------------------------


def test_incident_list(app, login, runtime, flow, clock):
    first = flow(people=0).number
    clock.advance(hours=2)
    second = flow(people=0, customer_name="陳大文").number
    healthy = flow().number
    sue = login("sue")
    page = sue.get("/cases/incidents")
    assert page.status_code == 200
    table = page.text.split('id="incidents"')[1]
    rows = table.split("<tr>")[2:]
    assert [re.search(r"/cases/([A-Z]{2}-\d{8}-\d{4})", r).group(1) for r in rows] == [
        first,
        second,
    ]
    assert healthy not in table
    words = text_of(rows[0])
    assert "督導測試流程" in words and "計算每人金額" in words and "division by zero" in words
    assert "2026-11-23 09:30" in words  # since when (the company's time)
    assert f'href="/cases/{first}/retry"' in rows[0]
    assert "/cases/incidents" in sue.get("/cases").text
    assert "/cases/incidents" in sue.get("/dashboard").text
    assert login("alice").get("/cases/incidents").status_code == 403


# ----- names, filters, exports, paging ------------------------------------------------------


def test_case_list_and_exports_use_names(app, login, runtime, flow):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    supervised = flow().number
    reviewed = runtime.start_case("review_flow", {"customer_name": "林美麗"}).number
    sue = login("sue")
    page = sue.get("/cases").text
    table = page.split("<tbody>")[1]
    assert "督導測試流程" in table and "測試審核流程" in table
    assert "supervise_flow" not in table and "review_flow" not in table
    process_select = page.split('name="process"')[1].split("</select>")[0]
    assert re.findall(r'value="(\w+)"[^>]*>([^<]+)<', process_select) == [
        ("review_flow", "測試審核流程"),
        ("supervise_flow", "督導測試流程"),
    ]
    step_select = page.split('name="step"')[1].split("</select>")[0]
    assert '<optgroup label="督導測試流程">' in step_select
    assert re.search(r'<option value="受理審核"\s*>受理審核</option>', step_select)
    assert "task_review" not in step_select and "task_a" not in step_select
    # The step filter by name covers every process with a step of that name.
    by_step = sue.get("/cases?step=受理審核").text
    assert supervised in by_step and reviewed in by_step
    only = sue.get("/cases?process=supervise_flow&step=受理審核").text
    assert supervised in only and reviewed not in only
    chosen = only.split('name="step"')[1].split("</select>")[0]
    assert "測試審核流程" not in chosen and "結案" in chosen
    # Exports: the same filter, names for processes, statuses and steps.
    exported = sue.get("/cases/export.csv?process=supervise_flow")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][:5] == ["案件", "流程", "狀態", "結果", "目前步驟"]
    assert len(rows) == 2 and rows[1][0] == supervised
    assert rows[1][1] == "督導測試流程" and rows[1][4] == "受理審核" and rows[1][2] != "running"
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(sue.get("/cases/export.xlsx").data))
    values = [[c.value for c in row] for row in book.active.iter_rows()]
    assert {r[1] for r in values[1:]} == {"督導測試流程", "測試審核流程"}
    assert {r[0] for r in values[1:]} == {supervised, reviewed}


def test_paging_both_ways_with_a_total(app, login, runtime, clock, monkeypatch):
    monkeypatch.setattr("engine.casework.queries.PAGE_SIZE", 3)
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    numbers = []
    for _ in range(7):
        clock.advance(minutes=1)
        numbers.append(runtime.start_case("review_flow").number)
    newest = list(reversed(numbers))
    sue = login("sue")

    def shown(html):
        return re.findall(r'<td[^>]*><a href="/cases/([^"/]+)">', html)

    def link(html, rel):
        found = re.search(rf'rel="{rel}" href="([^"]+)"', html)
        return found.group(1).replace("&amp;", "&") if found else None

    first = sue.get("/cases").text
    assert shown(first) == newest[:3] and "7" in first.split('id="case-count">')[1][:20]
    assert link(first, "prev") is None
    second = sue.get(link(first, "next")).text
    assert shown(second) == newest[3:6]
    third = sue.get(link(second, "next")).text
    assert shown(third) == newest[6:] and link(third, "next") is None
    back = sue.get(link(third, "prev")).text
    assert shown(back) == newest[3:6] and link(back, "next") and link(back, "prev")
    start = sue.get(link(back, "prev")).text
    assert shown(start) == newest[:3] and link(start, "prev") is None
    # The filter travels with the paging links.
    filtered = sue.get("/cases?status=running").text
    assert "status=running" in link(filtered, "next")
    # Counting is bounded: past the cap the page says "more than".
    monkeypatch.setattr("engine.casework.queries.COUNT_CAP", 5)
    capped = sue.get("/cases").text.split('id="case-count">')[1].split("<")[0]
    assert "5" in capped and ("More than" in capped or "超過" in capped)


# ----- the heat map -------------------------------------------------------------------------


def test_heat_map_counts_match_hand_counted_cases(app, login, runtime):
    from engine.casework.supervision import Supervision

    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    cases = [runtime.start_case("review_flow").number for _ in range(6)]
    a, b, c, d, e, f = cases

    def complete(number, element, data):
        task = next(t for t in runtime.get_case(number).open_tasks if t.element_id == element)
        runtime.complete_task(task.id, data, "alice" if element == "task_a" else "bob")

    for number in (a, b, f):
        complete(number, "task_a", {"approve": True})  # → task_b with its deadline timer
    complete(c, "task_a", {"approve": False})  # ended
    runtime.cancel_case(d, "客戶取消", actor="sue")  # ended
    complete(a, "task_b", {"confirmed": True})  # → waits three days (a timer)
    # By hand: e at task_a; b and f at task_b, each with the deadline timer; a at wait_3_days.
    heat = Supervision(runtime).heat_map("review_flow", 1)
    assert heat.running == 4
    assert heat.by_element() == {
        "task_a": {"tasks": 1, "timers": 0, "messages": 0, "errors": 0},
        "task_b": {"tasks": 2, "timers": 0, "messages": 0, "errors": 0},
        "deadline": {"tasks": 0, "timers": 2, "messages": 0, "errors": 0},
        "wait_3_days": {"tasks": 0, "timers": 1, "messages": 0, "errors": 0},
    }
    assert {c.element_id: c.name for c in heat.counts}["deadline"] == "兩個工作日未處理"
    sue = login("sue")
    page = sue.get("/cases/heatmap/review_flow/1")
    assert page.status_code == 200
    heat_json = json.loads(
        re.search(r"data-heat='([^']*)'", page.text).group(1).replace("&#34;", '"')
    )
    assert heat_json == heat.by_element()
    table = text_of(page.text.split('id="heat-table"')[1])
    assert "專人處理 2" in table and "兩個工作日未處理 2" in table and "受理審核 1" in table
    assert "4" in page.text.split('id="running-count">')[1][:40]
    latest = sue.get("/cases/heatmap/review_flow")
    assert latest.status_code == 302 and latest.location.endswith("/cases/heatmap/review_flow/1")
    assert sue.get("/cases/heatmap/review_flow/2").status_code == 404
    assert sue.get("/cases/heatmap/nothing").status_code == 404
    # Reachable from the case list's filter and the process page.
    listing = sue.get("/cases?process=review_flow").text
    assert 'href="/cases/heatmap/review_flow/1"' in listing
    olga = login("olga")
    assert olga.get("/cases/heatmap/review_flow/1").status_code == 200
    assert "/cases/heatmap/review_flow/1" in olga.get("/models/review_flow/1").text
    assert login("alice").get("/cases/heatmap/review_flow/1").status_code == 403


def test_heat_map_page_shows_the_cases_waiting_for_a_message(app, login, runtime):
    """Two cases, each at the review task and at once waiting for the customer's reply and
    the phone note (a parallel split): the table has a column for the message waits, the
    legend names them, and the diagram's counts carry them (Chinese by default, English when
    chosen)."""
    runtime.deploy(fixture_files(*SUPERVISE))
    for _ in range(2):
        runtime.start_case("supervise_flow", START)
    sue = login("sue")
    page = sue.get("/cases/heatmap/supervise_flow/1")
    assert page.status_code == 200
    heat_json = json.loads(
        re.search(r"data-heat='([^']*)'", page.text).group(1).replace("&#34;", '"')
    )
    assert heat_json == {
        "task_review": {"tasks": 2, "timers": 0, "messages": 0, "errors": 0},
        "wait_reply": {"tasks": 0, "timers": 0, "messages": 2, "errors": 0},
        "wait_call": {"tasks": 0, "timers": 0, "messages": 2, "errors": 0},
    }
    assert "等待訊息" in page.text.split('class="legend heat-legend"')[1].split("</p>")[0]
    table = text_of(page.text.split('id="heat-table"')[1])
    assert "等待訊息" in table
    assert "等待客戶回覆 2" in table and "等待客戶來電 2" in table and "受理審核 2" in table
    assert 'class="heat-badge only-message"' in page.text
    assert sue.get("/cases/heatmap/supervise_flow/1/counts").get_json() == heat_json
    sue.set_cookie("lang", "en")
    english = sue.get("/cases/heatmap/supervise_flow/1").text
    assert "Waiting for a message" in english and "waiting for a message" in english
