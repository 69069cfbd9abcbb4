"""E-mail through a real SMTP server (aiosmtpd on 127.0.0.1): a booking confirmation with its
calendar invitation leaves the outbox, arrives once, and reads back correctly."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import icalendar
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from engine.core.settings import SMTP_PASSWORD_ENV, SettingsError, load_settings
from engine.definitions.sources import SourceFile
from engine.store.tables import Outbox
from engine.worker.mail import message_id
from engine.worker.outbox import deliver_outbox

FROM = "Caseflow 客服中心 <noreply@caseflow.example>"
BOOKING_SCRIPT = """notify("email", email, "test_reminder",
       {"customer_name": customer_name, "when": "11月25日 10:00"},
       ics={"start": appointment, "end": "2026-11-25T12:00:00+08:00",
            "summary": "上門保潔 " + customer_name, "location": "上海市浦東新區世紀大道 100 號",
            "description": "請提前十分鐘開門"})"""


def one_script_flow(process_id: str, script: str) -> SourceFile:
    """start → script → user task (so the case waits) → end."""
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs_{process_id}" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="{process_id}" name="預約確認" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="send_confirmation" name="發送確認">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="wait" name="等待"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="send_confirmation" />
    <bpmn:sequenceFlow id="f2" sourceRef="send_confirmation" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""
    return SourceFile(f"{process_id}.bpmn", text.encode())


BOOKING = {
    "customer_name": "王小明",
    "email": "wang@example.com",
    # No offset: company time (Shanghai), i.e. 02:00 UTC.
    "appointment": "2026-11-25 10:00",
}


class Inbox:
    """aiosmtpd handler that keeps what it receives; `refuse` answers RCPT with that reply."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.refuse: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def with_smtp(settings, port: int, **changes):
    smtp = dataclasses.replace(
        settings.smtp, host="127.0.0.1", port=port, from_address=FROM, timeout_s=5, **changes
    )
    return dataclasses.replace(settings, smtp=smtp)


def start_booking(runtime, data=None):
    runtime.deploy([one_script_flow("booking_confirm", BOOKING_SCRIPT)])
    return runtime.start_case("booking_confirm", data or BOOKING, prevalidated=True)


def outbox_rows(db):
    with db.read() as session:
        return session.scalars(select(Outbox).order_by(Outbox.id)).all()


def test_confirmation_with_invitation_arrives_through_smtp(
    runtime, db, settings, clock, smtp_server
):
    controller, inbox = smtp_server
    case = start_booking(runtime)
    assert case.status == "running"
    [row] = outbox_rows(db)
    assert row.status == "pending" and row.attachments[0]["filename"] == "booking.ics"

    report = deliver_outbox(db, with_smtp(settings, controller.port), clock)
    assert report.to_dict() == {"sent": 1, "failed": 0, "retried": 0}

    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["wang@example.com"]
    assert envelope.mail_from == "noreply@caseflow.example"
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"] == f"預約提醒 {case.number}"
    assert mail["From"].addresses[0].display_name == "Caseflow 客服中心"
    # A long id may be folded onto its own header line (legal CFWS); the id itself is the key.
    sent_id = mail["Message-ID"].strip()
    assert sent_id == message_id(row.idempotency_key, FROM)
    assert sent_id == "<" + row.idempotency_key.replace(":", ".") + "@caseflow.example>"
    body = mail.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    assert "王小明 您好，提醒您 11月25日 10:00 的預約。" in body.get_content()

    [invite] = list(mail.iter_attachments())
    assert invite.get_filename() == "booking.ics"
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    calendar = icalendar.Calendar.from_ical(invite.get_content())
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    assert str(event["UID"]) == f"{case.number}.test_reminder@caseflow"  # one per event
    assert str(event["SUMMARY"]) == "上門保潔 王小明"
    assert str(event["LOCATION"]) == "上海市浦東新區世紀大道 100 號"
    assert str(event["ORGANIZER"]) == "mailto:noreply@caseflow.example"
    assert str(event["ATTENDEE"]) == "mailto:wang@example.com"

    [row] = outbox_rows(db)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, clock.now())
    history = runtime.get_case(case.number).history
    sent = [e for e in history if e.kind == "notification_sent"]
    assert len(sent) == 1 and sent[0].detail["key"] == row.idempotency_key
    assert sent[0].detail["id"] == sent_id

    # Delivered once: a second round finds nothing to send.
    assert deliver_outbox(db, with_smtp(settings, controller.port), clock).sent == 0
    assert len(inbox.envelopes) == 1


