"""Customers' personal data: who looked at it, when it goes, and a copy on request.

- `record_view` writes one audit event per view of a customer's details (who, when, which
  case, what was shown): the supervisor's case page, a task page, an export.
- `purge` removes personal data from cases that ended (completed or cancelled) more than
  `[privacy] retention_days` ago: the case's customer name and phone columns, personal keys in
  the stored workflow state and in the task rows' submitted data, personal keys and the
  recipient in the case's events, the recipient, subject, body and attachments of its outbox
  messages, its attachments (and their content, when no other case uses the same file), and
  every other occurrence of the removed values in the case's free text (comments, error
  messages, a cancellation reason). The case itself, its steps, times and figures stay. One
  event `personal_data_purged` per case records that it was done (counts only, nothing
  personal). `caseflow purge [--dry-run]` runs it; the worker runs it once a day
  (`DailyPurge`).
- `export_customer` collects every case, task, message, event and attachment about one
  customer (by phone number or name) as a JSON-able dict, and records the export.

Personal keys, at any depth of a data dict (compared in lower case):
  PERSONAL_KEYS: customer_name, customer_phone, customer_email, customer_address, phone, mobile,
  email, address, id_number, id_card, passport_number, contact, contact_name, child_name,
  baby_name, baby_birth_date, birth_date, wechat
  and any key ending in one of PERSONAL_SUFFIXES: _phone, _mobile, _email, _address,
  _id_number.
A process owner who adds a form field with personal data names it accordingly (e.g.
`mother_phone`, `home_address`) or adds it to PERSONAL_KEYS.

The audit trail is append-only with one exception: purging removes personal values from the
details of the case's own events, because keeping them there would defeat the retention rule.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.core.errors import Conflict, NotFound, ValidationFailed
from engine.core.settings import Settings
from engine.core.status import CaseStatus, OutboxStatus
from engine.runtime.steptxn import write_step
from engine.store.audit import record
from engine.store.database import Database
from engine.store.tables import Attachment, Blob, Case, Event, Outbox, ProcessVersion, Task

log = logging.getLogger("caseflow.privacy")

PERSONAL_KEYS = frozenset(
    {
        "customer_name",
        "customer_phone",
        "customer_email",
        "customer_address",
        "phone",
        "mobile",
        "email",
        "address",
        "id_number",
        "id_card",
        "passport_number",
        "contact",
        "contact_name",
        "child_name",
        "baby_name",
        "baby_birth_date",
        "birth_date",
        "wechat",
    }
)
PERSONAL_SUFFIXES = ("_phone", "_mobile", "_email", "_address", "_id_number")
# In notification events "to" is the customer's phone number or e-mail address.
RECIPIENT_KEYS = frozenset({"to", "recipient"})

VIEW_EVENT = "personal_data_viewed"
EXPORT_EVENT = "personal_data_exported"
PURGED_EVENT = "personal_data_purged"
RUN_EVENT = "retention_purge_run"
PURGE_ACTOR = "retention"
REDACTED = "[已清除]"
ENDED = (CaseStatus.COMPLETED, CaseStatus.CANCELLED)
# The worker's daily run; how often a worker asks the database whether it is due.
PURGE_EVERY = timedelta(days=1)
CHECK_EVERY = timedelta(hours=1)
# The values removed from under personal keys are also searched for in the case's free text
# (a comment that repeats the customer's name) when they are distinctive enough: at least two
# characters with one outside ASCII (Chinese names), six digits (phone and ID numbers), or four
# characters otherwise. A house number "88" alone would blank unrelated text.
MIN_DIGITS = 6
MIN_ASCII = 4

# Keys of the stored workflow state whose values are structure (ids, links, spec names), never
# free text; everything else in the state (task data and its deltas, message payloads) is
# searched for the removed values.
_STATE_STRUCTURE_KEYS = frozenset(
    {"id", "parent", "children", "root", "last_task", "task_spec", "typename", "state", "spec"}
)


def is_personal_key(key: Any) -> bool:
    name = str(key).strip().lower()
    return name in PERSONAL_KEYS or name.endswith(PERSONAL_SUFFIXES)


# ----- views ----------------------------------------------------------------------------------


def record_view(
    target: Database | Session,
    actor: str | None,
    case_number: str,
    what: str,
    *,
    at: datetime | None = None,
) -> None:
    """Record that `actor` was shown a customer's details on case `case_number` (`what`, e.g.
    "case_page", "task_page:12", "api_case"). Given a Database it commits at once; given a
    Session the event commits with the caller's transaction. Unknown case: NotFound."""
    when = at or datetime.now(UTC)
    if isinstance(target, Session):
        _add_view(target, actor, case_number, what, when)
        return
    with target.write() as session:
        _add_view(session, actor, case_number, what, when)
        session.commit()


