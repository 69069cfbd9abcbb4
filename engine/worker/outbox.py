"""Delivering the outbox: the worker side of notifications (claiming, sending, retrying), and the
senders each channel gets by default (the e-mail senders are in engine.worker.mail).

`notify` (engine.worker.notify) writes an outbox row in the step's transaction; `deliver_outbox`
sends what is due. Each round claims due rows in one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
SQLite's single writer otherwise) and leases them briefly (CLAIM_LEASE) by moving
`next_attempt_at` ahead, so other workers pass them by. Just before sending a message the
worker extends its lease on that one row to the full LEASE; so a worker that dies mid-batch
holds the rest of its batch for a minute and only the message it was sending for five. Each
message is sent outside any transaction and the outcome written in a transaction of its own,
with an audit event on the case: `notification_sent`, or — after the channel's `max_attempts`
or a permanent refusal — `notification_failed`. A failed attempt waits 30 s, 1, 2, 4 … minutes
(at most an hour).

A worker that dies after the provider accepted a message but before the row says "sent" leaves
it leased, and once the lease runs out another worker hands it to the provider again. That
resend is made harmless by the outbox idempotency key, which every send carries: SMS providers
receive it as their client message id and drop a repeat (engine.worker.sms says what an adapter must
do; the dev sender logs each key once), and the e-mail's Message-ID is the key itself with ':'
written as '.', so mail systems and clients can drop a second copy (the dev sender keeps one
file per key). The row itself is marked sent once.
The lease value doubles as a fencing token: before sending, a worker renews its lease only if
the row still holds the value it wrote, so a worker whose lease was taken over sends nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from engine.core.clock import Clock
from engine.core.settings import Settings
from engine.core.status import OutboxStatus
from engine.store.audit import record
from engine.store.database import Database
from engine.store.tables import Outbox
from engine.worker.mail import DevMailSender, SmtpSender
from engine.worker.outgoing import OutgoingMessage, PermanentFailure, Sender
from engine.worker.sms import SmsSender, sms_sender

log = logging.getLogger("caseflow.outbox")

# Long enough for one send (a few network round trips of at most smtp.timeout_s each).
LEASE = timedelta(minutes=5)
# How long a claimed batch waits for its worker: each message gets the full LEASE only when its
# turn to be sent comes, so a dead worker's unsent messages are free again after this.
CLAIM_LEASE = timedelta(seconds=60)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
ACTOR = "outbox"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, … at most 1 h."""
    return min(LONGEST_RETRY, FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20))


def deliver_outbox(
    db: Database,
    settings: Settings,
    clock: Clock,
    limit: int = 100,
    worker_id: str | None = None,
    senders: Mapping[str, Sender] | None = None,
) -> DeliveryReport:
    """Send the outbox messages that are due (up to `limit`), each once per round, and record
    the outcome on each row and in its case's history. `senders` maps a channel ("email",
    "sms") to its sender; by default they are built from settings (see `default_senders`)."""
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    report = DeliveryReport()
    # Built before claiming: a settings mistake must not leave a batch leased for nothing.
    senders = senders if senders is not None else default_senders(settings, clock)
    messages, claimed_until = _claim(db, clock.now(), limit)
    max_attempts = {"email": settings.smtp.max_attempts, "sms": settings.sms.max_attempts}
    for message in messages:
        token = _renew(db, message, claimed_until, clock.now())
        if token is None:
            continue  # our lease ran out and another worker has the message now
        try:
            sender = senders.get(message.channel)
            if sender is None:
                raise LookupError(f"no sender for channel {message.channel!r}")
            provider_id = sender.send(message)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            permanent = isinstance(exc, PermanentFailure)
            final = permanent or message.attempts + 1 >= max_attempts.get(message.channel, 1)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("sending outbox message %s failed: %s", message.key, error)
            if _mark_failed(db, message, token, clock.now(), error, final, worker_id):
                if final:
                    report.failed += 1
                else:
                    report.retried += 1
        else:
            _mark_sent(db, message, clock.now(), provider_id, worker_id)
            report.sent += 1
    return report


