"""The wording pages of a process: its message templates and task instructions listed on the
process page, each edited with a live preview on a running case and deployed as a new version
(a bad template is refused with its message and nothing is deployed); the comparison of two
versions shows the template's changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.runtime.versions import get_process
from engine.store.tables import Event, Outbox
from tests.engine.test_template_preview import REMINDER, deploy_worded
from tests.webui.conftest import csrf_token

REMINDER_URL = "/models/worded_flow/templates/worded_flow.reminder"
LETTER_URL = "/models/worded_flow/templates/worded_flow.letter"
CALL_URL = "/models/worded_flow/instructions/call"


@pytest.fixture
def worded(runtime, users):
    deploy_worded(runtime)
    return runtime


@pytest.fixture
def olga(login):
    return login("olga")


def versions(runtime) -> list[int]:
    return [v.version for v in get_process(runtime.db, "worded_flow").versions]


def sms_bodies(db) -> list[str]:
    with db.read() as session:
        rows = session.scalars(select(Outbox).where(Outbox.channel == "sms").order_by(Outbox.id))
        return [r.body for r in rows]


def finish_call(runtime, number: str) -> None:
    (task,) = runtime.get_case(number).open_tasks
    runtime.complete_task(task.id, {"confirmed": True}, "alice")


def post(client, url, **fields):
    token = csrf_token(client.get("/models").text)
    return client.post(url, data={"csrf_token": token, **fields})


def test_only_process_owners_get_in(app, login, worded):
    anonymous = app.test_client()
    for url in (REMINDER_URL, CALL_URL):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    alice = login("alice")
    token = csrf_token(alice.get("/tasks").text)
    for url in (REMINDER_URL, CALL_URL):
        assert alice.get(url).status_code == 403
        for action in ("preview", "deploy"):
            refused = alice.post(f"{url}/{action}", data={"csrf_token": token, "text": "x"})
            assert refused.status_code == 403
    assert login("sue").get(REMINDER_URL).status_code == 403
    assert versions(worded) == [1]
    olga = login("olga")
    assert olga.get(REMINDER_URL).status_code == 200
    assert olga.get(CALL_URL).status_code == 200
    assert olga.get("/models/worded_flow/templates/worded_flow.never").status_code == 404
    assert olga.get("/models/worded_flow/instructions/send").status_code == 404  # not a user task
    assert olga.get("/models/nothing/templates/x").status_code == 404


def test_the_process_page_lists_its_templates_and_instructions(olga, worded):
    page = olga.get("/models/worded_flow/1").text
    templates = page.split('id="templates"')[1].split('id="instructions"')[0]
    assert 'data-template="worded_flow.reminder"' in templates
    assert 'data-template="worded_flow.letter"' in templates
    assert "{{ customer_name }} 您好，提醒您" in templates
    assert "簡訊" in templates and "電子郵件" in templates  # the channels, in Chinese
    assert f'href="{REMINDER_URL}"' in templates
    instructions = page.split('id="instructions"')[1].split('id="migrate"')[0]
    assert 'data-task="call"' in instructions and "請致電 {{ customer_name }}" in instructions
    assert f'href="{CALL_URL}"' in instructions


def test_the_editor_previews_on_a_running_case_with_the_sms_count(olga, worded):
    number = worded.start_case("worded_flow").number
    page = olga.get(REMINDER_URL)
    assert page.status_code == 200
    assert f'<option value="{number}" selected>' in page.text
    assert "王小明 您好，提醒您 [when] 的預約（尾號 8000）。" in page.text
    assert 'data-segments="1"' in page.text and 'data-encoding="UCS-2"' in page.text
    # The live preview: a fragment for the text being typed (CRLF from the browser).
    long = post(
        olga, f"{REMINDER_URL}/preview", text="{{ customer_name }}" + "請" * 80, case=number
    )
    assert long.status_code == 200 and 'data-segments="2"' in long.text
    fragment = olga.post(
        f"{REMINDER_URL}/preview",
        data={"csrf_token": csrf_token(page.text), "text": "您好\r\n{{ nope }}", "case": number},
        headers={"X-Preview": "fragment"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="render-error" data-line="2"' in fragment.text and "nope" in fragment.text
    letter = olga.get(LETTER_URL).text
    assert f'id="preview-subject">預約提醒 {number}</span>' in letter
    assert 'id="sms-count"' not in letter  # sent by e-mail only


def test_looking_at_a_case_through_the_preview_is_recorded_once(olga, worded, db):
    number = worded.start_case("worded_flow").number
    olga.get(REMINDER_URL)
    post(olga, f"{REMINDER_URL}/preview", text="{{ customer_name }}", case=number)
    with db.read() as session:
        views = session.scalars(select(Event).where(Event.kind == "personal_data_viewed")).all()
    assert [(e.kind, e.detail.get("what")) for e in views] == [
        ("personal_data_viewed", "template_preview:worded_flow.reminder")
    ]


def test_a_bad_template_is_refused_with_its_message_and_nothing_is_deployed(olga, worded):
    refused = post(olga, f"{REMINDER_URL}/deploy", text="{{ customer_name 您好")
    assert refused.status_code == 422
    assert 'id="problems"' in refused.text and "line 1" in refused.text
    assert "{{ customer_name 您好" in refused.text  # the text is kept for fixing
    assert versions(worded) == [1]


def test_deploy_makes_a_new_version_and_a_running_case_keeps_the_old_wording(olga, worded, db):
    before = worded.start_case("worded_flow").number
    deployed = post(
        olga, f"{REMINDER_URL}/deploy", text="{{ customer_name }}：別忘了 {{ when }}。\r\n"
    )
    assert deployed.status_code == 302
    assert versions(worded) == [2, 1]
    page = olga.get(deployed.headers["Location"]).text
    assert "worded_flow v2" in page
    again = post(olga, f"{REMINDER_URL}/deploy", text="{{ customer_name }}：別忘了 {{ when }}。\n")
    assert again.status_code == 302 and versions(worded) == [2, 1]  # same text: nothing new
    after = worded.start_case("worded_flow").number
    finish_call(worded, before)
    finish_call(worded, after)
    assert sms_bodies(db) == [
        "王小明 您好，提醒您 明天 10:00 的預約（尾號 8000）。\n",
        "王小明：別忘了 明天 10:00。\n",
    ]
    # Version 1's text can be brought back from its page.
    old = olga.get("/models/worded_flow/1").text.split('id="templates"')[1]
    assert f"{REMINDER_URL}?from=1" in old
    restore = olga.get(f"{REMINDER_URL}?from=1").text
    assert REMINDER.strip() in restore
    compare = olga.get("/models/worded_flow/compare?a=1&b=2").text
    changes = compare.split('id="template-changes"')[1]
    assert 'data-template="worded_flow.reminder" data-change="changed"' in changes
    assert "別忘了" in changes


def test_instructions_editor_previews_deploys_and_refuses_a_bad_template(olga, worded):
    before = worded.start_case("worded_flow")
    page = olga.get(CALL_URL)
    assert page.status_code == 200
    assert "請致電 王小明（13800138000）。" in page.text
    preview = post(
        olga, f"{CALL_URL}/preview", text="請再打給 {{ customer_name }}", case=before.number
    )
    assert "請再打給 王小明" in preview.text

    refused = post(olga, f"{CALL_URL}/deploy", text="請致電 {% if %}")
    assert refused.status_code == 422 and 'id="problems"' in refused.text
    assert versions(worded) == [1]

    deployed = post(olga, f"{CALL_URL}/deploy", text="請再打給 {{ customer_name }}。")
    assert deployed.status_code == 302 and versions(worded) == [2, 1]
    after = worded.start_case("worded_flow")
    alice_sees = worded.get_task(after.open_tasks[0].id).instructions
    assert alice_sees == "請再打給 {{ customer_name }}。"
    kept = worded.get_task(before.open_tasks[0].id).instructions
    assert kept == "請致電 {{ customer_name }}（{{ phone }}）。"
    compare = olga.get("/models/worded_flow/compare?a=1&b=2").text
    assert 'data-element="call"' in compare and "請再打給" in compare


@pytest.mark.parametrize("value", ["x" * 3000, "\u202e", "%ff", "a'b\"<>", "SA-1"])
def test_an_odd_case_choice_previews_on_the_newest_running_case(olga, worded, value):
    number = worded.start_case("worded_flow").number
    for url in (REMINDER_URL, CALL_URL):
        page = olga.get(url, query_string={"case": value})
        assert page.status_code == 200 and f"{number}" in page.text