def _add_view(
    session: Session, actor: str | None, case_number: str, what: str, at: datetime
) -> None:
    case_id = session.scalar(select(Case.id).where(Case.number == case_number))
    if case_id is None:
        raise NotFound(f"no case numbered {case_number!r}")
    record(
        session,
        VIEW_EVENT,
        at=at,
        actor=actor,
        case_id=case_id,
        detail={"what": str(what)[:200]},
    )


def view_log(
    db: Database, case_number: str | None = None, actor: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Who looked at personal data (newest first), of one case and/or by one person."""
    query = (
        select(Event, Case.number)
        .join(Case, Case.id == Event.case_id)
        .where(Event.kind.in_([VIEW_EVENT, EXPORT_EVENT]))
        .order_by(Event.id.desc())
        .limit(limit)
    )
    if case_number is not None:
        query = query.where(Case.number == case_number)
    if actor is not None:
        query = query.where(Event.actor == actor)
    with db.read() as session:
        return [
            {
                "at": event.at.isoformat(),
                "actor": event.actor,
                "case": number,
                "kind": event.kind,
                "what": (event.detail or {}).get("what"),
            }
            for event, number in session.execute(query)
        ]


# ----- scrubbing ------------------------------------------------------------------------------


def _strings(value: Any) -> Iterable[str]:
    """The values worth searching for elsewhere: strings, and long numbers (a phone number
    typed as a number), at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int) and abs(value) >= 100_000:
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _collect(value: Any, found: set[str], recipient_keys: bool = False) -> None:
    """Add the values held under personal keys (at any depth) to `found`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if is_personal_key(key) or (recipient_keys and key in RECIPIENT_KEYS):
                _add_values(found, _strings(item))
            else:
                _collect(item, found, recipient_keys)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found, recipient_keys)


def _distinctive(text: str) -> bool:
    if text.isdigit():
        return len(text) >= MIN_DIGITS
    if text.isascii():
        return len(text) >= MIN_ASCII
    return len(text) >= 2


def _add_values(found: set[str], values: Iterable[str]) -> None:
    for text in values:
        text = text.strip()
        if _distinctive(text):
            found.add(text)
        digits = re.sub(r"\D", "", text)
        if len(digits) >= MIN_DIGITS and digits != text:
            found.add(digits)  # "138-0000-0000" may appear elsewhere as 13800000000


class _Scrubber:
    """Removes personal keys and replaces the removed values wherever they appear in text."""

    def __init__(self, values: set[str]):
        # Longest first, so "王小明" goes before a shorter value inside it.
        self.values = sorted(values, key=len, reverse=True)
        self.removed = 0  # keys removed + texts changed

    def text(self, value: str) -> str:
        new = value
        for secret in self.values:
            if secret in new:
                new = new.replace(secret, REDACTED)
        if new != value:
            self.removed += 1
        return new

    def data(self, value: Any, recipient_keys: bool = False, free_text: bool = True) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if is_personal_key(key) or (recipient_keys and key in RECIPIENT_KEYS):
                    self.removed += 1
                    continue
                out[key] = self.data(item, recipient_keys, free_text)
            return out
        if isinstance(value, list):
            return [self.data(item, recipient_keys, free_text) for item in value]
        if isinstance(value, str) and free_text:
            return self.text(value)
        return value

    def state(self, value: Any, structure: bool = False) -> Any:
        """The stored workflow state: personal keys go everywhere; free text is rewritten
        everywhere but in the state's structure (ids, links, spec names)."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if is_personal_key(key):
                    self.removed += 1
                    continue
                out[key] = self.state(item, structure or key in _STATE_STRUCTURE_KEYS)
            return out
        if isinstance(value, list):
            return [self.state(item, structure) for item in value]
        if isinstance(value, str) and not structure:
            return self.text(value)
        return value


