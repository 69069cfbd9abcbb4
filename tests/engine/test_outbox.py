"""Delivering the outbox: sent once, retried with back-off, failed after the last attempt,
nothing from a rolled-back step, and two workers on PostgreSQL sharing the work."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.core.clock import FixedClock
from engine.core.settings import SettingsError
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.tables import Event, Outbox
from engine.worker import outbox as outbox_module
from engine.worker.mail import DevMailSender
from engine.worker.outbox import CLAIM_LEASE, LEASE, deliver_outbox, retry_delay
from engine.worker.outgoing import OutgoingMessage, PermanentFailure
from engine.worker.sms import DevSmsSender, sms_sender
from tests.conftest import fixture_files
from tests.engine.test_smtp import one_script_flow

CUSTOMER = {"customer_name": "王小明", "phone": "+86 138 0000 0000", "email": "wang@example.com"}


class FakeSender:
    """Records what it is asked to send; raises `failure` for the next `fail_times` sends."""

    def __init__(self, fail_times: int = 0, failure: Exception | None = None):
        self.fail_times = fail_times
        self.failure = failure or ConnectionError("短信網關無回應")
        self.sent: list[str] = []
        self.calls = 0
        self.lock = threading.Lock()

    def send(self, message):
        with self.lock:
            self.calls += 1
            if self.fail_times > 0:
                self.fail_times -= 1
                raise self.failure
            self.sent.append(message.key)
        return f"fake-{len(self.sent)}"


def rows(db):
    with db.read() as session:
        return session.scalars(select(Outbox).order_by(Outbox.id)).all()


def start_reminder_case(runtime):
    """A case whose first step queues an SMS and an e-mail."""
    runtime.deploy(fixture_files("notify_flow.bpmn"))
    return runtime.start_case("notify_flow", CUSTOMER, prevalidated=True)


def kinds(runtime, number):
    return [e.kind for e in runtime.get_case(number).history]


def test_retry_delay_doubles_from_30_seconds_up_to_an_hour():
    assert [retry_delay(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert retry_delay(40) == timedelta(hours=1)


def test_sent_messages_are_not_sent_again(runtime, db, settings, clock):
    case = start_reminder_case(runtime)
    sender = FakeSender()
    report = deliver_outbox(db, settings, clock, senders={"sms": sender, "email": sender})
    assert report.to_dict() == {"sent": 2, "failed": 0, "retried": 0}
    assert [(r.channel, r.status, r.attempts, r.sent_at) for r in rows(db)] == [
        ("sms", "sent", 1, clock.now()),
        ("email", "sent", 1, clock.now()),
    ]
    clock.advance(days=1)
    assert deliver_outbox(db, settings, clock, senders={"sms": sender, "email": sender}).sent == 0
    assert sender.sent == [r.idempotency_key for r in rows(db)]
    events = [e for e in runtime.get_case(case.number).history if e.kind == "notification_sent"]
    assert [(e.actor, e.detail["channel"], e.detail["id"]) for e in events] == [
        ("outbox", "sms", "fake-1"),
        ("outbox", "email", "fake-2"),
    ]


def test_a_failing_sender_is_retried_with_back_off(runtime, db, settings, clock):
    case = start_reminder_case(runtime)
    sms, mail = FakeSender(fail_times=3), FakeSender()
    senders = {"sms": sms, "email": mail}

    report = deliver_outbox(db, settings, clock, senders=senders)
    assert report.to_dict() == {"sent": 1, "failed": 0, "retried": 1}
    sms_row = rows(db)[0]
    assert (sms_row.status, sms_row.attempts) == ("pending", 1)
    assert sms_row.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert sms_row.last_error == "ConnectionError: 短信網關無回應"

    # Not due before its back-off has passed; each later failure waits twice as long.
    clock.advance(seconds=29)
    assert deliver_outbox(db, settings, clock, senders=senders).to_dict()["retried"] == 0
    for attempts, wait in ((2, 60), (3, 120)):
        clock.advance(seconds=1 if attempts == 2 else 60)
        assert deliver_outbox(db, settings, clock, senders=senders).retried == 1
        sms_row = rows(db)[0]
        assert sms_row.attempts == attempts
        assert sms_row.next_attempt_at == clock.now() + timedelta(seconds=wait)
    assert sms.calls == 3

    clock.advance(seconds=120)
    assert deliver_outbox(db, settings, clock, senders=senders).sent == 1
    sms_row = rows(db)[0]
    assert (sms_row.status, sms_row.attempts, sms_row.sent_at) == ("sent", 4, clock.now())
    assert sms_row.last_error == "ConnectionError: 短信網關無回應"  # kept for the record
    assert kinds(runtime, case.number).count("notification_sent") == 2
    assert "notification_failed" not in kinds(runtime, case.number)


def test_the_last_failed_attempt_marks_the_message_failed(runtime, db, settings, clock):
    settings = dataclasses.replace(settings, sms=dataclasses.replace(settings.sms, max_attempts=3))
    case = start_reminder_case(runtime)
    sms = FakeSender(fail_times=99)
    senders = {"sms": sms, "email": FakeSender()}
    reports = []
    for _ in range(3):
        reports.append(deliver_outbox(db, settings, clock, senders=senders))
        clock.advance(hours=1)
    assert [(r.sent, r.retried, r.failed) for r in reports] == [(1, 1, 0), (0, 1, 0), (0, 0, 1)]
    sms_row = rows(db)[0]
    assert (sms_row.status, sms_row.attempts) == ("failed", 3)
    # Failed is final: later rounds leave it alone.
    clock.advance(days=2)
    assert deliver_outbox(db, settings, clock, senders=senders).to_dict() == {
        "sent": 0,
        "failed": 0,
        "retried": 0,
    }
    assert sms.calls == 3
    [failed] = [e for e in runtime.get_case(case.number).history if e.kind == "notification_failed"]
    assert failed.detail["attempts"] == 3 and "短信網關無回應" in failed.detail["error"]


def test_a_permanent_refusal_fails_at_once(runtime, db, settings, clock):
    start_reminder_case(runtime)
    refusing = FakeSender(fail_times=1, failure=PermanentFailure("號碼不存在"))
    report = deliver_outbox(db, settings, clock, senders={"sms": refusing, "email": FakeSender()})
    assert (report.sent, report.failed, report.retried) == (1, 1, 0)
    assert rows(db)[0].status == "failed"


def test_a_channel_without_sender_is_retried_not_lost(runtime, db, settings, clock):
    start_reminder_case(runtime)
    report = deliver_outbox(db, settings, clock, senders={"email": FakeSender()})
    assert (report.sent, report.retried) == (1, 1)
    assert "no sender for channel 'sms'" in rows(db)[0].last_error


def test_dev_senders_write_the_sms_log_and_eml_files(runtime, db, settings, clock):
    case = start_reminder_case(runtime)
    report = deliver_outbox(db, settings, clock)  # the senders settings.toml describes
    assert report.sent == 2
    sms_row, mail_row = rows(db)
    log = settings.path.parent / "instance" / "sms.log"
    [line] = [json.loads(text) for text in log.read_text(encoding="utf-8").splitlines()]
    assert line["to"] == "+86 138 0000 0000" and line["key"] == sms_row.idempotency_key
    assert "王小明 您好" in line["body"] and "王小明" in log.read_text(encoding="utf-8")
    assert line["at"] == clock.now().isoformat()
    [sent_sms] = [
        e
        for e in runtime.get_case(case.number).history
        if e.kind == "notification_sent" and e.detail["channel"] == "sms"
    ]
    assert sent_sms.detail["id"] == line["id"]
    [eml] = list((settings.path.parent / "instance" / "mail").glob("*.eml"))
    assert mail_row.idempotency_key.split(":")[-1] in eml.name
    assert b"Subject: =?utf-8?" in eml.read_bytes()


def test_dev_sms_sender_appends_one_json_line_per_message(tmp_path, clock):
    sender = DevSmsSender(tmp_path / "logs" / "sms.log", clock)
    first = sender.send("13800000000", "您的預約已確認", "k1")
    second = sender.send("13900000000", "明天見", "k2")
    lines = [json.loads(t) for t in (tmp_path / "logs" / "sms.log").read_text().splitlines()]
    assert [(x["id"], x["to"], x["key"]) for x in lines] == [
        (first, "13800000000", "k1"),
        (second, "13900000000", "k2"),
    ]
    assert first != second


def test_an_unknown_sms_provider_is_a_clear_error(settings):
    broken = dataclasses.replace(settings, sms=dataclasses.replace(settings.sms, provider="acme"))
    with pytest.raises(SettingsError, match="'acme' .* is not one of dev"):
        sms_sender(broken)


def test_a_rolled_back_step_queues_nothing(runtime, db, settings, clock):
    script = (
        'notify("sms", phone, "test_reminder", {"customer_name": customer_name, "when": "明天"})\n'
        "total = 1 / 0"
    )
    runtime.deploy([one_script_flow("rolled_back", script)])
    case = runtime.start_case("rolled_back", CUSTOMER, prevalidated=True)
    assert case.status == "error" and case.error_element == "send_confirmation"
    assert rows(db) == []
    assert "notification_queued" not in kinds(runtime, case.number)
    sender = FakeSender()
    assert deliver_outbox(db, settings, clock, senders={"sms": sender}).sent == 0
    assert sender.calls == 0


def test_a_leased_message_is_left_to_its_worker(runtime, db, settings, clock):
    """While one worker is sending, another worker's round finds the batch leased."""
    start_reminder_case(runtime)
    seen_by_second = []

    class Meddling(FakeSender):
        def send(self, message):
            report = deliver_outbox(db, settings, clock, senders={"sms": self, "email": self})
            seen_by_second.append(report.sent + report.retried + report.failed)
            return super().send(message)

    sender = Meddling()
    assert deliver_outbox(db, settings, clock, senders={"sms": sender, "email": sender}).sent == 2
    assert seen_by_second == [0, 0] and sender.calls == 2


