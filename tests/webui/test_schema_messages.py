"""JSON Schema validation errors in the page's language, with the field's title: each keyword's
message (required, type, minimum/maximum, pattern, enum, format, minLength/maxLength, a limit
taken from the case with x-minimum), the summary above the form that names every field in
error by its title and links to it, and the engine's one-line summary of the failure."""

from __future__ import annotations

import pytest

from engine import ValidationFailed, form_fields, with_case_limits
from engine.definitions.submission import EXTRAS_REFUSE, declared_submission
from tests.conftest import fixture_files
from tests.webui.conftest import csrf_token
from webui.messages import error_summary, translate, translate_errors

SCHEMA = {
    "type": "object",
    "title": "收款",
    "required": ["payer"],
    "properties": {
        "payer": {"type": "string", "title": "付款人"},
        "count": {"type": "integer", "title": "件數", "minimum": 1, "maximum": 9},
        "code": {"type": "string", "title": "編號", "pattern": "^[A-Z]{2}$"},
        "kind": {"type": "string", "title": "類別", "enum": ["現金", "轉帳"]},
        "paid_on": {"type": "string", "title": "付款日期", "format": "date"},
        "email": {"type": "string", "title": "電郵", "format": "email"},
        "note": {"type": "string", "title": "備註", "minLength": 2, "maxLength": 5},
        "amount": {"type": "number", "title": "金額", "x-minimum": "amount_due"},
        "items": {
            "type": "array",
            "title": "明細",
            "items": {
                "type": "object",
                "properties": {"qty": {"type": "integer", "title": "數量", "minimum": 1}},
            },
        },
    },
}
BAD = {
    "count": 12,
    "code": "abc",
    "kind": "支票",
    "paid_on": "2026-13-40",
    "email": "not-an-address",
    "note": "x",
    "amount": 100,
    "items": [{"qty": "many"}],
}
CHINESE = {
    "payer": "此欄位必填",
    "count": "最多 9",
    "code": "格式不正確",
    "kind": "必須是以下之一: 現金, 轉帳",
    "paid_on": "不是有效的日期",
    "email": "不是有效的電子郵件地址",
    "note": "至少需要 2 個字",
    "amount": "至少 300",
    "items.0.qty": "必須是整數",
}
ENGLISH = {
    "payer": "this field is required",
    "count": "must be at most 9",
    "code": "is not in the expected format",
    "kind": "must be one of: 現金, 轉帳",
    "paid_on": "not a valid date",
    "email": "not a valid email address",
    "note": "must be at least 2 characters",
    "amount": "must be at least 300",
    "items.0.qty": "must be a whole number",
}


def refused() -> ValidationFailed:
    bound = with_case_limits(SCHEMA, {"amount_due": 300})  # x-minimum from the case
    with pytest.raises(ValidationFailed) as caught:
        declared_submission(bound, BAD, extras=EXTRAS_REFUSE)
    return caught.value


@pytest.mark.parametrize(("lang", "expected"), [("zh_Hant", CHINESE), ("en", ENGLISH)])
def test_every_keyword_is_said_in_the_pages_language(app, lang, expected):
    exc = refused()
    assert set(exc.errors) == set(expected)
    with app.test_request_context("/", headers={"Cookie": f"lang={lang}"}):
        errors = translate_errors(exc.errors)
        for field, text in expected.items():
            assert errors[field] == [text], field


def test_the_summary_names_each_field_by_its_title(app):
    exc = refused()
    fields = form_fields(SCHEMA)
    with app.test_request_context("/"):
        summary = error_summary(fields, translate_errors(exc.errors))
        texts = [s["text"] for s in summary]
        assert texts[:2] == ["付款人：此欄位必填", "件數：最多 9"]  # the form's order
        assert "金額：至少 300" in texts
        assert "明細 第 1 行 › 數量：必須是整數" in texts
        rows = {s["name"]: s["input"] for s in summary}
        assert rows["items.0.qty"] == "items-0-qty" and rows["payer"] == "payer"
        # The engine's one-line summary names the fields by their titles too.
        assert translate(exc).startswith("請更正 9 個欄位：付款人、件數、編號、")
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        summary = error_summary(fields, translate_errors(exc.errors))
        assert "明細, row 1 › 數量: must be a whole number" in [s["text"] for s in summary]
        assert translate(exc).startswith("Please correct 9 fields: 付款人, 件數, 編號, ")


def test_a_task_page_with_errors_shows_the_summary_linked_to_its_fields(app, login, runtime):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    task_id = runtime.start_case("review_flow").open_tasks[0].id
    alice = login("alice")
    token = csrf_token(alice.get(f"/tasks/{task_id}").text)
    page = alice.post(
        f"/tasks/{task_id}", data={"approve": "on", "note": "長" * 501, "csrf_token": token}
    )
    assert page.status_code == 422
    assert '<div class="error-summary" role="alert" id="error-summary">' in page.text
    assert '<a href="#f-note">備註：最多 500 個字</a>' in page.text
    # The field itself: its label names it, and its error is announced with it.
    assert '<label for="f-note">備註</label>' in page.text
    assert 'id="f-note" aria-invalid="true" aria-describedby="err-note"' in page.text
    english = alice
    english.set_cookie("lang", "en")
    page = english.post(
        f"/tasks/{task_id}", data={"approve": "on", "note": "長" * 501, "csrf_token": token}
    )
    assert '<a href="#f-note">備註: must be at most 500 characters</a>' in page.text
