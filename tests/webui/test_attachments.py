"""Files with task forms: only allowed types, stored by content, reachable only by the case's
roles and supervisors."""

from __future__ import annotations

import io
import re

from tests.conftest import fixture_files
from tests.webui.conftest import csrf_token

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def open_review(runtime):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = runtime.start_case("review_flow", {"customer_name": "王小明"}).number
    return number, runtime.get_case(number).open_tasks[0].id


def post(client, task_id, **files):
    token = csrf_token(client.get(f"/tasks/{task_id}").text)
    data = {"approve": "on", "csrf_token": token}
    for field, (name, content) in files.items():
        data[f"{field}__file"] = (io.BytesIO(content), name)
    return client.post(f"/tasks/{task_id}", data=data, content_type="multipart/form-data")


def test_upload_with_the_form_then_download(app, login, runtime):
    number, task_id = open_review(runtime)
    alice = login("alice")
    assert post(alice, task_id, evidence=("合同草稿.pdf", PDF)).status_code == 302
    reference = runtime.get_case(number).data["evidence"]
    attachment_id = int(re.match(r"att-(\d+)", reference).group(1))
    download = alice.get(f"/attachments/{attachment_id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in download.headers["Content-Disposition"]
    assert login("sue").get(f"/attachments/{attachment_id}").status_code == 200
    assert login("olga").get(f"/attachments/{attachment_id}").status_code == 404  # no task of hers
    assert app.test_client().get(f"/attachments/{attachment_id}").status_code == 302
    assert "合同草稿.pdf" in login("sue").get(f"/cases/{number}").text


def test_refused_types_change_nothing(app, login, runtime):
    number, task_id = open_review(runtime)
    alice = login("alice")
    exe = post(alice, task_id, evidence=("setup.exe", b"MZ\x90\x00"))
    assert exe.status_code == 422 and "不接受 .exe 類型的檔案" in exe.text
    fake = post(alice, task_id, evidence=("report.pdf", b"<script>alert(1)</script>"))
    assert fake.status_code == 422 and "檔案內容與其類型不符" in fake.text
    assert runtime.get_task(task_id).status == "open"
    from engine.runtime import attachments

    assert attachments.for_case(runtime.db, number) == []


def test_a_file_sent_with_a_form_that_loses_to_another_user_is_not_kept(app, login, runtime):
    """The files are stored in the step that completes the task: when someone else completed
    it first (the page was open in two browsers), the answer is 409 and no file stays."""
    from engine.runtime import attachments

    number, task_id = open_review(runtime)
    alice, carol = login("alice"), login("carol")
    token = csrf_token(carol.get(f"/tasks/{task_id}").text)  # carol opens the page ...
    assert post(alice, task_id).status_code == 302  # ... alice completes the task first
    late = carol.post(
        f"/tasks/{task_id}",
        data={
            "approve": "on",
            "csrf_token": token,
            "evidence__file": (io.BytesIO(PDF), "晚到.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert late.status_code == 409 and "alice" in late.text
    assert attachments.for_case(runtime.db, number) == []


def test_the_form_is_checked_once_per_post(app, login, runtime, monkeypatch):
    from engine.definitions import submission as forms

    number, task_id = open_review(runtime)
    calls = []
    check = forms.validate_submission

    def counted(*args, **kwargs):
        calls.append(1)
        return check(*args, **kwargs)

    import engine
    import webui.tasks

    monkeypatch.setattr(forms, "validate_submission", counted)
    monkeypatch.setattr(engine, "validate_submission", counted, raising=False)
    monkeypatch.setattr(webui.tasks, "validate_submission", counted, raising=False)
    assert post(login("alice"), task_id, evidence=("a.pdf", PDF)).status_code == 302
    assert len(calls) == 1