def test_stored_invitation_is_utc_and_request(runtime, db):
    start_booking(runtime)
    [row] = outbox_rows(db)
    [attachment] = row.attachments
    assert attachment["content_type"] == "text/calendar; method=REQUEST"
    text = attachment["text"]
    assert "METHOD:REQUEST" in text and "DTSTART:20261125T020000Z" in text
    assert "DTEND:20261125T040000Z" in text


def test_login_uses_the_password_from_the_environment(runtime, db, settings, clock, monkeypatch):
    from aiosmtpd.smtp import AuthResult

    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    inbox = Inbox()
    # AUTH without TLS is only acceptable because this server listens on the loopback.
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        start_booking(runtime)
        smtp_settings = with_smtp(settings, controller.port, username="desk")
        monkeypatch.delenv(SMTP_PASSWORD_ENV, raising=False)
        report = deliver_outbox(db, smtp_settings, clock)
        assert report.retried == 1 and seen == []
        assert SMTP_PASSWORD_ENV in outbox_rows(db)[0].last_error

        monkeypatch.setenv(SMTP_PASSWORD_ENV, "s3cret")
        clock.advance(seconds=30)
        assert deliver_outbox(db, smtp_settings, clock).sent == 1
        assert seen == [(b"desk", b"s3cret")] and len(inbox.envelopes) == 1
    finally:
        controller.stop()


def test_refused_recipient_fails_at_once(runtime, db, settings, clock, smtp_server):
    controller, inbox = smtp_server
    inbox.refuse = "550 5.1.1 用戶不存在"
    case = start_booking(runtime)
    report = deliver_outbox(db, with_smtp(settings, controller.port), clock)
    assert report.to_dict() == {"sent": 0, "failed": 1, "retried": 0}
    [row] = outbox_rows(db)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "PermanentFailure" in row.last_error
    assert [e.kind for e in runtime.get_case(case.number).history][-1] == "notification_failed"


def test_busy_recipient_and_unreachable_server_are_retried(
    runtime, db, settings, clock, smtp_server
):
    controller, inbox = smtp_server
    inbox.refuse = "451 4.7.1 稍後再試"
    start_booking(runtime)
    assert deliver_outbox(db, with_smtp(settings, controller.port), clock).retried == 1
    [row] = outbox_rows(db)
    assert (row.status, row.attempts) == ("pending", 1)

    clock.advance(seconds=30)
    nobody_listens = free_port()
    assert deliver_outbox(db, with_smtp(settings, nobody_listens), clock).retried == 1
    [row] = outbox_rows(db)
    assert (row.status, row.attempts) == ("pending", 2)
    assert "ConnectionRefusedError" in row.last_error


@pytest.mark.parametrize(
    "ics, message",
    [
        ('{"start": "2026-11-25 10:00", "summary": "x"}', "ics needs end"),
        (
            '{"start": "2026-11-25 10:00", "end": "2026-11-25 09:00", "summary": "x"}',
            "is not after start",
        ),
        ('{"start": "tomorrow", "end": "2026-11-25 12:00", "summary": "x"}', "not an ISO 8601"),
        (
            '{"start": "2026-11-25 10:00", "end": "2026-11-25 12:00", "summary": "x", "rrule": 1}',
            "unknown field(s) rrule",
        ),
        ('"2026-11-25 10:00"', "ics must be a dict"),
    ],
)
def test_bad_invitation_is_refused_and_queues_nothing(runtime, db, ics, message):
    script = f'notify("email", email, "test_reminder", {{"customer_name": "王", "when": "明天"}}, ics={ics})'
    runtime.deploy([one_script_flow("bad_ics", script)])
    case = runtime.start_case("bad_ics", BOOKING, prevalidated=True)
    assert case.status == "error" and case.error_element == "send_confirmation"
    assert message in case.error_message
    assert outbox_rows(db) == []


