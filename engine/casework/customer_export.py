"""Everything Caseflow holds about one customer (found by phone or name), as JSON: what a customer may ask for, and the record that it was given out."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.casework.privacy import EXPORT_EVENT
from engine.core.errors import ValidationFailed
from engine.store.audit import record
from engine.store.database import Database
from engine.store.tables import Attachment, Case, Event, Outbox, ProcessVersion, Task


def _digits(phone: str | None) -> str:
    digits = re.sub(r"\D", "", phone or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 11:
            return digits[len(prefix) :]
    return digits


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _case_data(case: Case, version: ProcessVersion, specs: dict[int, Any]) -> dict[str, Any]:
    """The case's data as the case page shows it; the state's own data if it cannot load."""
    from engine.runtime.waits import case_data
    from engine.spiff import adapter as spiff

    spiff.install()  # reading a case's state walks its task tree (no depth limit)

    try:
        if version.id not in specs:
            specs[version.id] = spiff.load_specs(version.spec_json)
        spec, subprocess_specs = specs[version.id]
        workflow = spiff.load_case_state(case.state, spec, subprocess_specs, None)
        return case_data(workflow)
    except Exception:  # noqa: BLE001 - an export must not fail on one odd case
        try:
            return dict(json.loads(case.state).get("data") or {})
        except (ValueError, AttributeError):
            return {}


def _matching_cases(session: Session, phone: str | None, name: str | None) -> list[Case]:
    query = select(Case).order_by(Case.started_at, Case.id)
    digits = _digits(phone) if phone else ""
    if phone is not None:
        if len(digits) < 6:
            raise ValidationFailed(
                "a phone number needs at least 6 digits",
                {"phone": ["too short"]},
                reason="phone_too_short",
            )
        tail = digits[-4:]
        by_message = select(Outbox.case_id).where(
            Outbox.channel == "sms", Outbox.recipient.contains(tail)
        )
        query = query.where(Case.customer_phone.contains(tail) | Case.id.in_(by_message))
    if name is not None:
        query = query.where(Case.customer_name == name)
    found = session.scalars(query).all()
    if phone is None:
        return list(found)
    sms_to = {
        case_id
        for case_id, recipient in session.execute(
            select(Outbox.case_id, Outbox.recipient).where(
                Outbox.case_id.in_([c.id for c in found]), Outbox.channel == "sms"
            )
        )
        if _digits(recipient) == digits
    }
    return [c for c in found if _digits(c.customer_phone) == digits or c.id in sms_to]


def export_customer(
    db: Database,
    phone: str | None = None,
    name: str | None = None,
    *,
    actor: str | None = None,
    now: datetime | None = None,
    record_export: bool = True,
) -> dict[str, Any]:
    """Everything about one customer, found by phone number (any formatting; +86 ignored)
    and/or exact name (both given: cases matching both): every case with its data, tasks and
    their submitted data, outbox messages, events, attachments (not their content), bookings
    and ratings, and the customer's directory entries. The export is recorded on each case
    (`personal_data_exported`), since it shows personal data."""
    phone = (phone or "").strip() or None
    name = (name or "").strip() or None
    if phone is None and name is None:
        raise ValidationFailed(
            "give the customer's phone number or name",
            {"phone": ["phone or name required"]},
            reason="phone_or_name_required",
        )
    when = now or datetime.now(UTC)
    specs: dict[int, Any] = {}
    with db.write() as session:
        cases = _matching_cases(session, phone, name)
        exported = [_export_case(session, case, specs) for case in cases]
        directory = _directory_entries(session, phone, name)
        if record_export:
            for case in cases:
                record(
                    session,
                    EXPORT_EVENT,
                    at=when,
                    actor=actor,
                    case_id=case.id,
                    detail={"what": "export", "by": "phone" if phone else "name"},
                )
        session.commit()
    return _jsonable(
        {
            "customer": {"phone": phone, "name": name},
            "exported_at": when,
            "exported_by": actor,
            "cases": exported,
            "directory": directory,
        }
    )


def _export_case(session: Session, case: Case, specs: dict[int, Any]) -> dict[str, Any]:
    version = session.get(ProcessVersion, case.process_version_id)
    tasks = session.scalars(select(Task).where(Task.case_id == case.id).order_by(Task.id)).all()
    messages = session.scalars(
        select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)
    ).all()
    events = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id)).all()
    attachments = session.scalars(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
    ).all()
    out: dict[str, Any] = {
        "number": case.number,
        "process": case.process_key,
        "version": version.version if version else None,
        "status": case.status,
        "started_at": case.started_at,
        "ended_at": case.ended_at,
        "customer_name": case.customer_name,
        "customer_phone": case.customer_phone,
        "service_item": case.service_item,
        "appointment_at": case.appointment_at,
        "cancel_reason": case.cancel_reason,
        "data": _case_data(case, version, specs) if version else {},
        "tasks": [
            {
                "id": t.id,
                "element_id": t.element_id,
                "name": t.name,
                "role": t.role,
                "status": t.status,
                "assignee": t.assignee,
                "created_at": t.created_at,
                "completed_at": t.completed_at,
                "completed_by": t.completed_by,
                "data": t.data,
            }
            for t in tasks
        ],
        "messages": [
            {
                "channel": m.channel,
                "recipient": m.recipient,
                "subject": m.subject,
                "body": m.body,
                "status": m.status,
                "created_at": m.created_at,
                "sent_at": m.sent_at,
                "key": m.idempotency_key,
            }
            for m in messages
        ],
        "events": [
            {
                "at": e.at,
                "actor": e.actor,
                "kind": e.kind,
                "element_id": e.element_id,
                "detail": e.detail,
            }
            for e in events
        ],
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "uploaded_by": a.uploaded_by,
                "uploaded_at": a.uploaded_at,
            }
            for a in attachments
        ],
    }
    try:
        from engine.casework.resources import bookings_for_case

        out["bookings"] = bookings_for_case(session, case.id)
    except Exception:  # noqa: BLE001 - resources tables missing in an old database
        out["bookings"] = []
    try:
        from engine.casework.directory import Rating

        out["ratings"] = [
            {"person_id": r.person_id, "score": r.score, "comment": r.comment, "at": r.created_at}
            for r in session.scalars(select(Rating).where(Rating.case_id == case.id))
        ]
    except Exception:  # noqa: BLE001
        out["ratings"] = []
    return out


def _directory_entries(
    session: Session, phone: str | None, name: str | None
) -> list[dict[str, Any]]:
    try:
        from engine.casework.directory import Person, PersonKind
    except Exception:  # noqa: BLE001
        return []
    query = select(Person).where(Person.kind == PersonKind.CUSTOMER).order_by(Person.id)
    if name is not None:
        query = query.where(Person.name == name)
    people = session.scalars(query).all()
    if phone is not None:
        digits = _digits(phone)
        people = [p for p in people if _digits(p.phone) == digits]
    return [
        {"id": p.id, "name": p.name, "phone": p.phone, "email": p.email, "notes": p.notes}
        for p in people
    ]