def test_a_worker_that_died_after_claiming_frees_its_batch_after_the_claim_lease(
    runtime, db, settings, clock
):
    """A worker holds a claimed batch only briefly: the dead worker's messages go out after
    CLAIM_LEASE; the dead worker, were it to wake up, would find its lease gone and send
    nothing."""
    start_reminder_case(runtime)
    claimed, lease = outbox_module._claim(db, clock.now(), 10)  # ... and then the worker dies
    assert len(claimed) == 2 and lease == clock.now() + CLAIM_LEASE
    assert CLAIM_LEASE == timedelta(seconds=60) < LEASE
    sender = FakeSender()
    senders = {"sms": sender, "email": sender}
    clock.advance(seconds=59)
    assert deliver_outbox(db, settings, clock, senders=senders).sent == 0
    clock.advance(seconds=2)
    assert deliver_outbox(db, settings, clock, senders=senders).sent == 2
    assert outbox_module._renew(db, claimed[0], lease, clock.now()) is None


def test_the_message_a_dead_worker_was_sending_waits_the_full_lease(runtime, db, settings, clock):
    """Renewed just before its send, the message in flight is held for LEASE (the provider may
    have taken it); the rest of the batch is free after CLAIM_LEASE."""
    start_reminder_case(runtime)
    claimed, lease = outbox_module._claim(db, clock.now(), 10)
    sms, mail = claimed
    in_flight = outbox_module._renew(db, sms, lease, clock.now())  # ... sending, and dies
    assert in_flight == clock.now() + LEASE
    sender = FakeSender()
    senders = {"sms": sender, "email": sender}
    clock.advance(seconds=61)
    assert deliver_outbox(db, settings, clock, senders=senders).sent == 1
    assert sender.sent == [mail.key]
    clock.advance(seconds=LEASE.total_seconds() - 62)
    assert deliver_outbox(db, settings, clock, senders=senders).sent == 0
    clock.advance(seconds=1)
    assert deliver_outbox(db, settings, clock, senders=senders).sent == 1
    assert sender.sent == [mail.key, sms.key]
    assert [(r.status, r.attempts) for r in rows(db)] == [("sent", 1), ("sent", 1)]


