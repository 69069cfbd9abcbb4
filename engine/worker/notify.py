"""Notifications: an outbox row per message, written in the step's transaction.

BPMN scripts call the `notify` helper; the message is rendered from a Jinja2 template of the
case's process version (engine.definitions.templates; Chinese by default) and queued in the outbox in the
same transaction as the step that caused it, so a rolled-back step sends nothing and a committed
one is never lost. Senders (SMTP, SMS) deliver the outbox later and retry with back-off
(engine.worker.outbox). An e-mail may carry a calendar invitation (.ics) for a booking.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Any

import icalendar

from engine.core.instants import parse_when
from engine.core.status import OutboxStatus
from engine.core.stepcontext import current, service
from engine.definitions import templates as message_templates
from engine.definitions.formchecks import is_email_address
from engine.spiff import adapter as spiff
from engine.spiff import templating
from engine.store.audit import record
from engine.store.tables import Outbox

CHANNELS = ("email", "sms")
# One character class with a bounded count: linear. (E-mail addresses: email-validator.)
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")
ICS_FIELDS = {
    "start": True,
    "end": True,
    "summary": True,
    "location": False,
    "description": False,
    "id": False,  # which event of the case this is, when a case has several (e.g. "session-2")
}
# An invitation's SEQUENCE: seconds since this instant, so a later one for the same event
# (a new time) replaces the earlier one in the guest's calendar.
_SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
ICS_FILENAME = "booking.ics"
ICS_CONTENT_TYPE = "text/calendar; method=REQUEST"


class NotifyError(ValueError):
    pass


TEMPLATE_TIME_S = 1.0  # (within the step's own budget, see engine.spiff.evaluator.step_budget)


def render(
    template: str, data: dict[str, Any], templates: dict[str, str] | None = None
) -> tuple[str | None, str]:
    """Render message template `template` (engine.definitions.templates) with `data`: from
    `templates`, the case's process version's, when given, else from the notifications
    folder; a first line "Subject: …" gives the e-mail subject. Templates are the owner's
    code: they render in an evaluator process, bounded in time, memory and length
    (engine.spiff.templating.render)."""
    if not message_templates.NAME.match(template):
        raise NotifyError(
            f"template name {template!r} may only use letters, digits, '.', '_' and '-'"
        )
    if templates is not None:
        source = templates.get(template)
        if source is None:
            raise NotifyError(
                f"message template {template}.txt is not part of this process version:"
                " deploy it with the process"
            )
    else:
        source = message_templates.read_from_folder(template)
        if source is None:
            raise NotifyError(
                f"no notification template {template}.txt in {message_templates.FOLDER}"
            )
    try:
        text = templating.render(source, data, strict=True, limit_s=TEMPLATE_TIME_S)
    except templating.TemplateProblem as exc:
        raise NotifyError(f"template {template}.txt: {exc}") from exc
    subject = None
    if text.startswith("Subject:"):
        first, _, text = text.partition("\n")
        subject = first[len("Subject:") :].strip()
    return subject, text.strip() + "\n"


@service()
def notify(
    channel: str,
    to: str,
    template: str,
    data: dict[str, Any] | None = None,
    ics: dict[str, Any] | None = None,
) -> str:
    """Queue a message (channel "email" or "sms") to `to`, rendered from `template` with `data`
    and the case number; returns the outbox key. Usable from BPMN scripts. An e-mail may carry
    a calendar invitation: `ics={"start", "end", "summary", "location", "description"}` (times
    as ISO 8601; without an offset they are company time)."""
    ctx = current()
    if channel not in CHANNELS:
        raise NotifyError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    to = str(to or "").strip()
    if channel == "email" and not is_email_address(to):
        raise NotifyError(f"{to[:100]!r} is not an e-mail address")
    if channel == "sms" and (len(to) > 32 or not _PHONE.match(to)):
        raise NotifyError(f"{to[:100]!r} is not a phone number")
    if ics is not None and channel != "email":
        raise NotifyError("a calendar invitation (ics) can only be sent by e-mail")
    # Without an offset a time is company time, as everywhere else in scripts and forms.
    calendar = getattr(ctx, "calendar", None)
    zone = calendar.zone if calendar is not None else spiff.company_timezone()
    event = _read_ics(ics, zone) if ics is not None else None
    values = dict(data or {})
    values.setdefault("case_number", ctx.case_number)
    subject, body = render(template, values, ctx.templates)
    key = ctx.next_key(f"notify:{template}")
    attachments = None
    if event is not None:
        attachments = [
            {
                "filename": ICS_FILENAME,
                "content_type": ICS_CONTENT_TYPE,
                "text": invitation(
                    event,
                    uid=event_uid(ctx.case_number, event["id"] or template),
                    attendee=to,
                    stamp=ctx.now,
                    sequence=max(0, int((ctx.now - _SEQUENCE_EPOCH).total_seconds())),
                ),
            }
        ]
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
            attachments=attachments,
        )
    )
    detail: dict[str, Any] = {"channel": channel, "to": to, "template": template, "key": key}
    if event is not None:
        detail["ics"] = {"start": event["start"].isoformat(), "end": event["end"].isoformat()}
    record(
        ctx.session,
        "notification_queued",
        at=ctx.now,
        actor=ctx.actor,
        case_id=ctx.case_id,
        detail=detail,
    )
    return key


def _read_ics(ics: Any, zone: tzinfo) -> dict[str, Any]:
    """Check a script's invitation dict; times come back as aware UTC datetimes."""
    if not isinstance(ics, dict):
        raise NotifyError(
            "ics must be a dict with start, end, summary and optionally location, description"
        )
    unknown = sorted(set(map(str, ics)) - set(ICS_FIELDS))
    if unknown:
        raise NotifyError(
            f"ics has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(ICS_FIELDS)}"
        )
    missing = [name for name, required in ICS_FIELDS.items() if required and not ics.get(name)]
    if missing:
        raise NotifyError(f"ics needs {', '.join(missing)}")
    event: dict[str, Any] = {}
    for name in ("start", "end"):
        value = ics[name]
        if not isinstance(value, str | datetime):
            raise NotifyError(f"ics {name} must be an ISO 8601 date-time, got {value!r}")
        try:
            event[name] = parse_when(value, zone)
        except (TypeError, ValueError) as exc:
            raise NotifyError(f"ics {name} {value!r} is not an ISO 8601 date-time") from exc
    if event["end"] <= event["start"]:
        raise NotifyError(
            f"ics end {event['end'].isoformat()} is not after start {event['start'].isoformat()}"
        )
    event_id = ics.get("id") or ""
    if not isinstance(event_id, str | int) or len(str(event_id)) > 100:
        raise NotifyError("ics id must be a short text naming the event within the case")
    event["id"] = str(event_id).strip()
    for name in ("summary", "location", "description"):
        value = ics.get(name) or ""
        if not isinstance(value, str):
            raise NotifyError(f"ics {name} must be text, got {type(value).__name__}")
        if len(value) > (300 if name != "description" else 5000):
            raise NotifyError(f"ics {name} is too long")
        event[name] = value.strip()
    return event


