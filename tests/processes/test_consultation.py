"""客戶咨詢 (seed 004): the consultation closed loop, with its branches.

Every step uses a new Runtime, so each step also proves the case was saved and loads again.
The clock starts on Monday 2026-11-23 09:30 in Shanghai (01:30 UTC).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import ValidationFailed
from engine.identity.users import add_user
from engine.worker.timers import fire_due_timers
from tests.processes.helpers import case_outbox, shown, undrawn, utc

ROOT = Path(__file__).resolve().parents[2]
KEY = "consultation"
FILES = [
    ROOT / "processes" / f"{KEY}.bpmn",
    *sorted((ROOT / "processes").glob(f"{KEY}.*.dmn")),
    *sorted((ROOT / "forms").glob(f"{KEY}.*.json")),
]
EMAILED = {
    "channel": "電子郵件",
    "customer_name": "林小姐",
    "email": "lin@example.com",
    "content": "上個月的賬單為何多了 30 元?",
}
RECORD = {
    "customer_name": "林小姐",
    "email": "lin@example.com",
    "channel": "電子郵件",
    "content": "上個月的賬單為何多了 30 元?",
    "topic": "費用查詢",
    "needs_specialist": False,
    "important": False,
}
CALLED = {"channel": "電話", "customer_name": "周先生", "phone": "13800000005"}
FAULT = {
    "customer_name": "周先生",
    "phone": "13800000005",
    "channel": "電話",
    "content": "系統登入後一直顯示錯誤 500",
    "topic": "系統故障",
    "needs_specialist": False,
    "important": False,
}


@pytest.fixture
def consult(runtime, db, settings, clock):
    runtime.deploy(FILES, actor="owner")
    for name, roles in {
        "alice": ["service_desk"],
        "sue": ["supervisor"],
        "tom": ["specialist"],
    }.items():
        add_user(db, settings, name, roles, clock.now())
    return runtime


def open_task(rt, number, element_id):
    """The one open task of the case at that element (read from the task table)."""
    tasks = [
        t
        for t in rt.list_tasks(case=number, status=("open", "claimed"))
        if t.element_id == element_id
    ]
    assert len(tasks) == 1, [(t.element_id, t.status) for t in rt.list_tasks(case=number)]
    return tasks[0]


def open_elements(rt, number) -> list[str]:
    return [t.element_id for t in rt.list_tasks(case=number, status=("open", "claimed"))]


def complete(new_rt, number, element_id, data, user):
    rt = new_rt()
    task = open_task(rt, number, element_id)
    shown(rt, number, task)
    return rt.complete_task(task.id, data, user)


def rejected(new_rt, number, element_id, data, user) -> set[str]:
    """Submit invalid data; the form refuses it field by field and the task stays open."""
    rt = new_rt()
    task = open_task(rt, number, element_id)
    with pytest.raises(ValidationFailed) as failure:
        rt.complete_task(task.id, data, user)
    assert open_task(rt, number, element_id).status == task.status  # (open, or claimed)
    assert all(failure.value.errors.values())  # a message for every field named
    return set(failure.value.errors)


def reply(reaction="滿意", method="電話", **more):
    return {"reply_text": "您好,多出的 30 元是上月的短信套餐費。", "reply_method": method,
            "customer_reaction": reaction, **more}  # fmt: skip


def survey_and_close(new_rt, number):
    assert rejected(new_rt, number, "satisfaction_survey",
                    {"reached": True, "channel_convenience": 0}, "alice") == {
        "channel_convenience", "staff_attitude", "result_satisfaction"
    }  # fmt: skip
    return complete(new_rt, number, "satisfaction_survey", {
        "reached": True, "channel_convenience": 5, "staff_attitude": 5, "result_satisfaction": 4,
    }, "alice")  # fmt: skip


def to_specialist(new_rt, number, urgency="一般"):
    """A complex consultation, recorded, goes to a specialist of the suggested department."""
    return complete(new_rt, number, "assign_specialist", {
        "assigned_department": "技術部", "urgency": urgency, "requirements": "查明原因並給出解決辦法",
    }, "alice")  # fmt: skip


# ----- deployment ------------------------------------------------------------------------------


def test_deploys_with_a_layout_for_every_element(runtime):
    deployed = runtime.deploy(FILES)
    assert {d.key for d in deployed if d.kind == "process"} == {KEY}
    nodes, flows, lanes = undrawn(FILES[0])
    assert nodes == set()
    assert flows == set()
    assert lanes == set()


# ----- simple questions ------------------------------------------------------------------------


def test_emailed_question_is_acknowledged_at_once_and_answered_by_the_desk(
    consult, fresh_runtime, db
):
    case = fresh_runtime().start_case(KEY, EMAILED)
    number = case.number
    assert number.startswith("CQ-20261123-")
    ack = case_outbox(db, number)
    assert [(r.channel, r.recipient, r.subject) for r in ack] == [
        ("email", "lin@example.com", f"已收到您的咨詢 {number}")
    ]
    assert "將在 1 個工作日內（11月24日 09:30 前）回覆您" in ack[0].body
    assert case.data["expected_reply_by"] == "2026-11-24T01:30:00+00:00"

    record = open_task(fresh_runtime(), number, "record_consultation")
    assert record.role == "service_desk"
    assert rejected(fresh_runtime, number, "record_consultation", {
        "customer_name": "林小姐", "channel": "電子郵件", "content": "x", "topic": "發票",
        "important": True, "needs_specialist": False,
    }, "alice") == {"topic", "email", "special_needs"}  # fmt: skip
    case = complete(fresh_runtime, number, "record_consultation", RECORD, "alice")
    assert (case.data["category"], case.data["department"], case.data["route"]) == (
        "費用相關咨詢", "財務部", "簡單",
    )  # fmt: skip
    assert open_elements(fresh_runtime(), number) == ["reply_customer"]
    assert "tracking" not in case.active_elements  # neither important nor complex

    assert rejected(fresh_runtime, number, "reply_customer",
                    {"reply_text": "", "reply_method": "傳真", "customer_reaction": "不滿意"},
                    "alice") == {
        "reply_text", "reply_method", "dissatisfaction_reason", "escalate_to_specialist"
    }  # fmt: skip
    case = complete(fresh_runtime, number, "reply_customer", reply("未表態", "電子郵件"), "alice")
    answer, invite = case_outbox(db, number)[-2:]
    assert (answer.channel, answer.subject) == ("email", f"關於您的咨詢 {number}")
    assert "多出的 30 元是上月的短信套餐費" in answer.body
    # Closed: the survey's link goes to the customer; the desk's call stays open meanwhile.
    assert (invite.channel, invite.subject) == ("email", f"咨詢服務滿意度調查 {number}")
    assert f"/book/reply/survey_answer/{number}." in invite.body
    assert open_elements(fresh_runtime(), number) == ["satisfaction_survey"]

    case = survey_and_close(fresh_runtime, number)
    assert case.status == "completed"
    assert case.data["result_satisfaction"] == 4


def test_chat_without_email_is_acknowledged_by_sms_and_a_phone_call_is_not(
    consult, fresh_runtime, db
):
    chat = (
        fresh_runtime()
        .start_case(
            KEY, {"channel": "在線客服", "customer_name": "小魚", "phone": "+86 138 0000 0006"}
        )
        .number
    )
    assert [(r.channel, r.recipient) for r in case_outbox(db, chat)] == [
        ("sms", "+86 138 0000 0006")
    ]
    call = fresh_runtime().start_case(KEY, CALLED).number
    assert case_outbox(db, call) == []
    assert open_elements(fresh_runtime(), call) == ["record_consultation"]


def test_customer_not_satisfied_is_answered_again_then_sent_to_a_specialist(
    consult, fresh_runtime, clock, db
):
    number = fresh_runtime().start_case(KEY, CALLED).number
    complete(fresh_runtime, number, "record_consultation",
             {**FAULT, "topic": "套餐辦理", "content": "想換月費較低的套餐"}, "alice")  # fmt: skip
    # Not satisfied: the desk answers again.
    case = complete(fresh_runtime, number, "reply_customer",
                    reply("不滿意", dissatisfaction_reason="沒有比較各套餐",
                          escalate_to_specialist=False), "alice")  # fmt: skip
    assert case.data["rework_count"] == 1
    assert open_elements(fresh_runtime(), number) == ["reply_customer"]
    # Still not satisfied: this time a specialist of the business department takes it.
    complete(fresh_runtime, number, "reply_customer",
             reply("不滿意", dissatisfaction_reason="想要書面比較表",
                   escalate_to_specialist=True), "alice")  # fmt: skip
    assign = open_task(fresh_runtime(), number, "assign_specialist")
    assert "客戶對上次回覆不滿意:想要書面比較表" in shown(fresh_runtime(), number, assign)
    to_specialist(fresh_runtime, number)
    complete(fresh_runtime, number, "specialist_handle",
             {"result_text": "附各套餐月費比較表"}, "tom")  # fmt: skip
    # The result goes back to the receiving agent (who recorded the consultation), by name.
    review = open_task(fresh_runtime(), number, "review_result")
    assert (review.status, review.assignee) == ("claimed", "alice")
    complete(fresh_runtime, number, "review_result", {"review_outcome": "通過"}, "alice")
    case = complete(fresh_runtime, number, "reply_customer", reply("滿意", "短信"), "alice")
    assert [m.channel for m in case_outbox(db, number)[-2:]] == ["sms", "sms"]  # reply, survey link
    assert case.data["rework_count"] == 2
    assert open_elements(fresh_runtime(), number) == ["satisfaction_survey"]


# ----- complex questions -----------------------------------------------------------------------


def test_complex_question_result_sent_back_then_replied_and_tracking_stops(
    consult, fresh_runtime, clock, db
):
    number = fresh_runtime().start_case(KEY, CALLED).number
    # A system fault always goes to a specialist, even if the desk did not tick it.
    case = complete(fresh_runtime, number, "record_consultation", FAULT, "alice")
    assert (case.data["category"], case.data["department"], case.data["route"]) == (
        "技術支持咨詢", "技術部", "複雜",
    )  # fmt: skip
    # Complex questions are tracked: the first contact is due in two working days.
    assert [(t.element_id, t.due_at) for t in case.timers] == [
        ("tracking_wait", utc("2026-11-25T01:30:00+00:00"))
    ]
    assert rejected(fresh_runtime, number, "assign_specialist",
                    {"assigned_department": "IT", "urgency": "馬上"}, "alice") == {
        "assigned_department", "urgency", "requirements"
    }  # fmt: skip
    clock.set("2026-11-23T02:00:00+00:00")
    to_specialist(fresh_runtime, number, urgency="緊急")
    handle = open_task(fresh_runtime(), number, "specialist_handle")
    assert handle.role == "specialist"
    assert handle.due_at == utc("2026-11-24T02:00:00+00:00")  # urgent: one working day

    assert rejected(fresh_runtime, number, "specialist_handle", {"result_text": ""}, "tom") == {
        "result_text"
    }
    complete(fresh_runtime, number, "specialist_handle", {"result_text": "請清除緩存"}, "tom")
    assert rejected(fresh_runtime, number, "review_result",
                    {"review_outcome": "退回重新處理"}, "alice") == {"review_feedback"}  # fmt: skip
    complete(fresh_runtime, number, "review_result", {
        "review_outcome": "退回重新處理", "review_feedback": "未說明錯誤 500 的原因",
    }, "alice")  # fmt: skip
    again = open_task(fresh_runtime(), number, "specialist_handle")
    assert "受理人員退回意見:未說明錯誤 500 的原因" in shown(fresh_runtime(), number, again)
    complete(fresh_runtime, number, "specialist_handle",
             {"result_text": "伺服器證書過期,已更新;請重新登入"}, "tom")  # fmt: skip
    complete(fresh_runtime, number, "review_result", {"review_outcome": "通過"}, "alice")
    reply_task = open_task(fresh_runtime(), number, "reply_customer")
    assert "伺服器證書過期" in shown(fresh_runtime(), number, reply_task)

    case = complete(fresh_runtime, number, "reply_customer", reply("滿意"), "alice")
    # Closed: the tracking loop stops, the survey opens.
    assert case.timers == []
    assert "tracking" not in case.active_elements
    assert open_elements(fresh_runtime(), number) == ["satisfaction_survey"]
    assert survey_and_close(fresh_runtime, number).status == "completed"


def test_specialist_deadline_escalates_to_the_supervisor(consult, fresh_runtime, clock):
    number = fresh_runtime().start_case(KEY, CALLED).number
    complete(fresh_runtime, number, "record_consultation",
             {**FAULT, "topic": "使用方法", "needs_specialist": True}, "alice")  # fmt: skip
    assert fresh_runtime().get_case(number).data["department"] == "產品部"
    to_specialist(fresh_runtime, number)  # 一般: three working days
    handle = open_task(fresh_runtime(), number, "specialist_handle")
    assert handle.due_at == utc("2026-11-26T01:30:00+00:00")

    clock.set("2026-11-26T01:30:00+00:00")  # Thursday 09:30
    fire_due_timers(fresh_runtime())
    followup = open_task(fresh_runtime(), number, "supervisor_followup")
    assert followup.role == "supervisor"
    assert "specialist_handle" not in open_elements(fresh_runtime(), number)
    assert rejected(fresh_runtime, number, "supervisor_followup",
                    {"escalation_action": "催辦並延長期限", "escalation_note": "請盡快"}, "sue") == {
        "specialist_working_days"
    }  # fmt: skip
    complete(fresh_runtime, number, "supervisor_followup", {
        "escalation_action": "催辦並延長期限", "escalation_note": "今天內回覆",
        "specialist_working_days": 1,
    }, "sue")  # fmt: skip
    handle = open_task(fresh_runtime(), number, "specialist_handle")
    assert handle.due_at == utc("2026-11-27T01:30:00+00:00")
    assert "主管督辦:今天內回覆" in shown(fresh_runtime(), number, handle)

    # Missed again: the supervisor answers herself; the desk still reviews the answer.
    clock.set("2026-11-27T01:30:00+00:00")
    fire_due_timers(fresh_runtime())
    assert rejected(fresh_runtime, number, "supervisor_followup",
                    {"escalation_action": "主管直接處理", "escalation_note": "我來"}, "sue") == {
        "result_text"
    }  # fmt: skip
    complete(fresh_runtime, number, "supervisor_followup", {
        "escalation_action": "主管直接處理", "escalation_note": "由主管回覆",
        "result_text": "在設定頁開啟雙重驗證即可",
    }, "sue")  # fmt: skip
    review = open_task(fresh_runtime(), number, "review_result")
    assert "在設定頁開啟雙重驗證即可" in shown(fresh_runtime(), number, review)


# ----- tracking --------------------------------------------------------------------------------


def test_important_customer_is_contacted_periodically_until_closed(consult, fresh_runtime, clock):
    number = fresh_runtime().start_case(KEY, CALLED).number
    complete(fresh_runtime, number, "record_consultation", {
        **FAULT, "topic": "建議", "content": "希望增加夜間客服", "important": True,
        "special_needs": "只在晚上 7 點後接聽電話",
    }, "alice")  # fmt: skip
    assert open_elements(fresh_runtime(), number) == ["reply_customer"]  # a simple one

    for due in ("2026-11-25T01:30:00+00:00", "2026-11-27T01:30:00+00:00"):
        clock.set(due)
        fire_due_timers(fresh_runtime())
        contact = open_task(fresh_runtime(), number, "tracking_contact")
        assert contact.role == "service_desk"
        assert "特殊需求:只在晚上 7 點後接聽電話" in shown(fresh_runtime(), number, contact)
        complete(fresh_runtime, number, "tracking_contact", {
            "contacted": True, "progress_note": "建議已轉交運營部評估", "stop_tracking": False,
        }, "alice")  # fmt: skip

    clock.set("2026-12-01T01:30:00+00:00")
    fire_due_timers(fresh_runtime())
    assert sorted(open_elements(fresh_runtime(), number)) == ["reply_customer", "tracking_contact"]
    assert rejected(fresh_runtime, number, "tracking_contact", {"contacted": True}, "alice") == {
        "progress_note",
        "stop_tracking",
    }
    # The reply closes the consultation; the open tracking contact is withdrawn with it.
    complete(fresh_runtime, number, "reply_customer", reply("滿意"), "alice")
    assert open_elements(fresh_runtime(), number) == ["satisfaction_survey"]
    cancelled = [
        t for t in fresh_runtime().list_tasks(case=number) if t.element_id == "tracking_contact"
    ]
    assert [t.status for t in cancelled] == ["done", "done", "cancelled"]
    assert survey_and_close(fresh_runtime, number).status == "completed"


def test_customer_may_ask_to_stop_the_tracking(consult, fresh_runtime, clock):
    number = fresh_runtime().start_case(KEY, CALLED).number
    complete(fresh_runtime, number, "record_consultation", {
        **FAULT, "topic": "其他", "important": True, "special_needs": "無",
    }, "alice")  # fmt: skip
    clock.set("2026-11-25T01:30:00+00:00")
    fire_due_timers(fresh_runtime())
    case = complete(fresh_runtime, number, "tracking_contact", {
        "contacted": True, "progress_note": "客戶表示不需再聯繫", "stop_tracking": True,
    }, "alice")  # fmt: skip
    assert case.timers == [] and "tracking" not in case.active_elements
    complete(fresh_runtime, number, "reply_customer", reply("滿意"), "alice")
    assert survey_and_close(fresh_runtime, number).status == "completed"
