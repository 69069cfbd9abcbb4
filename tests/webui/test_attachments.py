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
    assert exe.status_code == 422 and "not accepted" in exe.text
    fake = post(alice, task_id, evidence=("report.pdf", b"<script>alert(1)</script>"))
    assert fake.status_code == 422 and "does not match" in fake.text
    assert runtime.get_task(task_id).status == "open"
    from engine.runtime import attachments

    assert attachments.for_case(runtime.db, number) == []