@dataclass
class PurgeReport:
    dry_run: bool
    retention_days: int
    cutoff: str
    cases: int = 0
    tasks: int = 0
    events: int = 0
    messages: int = 0
    attachments: int = 0
    blobs: int = 0
    fields: int = 0  # personal keys removed and texts rewritten, in all of the above
    skipped: int = 0  # changed by someone else meanwhile (another purge); taken next time
    numbers: list[str] = field(default_factory=list)  # the purged cases (not in a dry run)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            setattr(self, key, getattr(self, key) + value)


def _is_notification(kind: str) -> bool:
    return kind.startswith("notification_")


def _purge_case(session: Session, case: Case, now: datetime, apply: bool) -> dict[str, int]:
    """Remove the personal data of one ended case (or, with apply False, count what would go).
    The caller commits."""
    tasks = session.scalars(select(Task).where(Task.case_id == case.id)).all()
    events = session.scalars(select(Event).where(Event.case_id == case.id)).all()
    messages = session.scalars(select(Outbox).where(Outbox.case_id == case.id)).all()
    attachments = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
    try:
        state = json.loads(case.state) if case.state else {}
    except ValueError:
        state = {}

    found: set[str] = set()
    _add_values(found, [v for v in (case.customer_name, case.customer_phone) if v])
    _collect(state, found)
    for task in tasks:
        _collect(task.data, found)
    for event in events:
        _collect(event.detail, found, recipient_keys=_is_notification(event.kind))
    for message in messages:
        _add_values(found, [message.recipient])
    scrub = _Scrubber(found)

    counts = {"cases": 1, "tasks": 0, "events": 0, "messages": 0, "attachments": 0, "blobs": 0}
    new_state = scrub.state(state)
    new_text = {
        name: scrub.text(getattr(case, name))
        for name in ("error_message", "cancel_reason")
        if getattr(case, name)
    }
    task_data = {}
    for task in tasks:
        before = scrub.removed
        cleaned = scrub.data(task.data) if task.data else task.data
        if scrub.removed != before:
            task_data[task.id] = cleaned
    counts["tasks"] = len(task_data)
    event_detail = {}
    for event in events:
        before = scrub.removed
        cleaned = (
            scrub.data(event.detail, recipient_keys=_is_notification(event.kind))
            if event.detail
            else event.detail
        )
        if scrub.removed != before:
            event_detail[event.id] = cleaned
    counts["events"] = len(event_detail)
    comments = {}
    for rating in _ratings(session, case.id):
        if rating.comment:
            cleaned = scrub.text(rating.comment)
            if cleaned != rating.comment:
                comments[rating] = cleaned
    live_messages = [m for m in messages if m.recipient or m.body or m.subject or m.attachments]
    counts["messages"] = len(live_messages)
    counts["attachments"] = len(attachments)
    shas = {a.sha256 for a in attachments}
    others = set(
        session.scalars(
            select(Attachment.sha256).where(
                Attachment.sha256.in_(shas), Attachment.case_id != case.id
            )
        ).all()
    )
    orphans = sorted(shas - others)
    counts["blobs"] = len(orphans)
    personal_columns = int(bool(case.customer_name)) + int(bool(case.customer_phone))
    counts["fields"] = (
        scrub.removed
        + personal_columns
        + sum(int(bool(m.recipient)) + int(bool(m.body)) for m in live_messages)
    )
    if not apply:
        return counts

    case.customer_name = None
    case.customer_phone = None
    if state:
        case.state = json.dumps(new_state, ensure_ascii=False)
    for name, value in new_text.items():
        setattr(case, name, value)
    by_id = {task.id: task for task in tasks}
    for task_id, cleaned in task_data.items():
        by_id[task_id].data = cleaned
    events_by_id = {event.id: event for event in events}
    for event_id, cleaned in event_detail.items():
        events_by_id[event_id].detail = cleaned
    for rating, cleaned in comments.items():
        rating.comment = cleaned
    for message in live_messages:
        message.recipient = ""
        message.subject = None
        message.body = ""
        message.attachments = None
        if message.status == OutboxStatus.PENDING:
            message.status = OutboxStatus.FAILED
            message.last_error = "personal data purged before the message was sent"
    for attachment in attachments:
        session.delete(attachment)
    session.flush()
    if orphans:
        session.execute(
            delete(Blob)
            .where(Blob.sha256.in_(orphans))
            .execution_options(synchronize_session=False)
        )
    record(
        session,
        PURGED_EVENT,
        at=now,
        actor=PURGE_ACTOR,
        case_id=case.id,
        detail={
            "ended_at": case.ended_at.isoformat() if case.ended_at else None,
            "removed": {k: v for k, v in counts.items() if k != "cases"}
            | {"fields": counts["fields"]},
        },
    )
    return counts