def test_a_batch_slower_than_the_claim_lease_leaves_its_tail_to_another_worker(
    runtime, db, settings, clock
):
    """The first send takes longer than CLAIM_LEASE; meanwhile a second worker takes the rest
    of the batch. The first worker then finds its lease on those gone and skips them."""
    start_reminder_case(runtime)
    second = FakeSender()

    class Slow(FakeSender):
        def send(self, message):
            if not self.sent:
                clock.advance(seconds=61)
                other = deliver_outbox(
                    db, settings, clock, senders={"sms": second, "email": second}
                )
                assert other.sent == 1
            return super().send(message)

    first = Slow()
    assert deliver_outbox(db, settings, clock, senders={"sms": first, "email": first}).sent == 1
    sms_row, mail_row = rows(db)
    assert (first.sent, second.sent) == ([sms_row.idempotency_key], [mail_row.idempotency_key])
    assert [(r.status, r.attempts) for r in rows(db)] == [("sent", 1), ("sent", 1)]


def test_dev_mail_sender_keeps_one_file_per_key(tmp_path, clock):
    sender = DevMailSender(tmp_path / "mail", "Caseflow <caseflow@example.com>", clock)
    message = OutgoingMessage(1, "notify:7:mail", 7, "email", "w@example.com", "確認", "明天見", 0)
    first = sender.send(message)
    clock.advance(minutes=5)
    assert sender.send(message) == first == "<notify.7.mail@example.com>"
    [eml] = set((tmp_path / "mail").iterdir()) - {sender.repeats_path}  # and no temporary file
    assert eml.name == "notify_7_mail.eml" and b"Message-ID: " + first.encode() in eml.read_bytes()
    assert sender.repeats_path.read_text("utf-8") == f"notify:7:mail\t{first}\n"