def test_invitation_only_by_email(runtime, db):
    script = 'notify("sms", "13800000000", "test_reminder", {"customer_name": "王", "when": "明天"}, ics={"start": "2026-11-25 10:00", "end": "2026-11-25 11:00", "summary": "x"})'
    runtime.deploy([one_script_flow("sms_ics", script)])
    case = runtime.start_case("sms_ics", BOOKING, prevalidated=True)
    assert case.status == "error" and "only be sent by e-mail" in case.error_message
    assert outbox_rows(db) == []


def test_smtp_settings_are_read_and_checked(settings):
    text = settings.path.read_text(encoding="utf-8")
    loaded = load_settings(settings.path)
    assert loaded.smtp.host == "" and loaded.sms.provider == "dev"
    assert loaded.smtp.dev_dir == settings.path.parent / "instance" / "mail"
    assert loaded.sms.dev_log == settings.path.parent / "instance" / "sms.log"

    settings.path.write_text(
        text.replace('host = ""', 'host = "smtp.example.com"\npassword = "x"'), encoding="utf-8"
    )
    with pytest.raises(SettingsError, match=SMTP_PASSWORD_ENV):
        load_settings(settings.path)
    settings.path.write_text(
        text.replace("starttls = false\nssl = false", "starttls = true\nssl = true"),
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match="not both"):
        load_settings(settings.path)


RESCHEDULE_FLOW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs_reschedule" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="reschedule" name="改期" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="book" name="預約">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>SEND_FIRST</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="change" name="改期"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="rebook" name="改期確認">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>SEND_AGAIN</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="wait" name="等待"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="book" />
    <bpmn:sequenceFlow id="f2" sourceRef="book" targetRef="change" />
    <bpmn:sequenceFlow id="f3" sourceRef="change" targetRef="rebook" />
    <bpmn:sequenceFlow id="f4" sourceRef="rebook" targetRef="wait" />
    <bpmn:sequenceFlow id="f5" sourceRef="wait" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def _invite(when: str, event_id: str | None = None) -> str:
    extra = f', "id": "{event_id}"' if event_id else ""
    return (
        'notify("email", email, "test_reminder", {"customer_name": customer_name, "when": "x"},'
        f' ics={{"start": "{when}", "end": "2026-12-31 12:00", "summary": "推拿"{extra}}})'
    )


def test_a_new_time_for_the_same_event_updates_the_calendar_entry(runtime, db, clock, users):
    """A reschedule keeps the event's UID and raises SEQUENCE; another event of the same case
    (an `id` in ics) gets its own UID."""
    first = _invite("2026-12-01 10:00") + "\n" + _invite("2026-12-08 10:00", "session-2")
    again = _invite("2026-12-02 15:00")
    text = RESCHEDULE_FLOW.replace("SEND_FIRST", escape(first)).replace("SEND_AGAIN", escape(again))
    runtime.deploy([SourceFile("reschedule.bpmn", text.encode())])
    case = runtime.start_case(
        "reschedule", {"customer_name": "王小明", "email": "w@example.com"}, prevalidated=True
    )
    clock.advance(hours=3)
    runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "sue")

    events = []
    for row in outbox_rows(db):
        (event,) = icalendar.Calendar.from_ical(row.attachments[0]["text"]).walk("VEVENT")
        events.append((str(event["UID"]), int(event["SEQUENCE"]), event.decoded("DTSTART")))
    (uid, seq, start), (other_uid, _, _), (uid_again, seq_again, start_again) = events
    assert uid == uid_again == f"{case.number}.test_reminder@caseflow"
    assert other_uid == f"{case.number}.session-2@caseflow"
    assert seq_again > seq > 0
    assert start == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert start_again == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
