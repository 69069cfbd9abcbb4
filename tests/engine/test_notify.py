"""Notifications are queued in the outbox in the step's own transaction."""

from __future__ import annotations

from sqlalchemy import select

from engine.store.tables import Outbox
from tests.conftest import fixture_files


def outbox(db):
    with db.read() as session:
        return session.scalars(select(Outbox).order_by(Outbox.id)).all()


def test_script_queues_sms_and_email(runtime, db):
    runtime.deploy(fixture_files("notify_flow.bpmn"))
    case = runtime.start_case(
        "notify_flow",
        {"customer_name": "王小明", "phone": "+86 138 0000 0000", "email": "wang@example.com"},
        prevalidated=True,
    )
    assert case.status == "running"
    rows = outbox(db)
    assert [(r.channel, r.recipient, r.status) for r in rows] == [
        ("sms", "+86 138 0000 0000", "pending"),
        ("email", "wang@example.com", "pending"),
    ]
    assert rows[1].subject == f"預約提醒 {case.number}"
    assert "王小明 您好" in rows[0].body
    assert len({r.idempotency_key for r in rows}) == 2
    assert [e.kind for e in case.history].count("notification_queued") == 2


def test_bad_address_puts_the_case_in_error_and_queues_nothing(runtime, db):
    runtime.deploy(fixture_files("notify_flow.bpmn"))
    case = runtime.start_case(
        "notify_flow", {"customer_name": "王", "phone": "abc", "email": "x@y.z"}, prevalidated=True
    )
    assert case.status == "error" and case.error_element == "send_reminder"
    assert "not a phone number" in case.error_message
    assert outbox(db) == []


def test_only_the_failing_task_loses_its_messages(runtime, db):
    """The SMS of the first script stays (its task completed); the failing second notify is undone."""
    from engine.definitions.sources import SourceFile
    from tests.conftest import FIXTURES

    text = (FIXTURES / "notify_flow.bpmn").read_text()
    first, second = 'notify("sms"', 'notify("email"'
    text = text.replace(
        '<bpmn:scriptTask id="send_reminder" name="發送提醒">',
        '<bpmn:scriptTask id="send_sms" name="簡訊"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>'
        '<bpmn:script>notify("sms", phone, "test_reminder", {"customer_name": customer_name, "when": "明天"})</bpmn:script>'
        '</bpmn:scriptTask><bpmn:scriptTask id="send_reminder" name="發送提醒">',
    ).replace(
        '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing>',
        '<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing>',
    )
    text = text.replace(
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="send_reminder" />',
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="send_sms" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="send_sms" targetRef="send_reminder" />',
    )
    text = text.replace(
        f'{first}, phone, "test_reminder", {{"customer_name": customer_name, "when": "明天 10:00"}})\n',
        "",
    )
    assert second in text
    runtime.deploy([SourceFile("notify_flow.bpmn", text.encode())])
    case = runtime.start_case(
        "notify_flow",
        {"customer_name": "王", "phone": "13800000000", "email": "not-an-address"},
        prevalidated=True,
    )
    assert case.status == "error" and case.error_element == "send_reminder"
    assert [(r.channel, r.recipient) for r in outbox(db)] == [("sms", "13800000000")]
    # Fixed data and a retry: the e-mail is queued once, the SMS is not sent again.
    fixed = runtime.retry_case(case.number, data={"email": "wang@example.com"})
    assert fixed.status == "running"
    assert [(r.channel, r.recipient) for r in outbox(db)] == [
        ("sms", "13800000000"),
        ("email", "wang@example.com"),
    ]


def test_queued_messages_are_visible_on_the_case(runtime):
    runtime.deploy(fixture_files("notify_flow.bpmn"))
    number = runtime.start_case(
        "notify_flow",
        {"customer_name": "王小明", "phone": "13800000000", "email": "wang@example.com"},
        prevalidated=True,
    ).number
    shown = runtime.get_case(number).to_dict()["notifications"]
    assert [(n["channel"], n["recipient"], n["status"]) for n in shown] == [
        ("sms", "13800000000", "pending"),
        ("email", "wang@example.com", "pending"),
    ]