def event_uid(case_number: str, event_id: str) -> str:
    """One UID per event of a case, the same in every invitation for it: a booking moved to a
    new time updates the guest's calendar entry instead of adding a second one."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{case_number}.{event_id}").strip("-")
    return f"{safe}@caseflow"


def invitation(
    event: dict[str, Any], *, uid: str, attendee: str, stamp: datetime, sequence: int = 0
) -> str:
    """An iCalendar METHOD:REQUEST invitation for one event (times in UTC). The ORGANIZER is
    added by the e-mail sender, which knows the From address."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Caseflow//Caseflow//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "REQUEST")
    vevent = icalendar.Event()
    vevent.add("uid", uid)
    vevent.add("dtstamp", stamp)
    vevent.add("dtstart", event["start"])
    vevent.add("dtend", event["end"])
    vevent.add("summary", event["summary"])
    if event["location"]:
        vevent.add("location", event["location"])
    if event["description"]:
        vevent.add("description", event["description"])
    vevent.add("sequence", sequence)
    vevent.add("status", "CONFIRMED")
    guest = icalendar.vCalAddress(f"mailto:{attendee}")
    guest.params["ROLE"] = "REQ-PARTICIPANT"
    guest.params["RSVP"] = "TRUE"
    vevent.add("attendee", guest)
    cal.add_component(vevent)
    return cal.to_ical().decode("utf-8")
