"""Notifications: an outbox row per message, written in the step's transaction.

BPMN scripts call the `notify` helper; the message is rendered from a Jinja2 template in
`notifications/` (process owners edit these, Chinese by default) and queued in the outbox in the
same transaction as the step that caused it, so a rolled-back step sends nothing and a committed
one is never lost. Senders (SMTP, SMS) deliver the outbox later and retry with back-off.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from .audit import record
from .status import OutboxStatus
from .stepcontext import current, service
from .store import Outbox

CHANNELS = ("email", "sms")
TEMPLATES = Path(
    os.environ.get(
        "CASEFLOW_NOTIFICATIONS", Path(__file__).resolve().parent.parent / "notifications"
    )
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")


class NotifyError(ValueError):
    pass


def _environment() -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader

    return SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, autoescape=False
    )


def render(template: str, data: dict[str, Any]) -> tuple[str | None, str]:
    """Render `notifications/<template>.txt`; a first line "Subject: …" gives the e-mail subject."""
    if not re.match(r"^[A-Za-z0-9_.-]+$", template):
        raise NotifyError(
            f"template name {template!r} may only use letters, digits, '.', '_' and '-'"
        )
    try:
        text = _environment().get_template(f"{template}.txt").render(**data)
    except TemplateNotFound as exc:
        raise NotifyError(f"no notification template {template}.txt in {TEMPLATES}") from exc
    except (TemplateSyntaxError, UndefinedError) as exc:
        raise NotifyError(f"template {template}.txt: {exc}") from exc
    subject = None
    if text.startswith("Subject:"):
        first, _, text = text.partition("\n")
        subject = first[len("Subject:") :].strip()
    return subject, text.strip() + "\n"


@service()
def notify(channel: str, to: str, template: str, data: dict[str, Any] | None = None) -> str:
    """Queue a message (channel "email" or "sms") to `to`, rendered from `template` with `data`
    and the case number; returns the outbox key. Usable from BPMN scripts."""
    ctx = current()
    if channel not in CHANNELS:
        raise NotifyError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    to = str(to or "").strip()
    if channel == "email" and not _EMAIL.match(to):
        raise NotifyError(f"{to!r} is not an e-mail address")
    if channel == "sms" and not _PHONE.match(to):
        raise NotifyError(f"{to!r} is not a phone number")
    values = dict(data or {})
    values.setdefault("case_number", ctx.case_number)
    subject, body = render(template, values)
    key = ctx.next_key(f"notify:{template}")
    ctx.session.add(
        Outbox(
            case_id=ctx.case_id,
            idempotency_key=key,
            channel=channel,
            recipient=to,
            subject=subject,
            body=body,
            status=OutboxStatus.PENDING,
            attempts=0,
            created_at=ctx.now,
            next_attempt_at=ctx.now,
        )
    )
    record(
        ctx.session,
        "notification_queued",
        at=ctx.now,
        actor=ctx.actor,
        case_id=ctx.case_id,
        detail={"channel": channel, "to": to, "template": template, "key": key},
    )
    return key
