"""Erasure of personal data once a case has ended longer ago than the retention period (settings.privacy.retention_days): the daily purge, one step transaction per case."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.casework.privacy import (
    _STATE_STRUCTURE_KEYS,
    CHECK_EVERY,
    ENDED,
    MIN_ASCII,
    MIN_DIGITS,
    PURGE_ACTOR,
    PURGE_EVERY,
    PURGED_EVENT,
    RECIPIENT_KEYS,
    REDACTED,
    RUN_EVENT,
    is_personal_key,
)
from engine.core.errors import Conflict
from engine.core.settings import Settings
from engine.core.status import OutboxStatus
from engine.runtime.steptxn import write_step
from engine.store.audit import record
from engine.store.database import Database
from engine.store.tables import Attachment, Blob, Case, Event, Outbox, Task

log = logging.getLogger(__name__)


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