@pytest.mark.postgres
def test_two_workers_on_postgresql_send_each_message_once(pg_db_url, settings):
    clock = FixedClock("2026-11-23T01:30:00+00:00")
    db = Database(pg_db_url)
    try:
        runtime = Runtime(db, settings, clock)
        runtime.deploy(fixture_files("notify_flow.bpmn"))
        for _ in range(8):
            runtime.start_case("notify_flow", CUSTOMER, prevalidated=True)
        keys = {r.idempotency_key for r in rows(db)}
        assert len(keys) == 16

        # SKIP LOCKED: rows another transaction holds are passed by, without waiting.
        with db.write() as holder:
            held = holder.scalars(
                select(Outbox).order_by(Outbox.id).limit(4).with_for_update()
            ).all()
            other = Database(pg_db_url)
            try:
                sender = FakeSender()
                report = deliver_outbox(
                    other, settings, clock, limit=6, senders={"sms": sender, "email": sender}
                )
            finally:
                other.dispose()
            assert report.sent == 6
            assert not set(sender.sent) & {r.idempotency_key for r in held}
            holder.rollback()

        # Two workers, each with its own connections, racing over the rest in small batches.
        shared = FakeSender()
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def work() -> None:
            worker_db = Database(pg_db_url)
            try:
                start.wait()
                senders = {"sms": shared, "email": shared}
                while deliver_outbox(worker_db, settings, clock, limit=2, senders=senders).sent:
                    pass
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)
            finally:
                worker_db.dispose()

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert sorted(sender.sent + shared.sent) == sorted(keys)
        assert all((r.status, r.attempts) == ("sent", 1) for r in rows(db))
        with db.read() as session:
            sent_events = session.scalars(
                select(Event).where(Event.kind == "notification_sent")
            ).all()
        assert len(sent_events) == 16
    finally:
        db.dispose()


def test_a_failed_message_can_be_requeued_after_the_cause_is_fixed(runtime, db, settings, clock):
    from engine.worker.outbox import requeue_failed

    case = start_reminder_case(runtime)
    broken = FakeSender(fail_times=1, failure=PermanentFailure("SMTP 設定錯誤"))
    deliver_outbox(db, settings, clock, senders={"sms": FakeSender(), "email": broken})
    sms_row, mail_row = rows(db)
    assert mail_row.status == "failed"
    assert requeue_failed(
        db, clock, [sms_row.idempotency_key, mail_row.idempotency_key], "sue"
    ) == [mail_row.idempotency_key]
    assert deliver_outbox(db, settings, clock, senders={"email": broken}).sent == 1
    mail_row = rows(db)[1]
    assert (mail_row.status, mail_row.attempts) == ("sent", 1)
    assert kinds(runtime, case.number)[-2:] == ["notification_requeued", "notification_sent"]
