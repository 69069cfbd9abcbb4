"""The case page marks the elements a case waits at for a message as waiting (a colour of
their own, "等待訊息 <message>" on the element) and lists the messages it waits for. The cases
stand where they do by hand-worked steps; each step saves the case and the next one loads it."""

from __future__ import annotations

import html as htmllib
import json
import re

from tests.conftest import fixture_files

FLOW = "reply_wait_flow"


def complete(runtime, number: str, element: str) -> None:
    task = next(t for t in runtime.get_case(number).open_tasks if t.element_id == element)
    runtime.complete_task(task.id, {"confirmed": True}, "alice")


def markers(page: str) -> dict:
    found = re.search(r"data-markers='([^']*)'", page).group(1)
    return json.loads(htmllib.unescape(found))


def reply_world(runtime) -> dict[str, str]:
    """Eight cases of reply_wait_flow v1, by where they stand (by hand):
    d, e at 受理 (a task); a, b, c at the gateway, each waiting for the reply (a message) and
    the three days (a timer); f at 收到付款 (a receive task); h at 結案 (a task) with its
    withdrawal boundary event (a message); g cancelled (nowhere)."""
    runtime.deploy(fixture_files(f"{FLOW}.bpmn"))
    cases = dict(zip("abcdefgh", (runtime.start_case(FLOW).number for _ in range(8)), strict=True))
    for key in "abcfgh":
        complete(runtime, cases[key], "task_intake")
    runtime.send_message(cases["f"], "customer_reply", actor="portal")
    runtime.send_message(cases["h"], "customer_reply", actor="portal")
    runtime.send_message(cases["h"], "payment_received", actor="portal")
    runtime.cancel_case(cases["g"], "客戶取消", actor="sue")
    return cases


# ----- the case page -----------------------------------------------------------------------


def test_case_page_marks_message_waits_as_waiting(app, login, runtime):
    cases = reply_world(runtime)
    sue = login("sue")
    page = sue.get(f"/cases/{cases['a']}").text
    # At the gateway: the reply (a message) and the three days (a timer) both wait.
    marks = markers(page)
    assert marks["waiting"] == ["no_reply", "reply"]
    assert marks["message"] == ["reply"]
    assert marks["titles"] == {"reply": "等待訊息 customer_reply"}
    legend = page.split('class="legend"')[1].split("</p>")[0]
    assert 'class="lg message"' in legend and "等待訊息" in legend
    # The summary lists the message with what waits for it.
    summary = page.split('id="waiting-messages">')[1].split("</ul>")[0]
    assert re.sub(r"<[^>]+>", "", summary).strip() == "customer_reply · 客戶回覆"

    # A receive task, and a message boundary event on the task the case is at.
    paying = markers(sue.get(f"/cases/{cases['f']}").text)
    assert paying["waiting"] == paying["message"] == ["receive_payment"]
    assert paying["titles"] == {"receive_payment": "等待訊息 payment_received"}
    closing = markers(sue.get(f"/cases/{cases['h']}").text)
    assert closing["message"] == ["withdrawn"] and "task_close" in closing["active"]
    assert closing["titles"] == {"withdrawn": "等待訊息 customer_withdraws"}

    # A case at a task only: nothing waits, no message is listed; ended: none either.
    intake = sue.get(f"/cases/{cases['d']}").text
    assert markers(intake)["message"] == [] and markers(intake)["titles"] == {}
    assert "<li>" not in intake.split('id="waiting-messages">')[1].split("</ul>")[0]
    assert markers(sue.get(f"/cases/{cases['g']}").text)["message"] == []

    sue.set_cookie("lang", "en")
    english = sue.get(f"/cases/{cases['a']}").text
    assert markers(english)["titles"] == {"reply": "Waiting for message customer_reply"}
    assert "Waiting for messages" in english
