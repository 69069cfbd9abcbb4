"""A cleaner on a phone (390 × 844): the inbox as cards, the header's menu folded away, a task
opened, its form (radio buttons and checkboxes beside their labels, only required fields
marked, large enough to tap) filled in and completed, and no page wider than the screen.
Screenshots of the inbox and the task page at 390 and 1366 px wide."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from engine.definitions.sources import SourceFile
from engine.identity.users import add_user
from tests.e2e.staff_browser import (
    DESKTOP,
    PHONE,
    beside_their_labels,
    launch,
    new_tab,
    scroll_width,
    serve,
    shot,
    sign_in,
    small_targets,
)
from tests.webui.conftest import PASSWORD
from tests.webui.desk_processes import deploy_desk, desk_process

pytestmark = pytest.mark.e2e

VISIT_REPORT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "上門服務記錄",
    "type": "object",
    "required": ["result"],
    "properties": {
        "result": {
            "type": "string",
            "title": "服務結果",
            "enum": ["已完成", "客戶不在家", "需再次上門"],
            "x-widget": "radio",
        },
        "on_time": {"type": "boolean", "title": "準時到達"},
        "tools": {
            "type": "array",
            "title": "使用的工具",
            "items": {"type": "string", "enum": ["吸塵器", "蒸汽清潔機", "梯子"]},
            "uniqueItems": True,
        },
        "minutes": {"type": "integer", "title": "服務時長（分鐘）", "minimum": 0},
        "note": {"type": "string", "title": "備註", "maxLength": 500, "x-widget": "textarea"},
    },
}


@pytest.fixture
def server(app, runtime, db, settings, clock) -> Iterator[str]:
    add_user(db, settings, "fang", ["field_staff"], clock.now(), password=PASSWORD)
    deploy_desk(
        runtime,
        desk_process(
            "home_visit",
            "上門保潔",
            "field_staff",
            prefix="HV",
            task="上門保潔服務",
            form="visit_report.json",
        ),
        SourceFile("visit_report.json", json.dumps(VISIT_REPORT, ensure_ascii=False).encode()),
    )
    with serve(app) as base:
        yield base


def test_field_staff_work_a_task_on_a_phone(server, runtime):
    numbers = [
        runtime.start_case(
            "home_visit",
            {"customer_name": name, "phone": phone, "note": "上海市徐匯區漕溪北路 1200 號 18 樓"},
        ).number
        for name, phone in (("陳太太", "13811112222"), ("林先生", "13833334444"))
    ]
    errors: list[str] = []
    with launch() as browser:
        # At the desk first (the same pages, 1366 px wide), for the record.
        context, tab = new_tab(browser, errors, DESKTOP)
        sign_in(tab, server, "fang")
        shot(tab, "staff-inbox-1366")
        tab.click("text=陳太太 >> xpath=ancestor::tr//td[contains(@class,'task-name')]//a")
        tab.wait_for_url("**/tasks/*")
        shot(tab, "staff-task-1366")
        context.close()

        context, tab = new_tab(browser, errors, PHONE)
        sign_in(tab, server, "fang")
        # The inbox: one card per task, nothing wider than the screen.
        assert tab.url.endswith("/tasks")
        assert scroll_width(tab) <= PHONE["width"]
        cards = tab.locator("table.inbox tbody tr")
        assert cards.count() == 2
        assert cards.first.evaluate("e => getComputedStyle(e).display") == "block"
        assert tab.locator("table.inbox thead").is_hidden()
        assert "陳太太" in cards.first.inner_text() and "13811112222" in cards.first.inner_text()
        assert small_targets(tab) == []
        # The header fits: the menu is folded behind its button until asked for.
        assert tab.locator("#top-menu").is_hidden()
        header = tab.locator("header.top").bounding_box()
        assert header["height"] < 80
        shot(tab, "staff-inbox-390")
        tab.click("header.top .menu-toggle")
        assert tab.locator("#top-menu").is_visible()
        assert tab.locator("header.top nav a", has_text="我的任務").is_visible()
        assert scroll_width(tab) <= PHONE["width"]
        tab.click("header.top .menu-toggle")
        assert tab.locator("#top-menu").is_hidden()

        # The task: a form in one column, choices beside their labels.
        cards.filter(has_text="陳太太").locator("td.task-name a").click()
        tab.wait_for_url("**/tasks/*")
        assert scroll_width(tab) <= PHONE["width"]
        assert beside_their_labels(tab) == []
        assert small_targets(tab) == []
        form = tab.locator("form.task-form")
        widths = form.locator(".field input[type=number], .field textarea").evaluate_all(
            "es => es.map(e => e.getBoundingClientRect().width)"
        )
        form_width = form.bounding_box()["width"]
        assert all(w > form_width * 0.9 for w in widths)  # one column, full width
        # Only the required field is marked.
        marked = tab.eval_on_selector_all(
            "form.task-form .req", "es => es.map(e => e.parentElement.textContent.trim())"
        )
        assert marked == ["服務結果 *（必填）"]
        shot(tab, "staff-task-390")

        # Sent without the required answer: refused beside it, still on one screen's width.
        tab.click("form.task-form button.primary")
        assert tab.locator("#err-result").is_visible()
        assert scroll_width(tab) <= PHONE["width"]
        tab.check("input[name=result][value=已完成]")
        tab.check("input[name=on_time]")
        tab.check("input[name=tools][value=吸塵器]")
        tab.fill("input[name=minutes]", "120")
        tab.fill("textarea[name=note]", "客戶滿意，下次預約兩週後")
        tab.click("form.task-form button.primary")
        tab.wait_for_url("**/tasks")
        assert "已完成" in tab.text_content("main")
        assert tab.locator("table.inbox tbody tr").count() == 1
        assert scroll_width(tab) <= PHONE["width"]
        context.close()
    assert errors == []

    done = runtime.get_case(numbers[0])
    assert done.status == "completed"
    assert done.data["result"] == "已完成" and done.data["on_time"] is True
    assert done.data["tools"] == ["吸塵器"] and done.data["minutes"] == 120
    assert runtime.get_case(numbers[1]).status == "running"
