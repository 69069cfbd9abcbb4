"""The task page of a form whose options come from the case ("x-choices") and whose answer is
checked against the case ("x-checks"): the repair dispatch's approval, where the manager picks a
technician the directory offers, and a choice the directory no longer allows is refused on the
page with the form's own words."""

from __future__ import annotations

import html
from pathlib import Path

from engine.casework.directory import Person, add_person
from tests.webui.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "processes" / "repair_dispatch.bpmn",
    ROOT / "processes" / "field_visit_close.bpmn",
    *sorted((ROOT / "forms").glob("repair_dispatch.*.json")),
    *sorted((ROOT / "forms").glob("field_visit_close.*.json")),
]
REQUEST = {
    "customer_name": "順達物流有限公司",
    "phone": "021-58881234",
    "address": "上海市閔行區虹橋路 88 號停車場",
    "product_model": "GPS-T200 車載終端",
    "repair_category": "GPS 車載終端",
    "purchase_date": "2025-03-01",
    "urgency": "一般",
    "fault_description": "終端無定位信號",
}
ORDER = {"visit_start": "2026-11-24T09:00", "estimated_fee": 0, "tools_needed": "萬用表"}


def _approval_task(runtime, db) -> tuple[str, int, dict[str, int]]:
    with db.write() as session:
        ids = {
            name: add_person(session, "technician", name, phone, skills=skills).id
            for name, phone, skills in [
                ("許建國", "13800004001", ["gps_terminal"]),
                ("謝偉", "13800004002", ["plumbing"]),
            ]
        }
        session.commit()
    runtime.deploy(FILES, actor="owner")
    number = runtime.start_case("repair_dispatch", {}, actor="alice").number
    for element, data in (("record_request", REQUEST), ("draft_dispatch_order", ORDER)):
        task = next(t for t in runtime.get_case(number).open_tasks if t.element_id == element)
        runtime.complete_task(task.id, data, "alice")
    task = next(
        t for t in runtime.get_case(number).open_tasks if t.element_id == "approve_dispatch"
    )
    return number, task.id, ids


def test_the_technician_is_a_choice_of_the_offered_people(login, runtime, db):
    _, task_id, ids = _approval_task(runtime, db)
    page = login("sue").get(f"/tasks/{task_id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert '<select name="technician_id"' in text
    assert f'<option value="{ids["許建國"]}" >許建國（暫無評價，經驗 0 年）</option>' in text
    assert "謝偉" not in text  # no GPS skill: not offered


def test_a_choice_the_directory_no_longer_allows_is_refused_on_the_page(login, runtime, db):
    number, task_id, ids = _approval_task(runtime, db)
    sue = login("sue")
    token = csrf_token(sue.get(f"/tasks/{task_id}").text)
    with db.write() as session:
        session.get(Person, ids["許建國"]).available = False
        session.commit()
    answer = {"approval": "批准", "technician_id": str(ids["許建國"]), "csrf_token": token}
    refused = sue.post(f"/tasks/{task_id}", data=answer)
    assert refused.status_code == 422
    assert "這位維修人員目前不可派工，請另選一位" in html.unescape(refused.text)
    assert runtime.get_task(task_id).status == "open"
    assert "technician_id" not in runtime.get_case(number).data
