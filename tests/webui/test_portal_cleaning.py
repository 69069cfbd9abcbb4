"""Rule 4: the cleaning booking page asks for the wanted visit date and time (required on the
customer's page, optional on the desk's own form), stored as an instant in UTC; the desk finds
it prefilled when recording the request and agreeing the visit time."""

from __future__ import annotations

import json
import re

from engine import prefilled_values
from tests.webui.conftest import csrf_token
from tests.webui.portal_world import ROOT, files, look_up, text_of

REQUEST = {
    "customer_name": "王小明",
    "phone": "13800138000",
    "address": "上海市浦東新區世紀大道 100 號",
    "unit_number": "12 棟 1502 室",
    "floor_area": "90",
    "cleaning_kind": "開荒保潔",
    "frequency": "單次",
    "dirtiness": "一般",
}


def test_the_cleaning_page_asks_for_the_wanted_visit_time(app, runtime):
    runtime.deploy(files("home_cleaning_dispatch", "field_visit_close"), actor="owner")
    client = app.test_client()
    page = client.get("/book/home_cleaning_dispatch")
    field = re.search(r'<input type="datetime-local" name="wanted_visit_at"[^>]*>', page.text)
    assert field, "no date and time asked"
    assert 'min="2026-11-23T09:31"' in field.group(0) and 'aria-required="true"' in field.group(0)
    assert "希望上門時間" in page.text

    missing = client.post(
        "/book/home_cleaning_dispatch", data={**REQUEST, "csrf_token": csrf_token(page.text)}
    )
    assert missing.status_code == 422 and 'id="err-wanted_visit_at"' in missing.text

    booked = client.post(
        "/book/home_cleaning_dispatch",
        data={
            **REQUEST,
            "wanted_visit_at": "2026-11-25T09:00",
            "csrf_token": csrf_token(page.text),
        },
        follow_redirects=True,
    )
    number = re.search(r'id="booking-number">([^<]+)<', booked.text).group(1)
    case = runtime.get_case(number)
    # Company time on the page, the instant in UTC in the case.
    assert case.data["wanted_visit_at"] == "2026-11-25T01:00:00+00:00"

    # The desk's request form starts with it; the agreement's visit time too.
    (task,) = case.open_tasks
    assert task.element_id == "record_request"
    request_form = json.loads((ROOT / "forms/home_cleaning_dispatch.request.json").read_text())
    assert "wanted_visit_at" not in request_form["required"]  # the desk may leave it out
    assert (
        prefilled_values(request_form, case.data)["wanted_visit_at"] == case.data["wanted_visit_at"]
    )
    agreement = json.loads((ROOT / "forms/home_cleaning_dispatch.agreement.json").read_text())
    assert prefilled_values(agreement, case.data) == {"visit_start": "2026-11-25T01:00:00+00:00"}

    # The customer sees it as the wanted time, in words.
    shown = text_of(look_up(client, number).text)
    assert "希望時間 2026年11月25日（星期三）09:00" in shown and "開荒保潔 · 單次" in shown