def _claim(db: Database, now: datetime, limit: int) -> tuple[list[OutgoingMessage], datetime]:
    """Lease up to `limit` due messages for CLAIM_LEASE; the lease end is our token for them."""
    lease_until = now + CLAIM_LEASE
    with db.write() as session:
        query = (
            select(Outbox)
            .where(Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now)
            .order_by(Outbox.next_attempt_at, Outbox.id)
            .limit(limit)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = session.scalars(query).all()
        messages = [
            OutgoingMessage(
                id=row.id,
                key=row.idempotency_key,
                case_id=row.case_id,
                channel=row.channel,
                recipient=row.recipient,
                subject=row.subject,
                body=row.body,
                attempts=row.attempts,
                attachments=list(row.attachments or []),
            )
            for row in rows
        ]
        if messages:
            session.execute(
                update(Outbox)
                .where(Outbox.id.in_([m.id for m in messages]))
                .values(next_attempt_at=lease_until)
                .execution_options(synchronize_session=False)
            )
        session.commit()
    return messages, lease_until


def _renew(
    db: Database, message: OutgoingMessage, token: datetime, now: datetime
) -> datetime | None:
    """Extend our lease on one message to LEASE just before sending it; None if it is no
    longer ours (a batch slower than CLAIM_LEASE may have lost its tail to another worker)."""
    lease_until = max(token, now + LEASE)
    with db.write() as session:
        result = session.execute(
            update(Outbox)
            .where(
                Outbox.id == message.id,
                Outbox.status == OutboxStatus.PENDING,
                Outbox.next_attempt_at == token,
            )
            .values(next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return lease_until if result.rowcount == 1 else None


def _mark_sent(
    db: Database, message: OutgoingMessage, now: datetime, provider_id: str | None, worker: str
) -> None:
    with db.write() as session:
        # Sent is sent, even if our lease ran out meanwhile: only the first mark counts.
        result = session.execute(
            update(Outbox)
            .where(Outbox.id == message.id, Outbox.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SENT, sent_at=now, attempts=Outbox.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            record(
                session,
                "notification_sent",
                at=now,
                actor=ACTOR,
                case_id=message.case_id,
                detail={**_detail(message, message.attempts + 1, worker), "id": provider_id},
            )
        else:
            # Our lease ran out and another worker sent it too; the key lets the provider drop
            # the repeat.
            log.warning("outbox message %s was handed to its sender twice", message.key)
        session.commit()


def _mark_failed(
    db: Database,
    message: OutgoingMessage,
    token: datetime,
    now: datetime,
    error: str,
    final: bool,
    worker: str,
) -> bool:
    attempts = message.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    if final:
        values["status"] = OutboxStatus.FAILED
    else:
        values["next_attempt_at"] = now + retry_delay(attempts)
    with db.write() as session:
        result = session.execute(
            update(Outbox)
            .where(
                Outbox.id == message.id,
                Outbox.status == OutboxStatus.PENDING,
                Outbox.next_attempt_at == token,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1 and final:
            record(
                session,
                "notification_failed",
                at=now,
                actor=ACTOR,
                case_id=message.case_id,
                detail={**_detail(message, attempts, worker), "error": error},
            )
        session.commit()
    return result.rowcount == 1


def _detail(message: OutgoingMessage, attempts: int, worker: str) -> dict[str, Any]:
    return {
        "channel": message.channel,
        "to": message.recipient,
        "key": message.key,
        "attempts": attempts,
        "worker": worker,
    }


def requeue_failed(
    db: Database, clock: Clock, keys: list[str], actor: str | None = None
) -> list[str]:
    """Give failed messages (by outbox key) a fresh set of attempts, due now — e.g. after the
    SMTP settings were fixed. Returns the keys that were failed and are pending again."""
    now = clock.now()
    with db.write() as session:
        rows = session.scalars(
            select(Outbox).where(
                Outbox.idempotency_key.in_(keys), Outbox.status == OutboxStatus.FAILED
            )
        ).all()
        for row in rows:
            row.status = OutboxStatus.PENDING
            row.attempts = 0
            row.next_attempt_at = now
            record(
                session,
                "notification_requeued",
                at=now,
                actor=actor,
                case_id=row.case_id,
                detail={"channel": row.channel, "to": row.recipient, "key": row.idempotency_key},
            )
        session.commit()
        return [row.idempotency_key for row in rows]


def default_senders(settings: Settings, clock: Clock | None = None) -> dict[str, Sender]:
    """The senders settings.toml describes: SMTP (or .eml files while no host is set) and the
    configured SMS provider. Build them once per worker and pass them to every round."""
    email_sender: Sender = (
        SmtpSender(settings.smtp, clock)
        if settings.smtp.host
        else DevMailSender(settings.smtp.dev_dir, settings.smtp.from_address, clock)
    )
    return {"email": email_sender, "sms": SmsChannel(sms_sender(settings, clock))}


class SmsChannel:
    """Adapts an SmsSender (to, body, key) to the outbox's Sender protocol."""

    def __init__(self, sms: SmsSender):
        self.sms = sms

    def send(self, message: OutgoingMessage) -> str | None:
        return self.sms.send(message.recipient, message.body, message.key)