def _ratings(session: Session, case_id: int) -> list[Any]:
    try:
        from engine.casework.directory import Rating
    except ImportError:  # pragma: no cover - the directory is part of the engine
        return []
    return list(session.scalars(select(Rating).where(Rating.case_id == case_id)))


def _due_cases(session: Session, cutoff: datetime) -> list[tuple[int, str]]:
    purged = select(Event.case_id).where(Event.kind == PURGED_EVENT, Event.case_id.is_not(None))
    ended_at = func.coalesce(Case.ended_at, Case.updated_at)
    query = (
        select(Case.id, Case.number)
        .where(Case.status.in_(list(ENDED)), ended_at <= cutoff, Case.id.not_in(purged))
        .order_by(ended_at, Case.id)
    )
    return [(row.id, row.number) for row in session.execute(query)]


def purge(
    db: Database,
    settings: Settings,
    now: datetime,
    dry_run: bool = False,
    actor: str | None = None,
) -> PurgeReport:
    """Remove the personal data of every case that ended more than `retention_days` before
    `now`, one transaction per case (an interrupted purge leaves each case whole, and the next
    run takes the rest). A dry run changes nothing and reports what would go (counts only)."""
    days = settings.privacy.retention_days
    cutoff = now - timedelta(days=days)
    report = PurgeReport(dry_run=dry_run, retention_days=days, cutoff=cutoff.isoformat())
    with db.read() as session:
        due = _due_cases(session, cutoff)
    for case_id, number in due:
        if dry_run:
            with db.read() as session:
                case = session.get(Case, case_id)
                report.add(_purge_case(session, case, now, apply=False))
            continue
        counts = None
        try:
            # A step like any other: the step transaction with the case's version check.
            with write_step(db, lambda number=number: f"case {number} changed meanwhile") as txn:
                session = txn.session()
                already = session.scalar(
                    select(Event.id)
                    .where(Event.case_id == case_id, Event.kind == PURGED_EVENT)
                    .limit(1)
                )
                if already is None:  # else another purge took it meanwhile
                    case = session.get(Case, case_id)
                    counts = _purge_case(session, case, now, apply=True)
        except Conflict:
            report.skipped += 1
            continue
        if counts is None:
            continue
        report.add(counts)
        report.numbers.append(number)
    if not dry_run:
        with write_step(db, lambda: "the purge could not note its run") as txn:
            record(
                txn.session(),
                RUN_EVENT,
                at=now,
                actor=actor or PURGE_ACTOR,
                detail={
                    "retention_days": days,
                    "cutoff": cutoff.isoformat(),
                    "cases": report.cases,
                    "skipped": report.skipped,
                },
            )
    return report


def last_purge_run(db: Database) -> datetime | None:
    with db.read() as session:
        return session.scalar(select(func.max(Event.at)).where(Event.kind == RUN_EVENT))


def run_daily_purge(
    db: Database, settings: Settings, now: datetime, actor: str = "worker"
) -> PurgeReport | None:
    """Purge if no purge ran in the last day (any process: the last run is an event)."""
    last = last_purge_run(db)
    if last is not None and now - last < PURGE_EVERY:
        return None
    report = purge(db, settings, now, actor=actor)
    if report.cases:
        log.info("retention purge: personal data removed from %d case(s)", report.cases)
    return report


class DailyPurge:
    """The worker's hook: asks the database at most once an hour (of the worker's clock)
    whether the daily purge is due, and runs it when it is."""

    def __init__(self, check_every: timedelta = CHECK_EVERY):
        self.check_every = check_every
        self.next_check: datetime | None = None
        self.last_report: PurgeReport | None = None

    def maybe_run(self, db: Database, settings: Settings, now: datetime) -> PurgeReport | None:
        if self.next_check is not None and now < self.next_check:
            return None
        self.next_check = now + self.check_every
        report = run_daily_purge(db, settings, now)
        if report is not None:
            self.last_report = report
        return report


# ----- export ---------------------------------------------------------------------------------


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
    from engine.runtime.projection import case_data
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
                "a phone number needs at least 6 digits", {"phone": ["too short"]}
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
            "give the customer's phone number or name", {"phone": ["phone or name required"]}
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
