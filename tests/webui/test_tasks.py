"""Staff pages: sign in, inbox, the task form with server-side validation, conflicts."""

from __future__ import annotations

import json

from tests.conftest import fixture_files
from tests.webui.conftest import csrf_token


def start_review_case(runtime) -> tuple[str, int]:
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = runtime.start_case(
        "review_flow", {"customer_name": "王小明", "phone": "13800000000"}
    ).number
    return number, runtime.get_case(number).open_tasks[0].id


def test_anonymous_is_sent_to_sign_in(app):
    client = app.test_client()
    response = client.get("/tasks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_is_refused(app):
    client = app.test_client()
    page = client.get("/login")
    response = client.post(
        "/login", data={"name": "alice", "password": "nope", "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 401 and "使用者名稱或密碼錯誤" in response.text


def test_post_without_csrf_token_is_refused(app, login, runtime):
    _, task_id = start_review_case(runtime)
    client = login("alice")
    response = client.post(f"/tasks/{task_id}", data={"approve": "on"})
    assert response.status_code == 400
    assert runtime.get_task(task_id).status == "open"


def test_inbox_task_form_error_then_success(app, login, runtime):
    number, task_id = start_review_case(runtime)
    client = login("alice")
    inbox = client.get("/tasks")
    assert inbox.status_code == 200 and "受理審核" in inbox.text and number in inbox.text

    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200
    assert "請審核 王小明 的申請。" in page.text  # instructions rendered with the case data
    assert 'name="approve"' in page.text and 'name="note"' in page.text

    token = csrf_token(page.text)
    bad = client.post(f"/tasks/{task_id}", data={"note": "x" * 501, "csrf_token": token})
    assert bad.status_code == 422
    assert (
        'id="err-note"' in bad.text and "x" * 501 in bad.text
    )  # error beside the field, value kept
    assert runtime.get_task(task_id).status == "open"

    good = client.post(
        f"/tasks/{task_id}", data={"approve": "on", "note": "好", "csrf_token": token}
    )
    assert good.status_code == 302
    case = runtime.get_case(number)
    assert [t.element_id for t in case.open_tasks] == ["task_b"]
    assert "已完成" in client.get("/tasks").text  # the flash message


def test_someone_else_completed_it_first(app, login, runtime):
    _, task_id = start_review_case(runtime)
    alice, carol = login("alice"), login("carol")
    token = csrf_token(carol.get(f"/tasks/{task_id}").text)
    alice.post(
        f"/tasks/{task_id}",
        data={"approve": "on", "csrf_token": csrf_token(alice.get(f"/tasks/{task_id}").text)},
    )
    late = carol.post(f"/tasks/{task_id}", data={"approve": "on", "csrf_token": token})
    assert late.status_code in (403, 409)
    assert "alice" in late.text


def test_other_roles_cannot_reach_the_task(app, login, runtime):
    _, task_id = start_review_case(runtime)
    bob = login("bob")
    assert bob.get(f"/tasks/{task_id}").status_code == 403
    assert (
        bob.post(
            f"/tasks/{task_id}", data={"csrf_token": csrf_token(bob.get("/tasks").text)}
        ).status_code
        == 403
    )
    assert "受理審核" not in bob.get("/tasks").text
    assert bob.get("/tasks/999999").status_code == 404


def test_claim_and_give_back(app, login, runtime):
    _, task_id = start_review_case(runtime)
    alice = login("alice")
    token = csrf_token(alice.get("/tasks").text)
    assert alice.post(f"/tasks/{task_id}/claim", data={"csrf_token": token}).status_code == 302
    assert runtime.get_task(task_id).assignee == "alice"
    carol = login("carol")
    assert "受理審核" not in carol.get("/tasks").text
    assert alice.post(f"/tasks/{task_id}/unclaim", data={"csrf_token": token}).status_code == 302
    assert "受理審核" in carol.get("/tasks").text


def test_english_on_request(app, login, runtime):
    start_review_case(runtime)
    alice = login("alice")
    alice.get("/lang/en?next=/tasks")
    page = alice.get("/tasks")
    assert "My tasks" in page.text and "我的任務" not in page.text
    assert "我的任務" in login("carol").get("/tasks").text


def test_default_cookies_are_secure(runtime):
    from webui import create_app

    app = create_app({"SECRET_KEY": "x"}, runtime=runtime)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_a_form_starts_only_with_the_fields_it_prefills(app, login, runtime, tmp_path):
    """A field named like case data starts empty unless the form says "x-prefill": a clerk
    must not submit another task's answer unread."""
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = runtime.start_case(
        "review_flow", {"customer_name": "王小明", "note": "客戶在網上留言"}
    ).number
    task_id = runtime.get_case(number).open_tasks[0].id
    page = login("alice").get(f"/tasks/{task_id}")
    assert "客戶在網上留言" not in page.text

    form = json.loads(fixture_files("review_form.json")[0].read_text())
    form["properties"]["note"]["x-prefill"] = "note"
    changed = tmp_path / "review_form.json"
    changed.write_text(json.dumps(form, ensure_ascii=False))
    runtime.deploy([fixture_files("review_flow.bpmn")[0], changed])
    number = runtime.start_case(
        "review_flow", {"customer_name": "王小明", "note": "客戶在網上留言"}
    ).number
    task_id = runtime.get_case(number).open_tasks[0].id
    page = login("alice").get(f"/tasks/{task_id}")
    assert 'name="note" value="客戶在網上留言"' in page.text
