"""E-mail for the outbox: the MIME message of an outbox row (its Message-ID derived from the
row's idempotency key, so a resend can be dropped as a repeat; a calendar invitation gets its
ORGANIZER), the SMTP sender, and the development sender that writes one .eml file per key."""

from __future__ import annotations

import email.policy
import email.utils
import os
import re
import smtplib
import ssl
import tempfile
from datetime import datetime
from email.message import EmailMessage, Message
from pathlib import Path

import icalendar

from engine.core.clock import Clock, SystemClock
from engine.core.settings import SMTP_PASSWORD_ENV, SmtpSettings
from engine.worker.outgoing import OutgoingMessage, PermanentFailure

DEFAULT_SUBJECT = "通知"


def message_id(key: str, from_address: str) -> str:
    """The Message-ID of the e-mail for an outbox key: the same key always gives the same id.
    An RFC 5322 id may not contain ':', so runs of other characters become '.'."""
    domain = email.utils.parseaddr(from_address)[1].rpartition("@")[2] or "caseflow.invalid"
    local = re.sub(r"[^A-Za-z0-9_-]+", ".", key).strip(".")
    return f"<{local}@{domain}>"


def build_email(message: OutgoingMessage, from_address: str, now: datetime) -> EmailMessage:
    """The MIME message: UTF-8 text, attachments (a calendar invitation gets its ORGANIZER)."""
    mime = EmailMessage(policy=email.policy.SMTP)
    mime["From"] = from_address
    mime["To"] = message.recipient
    mime["Subject"] = message.subject or DEFAULT_SUBJECT
    mime["Date"] = email.utils.format_datetime(now)
    mime["Message-ID"] = message_id(message.key, from_address)
    mime["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders should not answer
    mime.set_content(message.body, charset="utf-8", cte="base64")
    for attachment in message.attachments:
        header = Message()
        header["Content-Type"] = attachment.get("content_type") or "application/octet-stream"
        maintype, subtype = header.get_content_maintype(), header.get_content_subtype()
        params = {k: v for k, v in header.get_params()[1:] if k != "charset"}
        text = attachment["text"]
        if (maintype, subtype) == ("text", "calendar"):
            text = _with_organizer(text, from_address)
        if maintype == "text":
            mime.add_attachment(
                text,
                subtype=subtype,
                charset="utf-8",
                cte="base64",
                filename=attachment["filename"],
                params=params,
            )
        else:
            mime.add_attachment(
                text.encode("utf-8"),
                maintype=maintype,
                subtype=subtype,
                filename=attachment["filename"],
                params=params,
            )
    return mime


def _with_organizer(text: str, from_address: str) -> str:
    # METHOD:REQUEST needs an ORGANIZER; the queueing step does not know the From address.
    calendar = icalendar.Calendar.from_ical(text)
    name, address = email.utils.parseaddr(from_address)
    changed = False
    for event in calendar.walk("VEVENT"):
        if "ORGANIZER" not in event:
            organizer = icalendar.vCalAddress(f"mailto:{address}")
            if name:
                organizer.params["CN"] = name
            event.add("organizer", organizer)
            changed = True
    return calendar.to_ical().decode("utf-8") if changed else text


class SmtpSender:
    """Sends e-mail over SMTP (implicit TLS, STARTTLS or plain), one connection per message.
    5xx refusals of the recipient or the content are permanent; everything else is retried."""

    def __init__(self, smtp: SmtpSettings, clock: Clock | None = None):
        self.smtp = smtp
        self.clock = clock or SystemClock()

    def send(self, message: OutgoingMessage) -> str | None:
        cfg = self.smtp
        mime = build_email(message, cfg.from_address, self.clock.now())
        password = cfg.password
        if cfg.username and not password:
            raise RuntimeError(f"[smtp] username is set but {SMTP_PASSWORD_ENV} is not")
        context = ssl.create_default_context()
        try:
            if cfg.ssl:
                client = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout_s, context=context
                )
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
            with client:
                if cfg.starttls:
                    client.starttls(context=context)
                if cfg.username:
                    client.login(cfg.username, password or "")
                client.send_message(mime)
        except smtplib.SMTPRecipientsRefused as exc:
            if all(code >= 500 for code, _ in exc.recipients.values()):
                raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
            raise
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise PermanentFailure(
                    f"message refused: {exc.smtp_code} {exc.smtp_error!r}"
                ) from exc
            raise
        return str(mime["Message-ID"])


class DevMailSender:
    """Development stand-in for SMTP: writes each e-mail to `<folder>/<key>.eml`. A resend of
    the same message (same key, so same Message-ID) replaces its own file, as a mail client
    drops a second copy with a Message-ID it has; the resend is noted in `<folder>/repeats.log`.
    Each file is written whole or not at all (a temporary file renamed into place)."""

    def __init__(self, folder: Path, from_address: str, clock: Clock | None = None):
        self.folder = Path(folder)
        self.repeats_path = self.folder / "repeats.log"
        self.from_address = from_address
        self.clock = clock or SystemClock()

    def send(self, message: OutgoingMessage) -> str | None:
        mime = build_email(message, self.from_address, self.clock.now())
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", message.key)
        path = self.folder / f"{name}.eml"
        repeat = path.exists()
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(mime.as_bytes())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if repeat:
            with self.repeats_path.open("a", encoding="utf-8") as repeats:
                repeats.write(f"{message.key}\t{mime['Message-ID']}\n")
        return str(mime["Message-ID"])
