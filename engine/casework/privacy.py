"""Customers' personal data: what counts as personal (the keys below), the names of the events
about it, and the record of who looked at it. The purge is in engine.casework.retention, a
customer's export in engine.casework.customer_export; both take their rules from here.

- `record_view` writes one audit event per view of a customer's details (who, when, which
  case, what was shown): the supervisor's case page, a task page, an export. `view_log` lists
  those views and the exports.
- `purge` (engine.casework.retention) removes personal data from cases that ended (completed
  or cancelled) more than `[privacy] retention_days` ago: the case's customer name and phone
  columns, personal keys in the stored workflow state and in the task rows' submitted data,
  personal keys and the recipient in the case's events, the recipient, subject, body and
  attachments of its outbox messages, its attachments (and their content, when no other case
  uses the same file), and every other occurrence of the removed values in the case's free text
  (comments, error messages, a cancellation reason). The case itself, its steps, times and
  figures stay. One event `personal_data_purged` per case records that it was done (counts
  only, nothing personal). `caseflow purge [--dry-run]` runs it; the worker runs it once a day
  (`DailyPurge`).
- `export_customer` (engine.casework.customer_export) collects every case, task, message,
  event and attachment about one customer (by phone number or name) as a JSON-able dict, and
  records the export.

Personal keys, at any depth of a data dict (compared in lower case):
  PERSONAL_KEYS: customer_name, customer_phone, customer_email, customer_address, phone, mobile,
  email, address, id_number, id_card, passport_number, contact, contact_name, child_name,
  baby_name, baby_birth_date, baby_due_date, birth_date, wechat
  and any key ending in one of PERSONAL_SUFFIXES: _phone, _mobile, _email, _address,
  _id_number.
A process owner who adds a form field with personal data names it accordingly (e.g.
`mother_phone`, `home_address`) or adds it to PERSONAL_KEYS.

The audit trail is append-only with one exception: purging removes personal values from the
details of the case's own events, because keeping them there would defeat the retention rule.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.errors import NotFound
from engine.core.status import CaseStatus
from engine.store.audit import record
from engine.store.database import Database
from engine.store.tables import Case, Event

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
        "baby_due_date",
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
        raise NotFound(
            f"no case numbered {case_number!r}", reason="case_not_found", number=case_number
        )
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
