"""Links in customers' messages: a customer answers what a message asks (resubmit or withdraw a
returned booking, rate the service, answer a survey) from the link in it, with no sign-in.

The link is the customer's only key. It carries, signed with the installation's secret key
(HMAC-SHA256, engine.core.secrets), the case number, the message it answers, when it stops
working ([portal] link_days after it was made) and a random id. A link made to be used once is
refused after its answer reached the case: the id is recorded with the message in the case's
history, in the step that delivers it (Runtime.send_message(once=...)). A wrong, tampered or
expired link, a used one, or a case no longer waiting for that message changes nothing and is
refused with the reason (LinkRefused.reason: invalid, expired, used, not_waiting).

Scripts make links with the helper `customer_link("feedback")`, which gives the whole address
(`[portal] base_url` + /book/reply/<message>/<token>) for the case the step runs on; the page
behind it shows the form the process names for that message (process property
`messageForm:<message>`) and sends the answer to the case as that message.

A time the answer gives (a date-time field: the corrected time of a returned booking) is the
customer picking a time as on the booking page, so it meets the booking page's rule
(engine.casework.portal_choices.check_time: not past, a working day, office hours; and the
lead in working days of the case's process, engine.casework.portal_lead, unless the form's
urgent box is ticked) and is sent as the instant in UTC — the page posts company wall-clock
time. A refused time is said beside its field, and nothing reaches the case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.casework.portal_choices import check_time, checked_times, source_field
from engine.casework.portal_lead import BookingLead, case_lead, earliest, is_urgent
from engine.core.errors import CaseflowError, InvalidState, ValidationFailed, refine
from engine.core.secrets import secret_key
from engine.core.settings import PortalSettings
from engine.core.status import CaseStatus
from engine.core.stepcontext import current, service
from engine.definitions.forms import prefilled_values
from engine.definitions.submission import EXTRAS_DROP, declared_submission, form_errors
from engine.runtime.cases import used_links
from engine.runtime.verbs import Runtime
from engine.store.rows import read as read_rows
from engine.store.tables import Case, Form, ProcessVersion

MESSAGE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")
NONCE = re.compile(r"^[A-Za-z0-9_-]{8,16}$")
MAX_TOKEN = 200
PATH = "/book/reply/{message}/{token}"
# Kept apart from every other use of the secret key (sessions sign with it too).
_DOMAIN = b"caseflow customer link v1\n"
EMPTY_FORM: dict[str, Any] = {"type": "object", "properties": {}}


class LinkRefused(CaseflowError):
    """The link does not open: `reason` is invalid, expired, used or not_waiting (the web
    layer says it as "link_refused.<reason>")."""

    code = "link_refused"

    def __init__(self, reason: str, message: str, **params: Any) -> None:
        super().__init__(message, reason=reason, **params)


@dataclass(frozen=True)
class LinkClaim:
    number: str
    message: str
    expires_at: datetime
    nonce: str
    once: bool


@dataclass(frozen=True)
class LinkPage:
    """What the page behind a link shows: the case, the form of the message it waits for,
    the values the form starts with and the case values the form names to show. `lead`: how
    far ahead the form's time must be (its process's rule, the case's own N), if it has one;
    `store` and `service_item`: the booking's, for the calendar rule's shift check."""

    number: str
    message: str
    process_title: str
    schema: dict[str, Any]
    values: dict[str, Any]
    shown: list[tuple[str, Any]]
    expires_at: datetime
    lead: BookingLead | None = None
    store: str | None = None
    service_item: str | None = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _signature(payload: str, key: str) -> str:
    digest = hmac.new(key.encode("utf-8"), _DOMAIN + payload.encode("utf-8"), hashlib.sha256)
    return _b64(digest.digest()[:16])


def sign(claim: LinkClaim, key: str | None = None) -> str:
    """The token for `claim`: readable fields and their signature, safe in a URL path."""
    if not NUMBER.match(claim.number) or not MESSAGE.match(claim.message):
        raise ValueError(f"cannot make a link for {claim.number!r} / {claim.message!r}")
    if not NONCE.match(claim.nonce):
        raise ValueError("a link id is 8 to 16 URL-safe characters")
    expires = int(claim.expires_at.timestamp())
    payload = ".".join(
        (claim.number, claim.message, _base36(expires), ("1" if claim.once else "0") + claim.nonce)
    )
    return f"{payload}.{_signature(payload, key or secret_key())}"


def verify(
    token: str, now: datetime, message: str | None = None, key: str | None = None
) -> LinkClaim:
    """The claim a token carries, if its signature holds, it is not expired and (when given)
    it answers `message`; else LinkRefused."""
    parts = token.split(".") if isinstance(token, str) and len(token) <= MAX_TOKEN else []
    if len(parts) != 5:
        raise LinkRefused("invalid", "this is not a link we sent")
    number, name, expires, mode_nonce, signature = parts
    expected = _signature(".".join(parts[:4]), key or secret_key())
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise LinkRefused("invalid", "this is not a link we sent, or it was changed")
    try:
        expires_at = datetime.fromtimestamp(int(expires, 36), UTC)
    except (ValueError, OverflowError, OSError):
        raise LinkRefused("invalid", "this is not a link we sent") from None
    if message is not None and name != message:
        raise LinkRefused("invalid", f"this link answers {name!r}, not {message!r}")
    if now >= expires_at:
        raise LinkRefused(
            "expired", f"this link stopped working at {expires_at.isoformat()}", at=expires_at
        )
    return LinkClaim(number, name, expires_at, mode_nonce[1:], mode_nonce[:1] == "1")


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        value, rest = divmod(value, 36)
        text = digits[rest] + text
        if not value:
            return text


def new_claim(number: str, message: str, now: datetime, days: int, once: bool = True) -> LinkClaim:
    return LinkClaim(number, message, now + timedelta(days=days), secrets.token_urlsafe(9), once)


@service()
def customer_link(message: str, once: bool = True) -> str:
    """The address of a link that lets the case's customer send `message` to this case (for a
    notification template). Usable from BPMN scripts: `customer_link("feedback")`."""
    ctx = current()
    if not isinstance(message, str) or not MESSAGE.match(message):
        raise ValueError(f"customer_link: {message!r} is not a message name")
    portal = getattr(ctx.settings, "portal", None) or PortalSettings()
    claim = new_claim(ctx.case_number, message, ctx.now, portal.link_days, bool(once))
    return portal.base_url + PATH.format(message=message, token=sign(claim))


def open_link(runtime: Runtime, message: str, token: str) -> LinkPage:
    """What the link shows, or LinkRefused when it does not open."""
    claim = verify(token, runtime.clock.now(), message)
    with runtime.db.read() as session:
        case = session.scalars(select(Case).where(Case.number == claim.number)).first()
        if case is None:  # a signed number always existed; its case may have been removed
            raise LinkRefused("not_waiting", f"case {claim.number} no longer exists")
        case_id, status, key = case.id, case.status, case.process_key
        version = session.get(ProcessVersion, case.process_version_id)
        defaults = dict(version.defaults or {})
        portal = version.portal or {}
        title = portal.get("title") or version.name
        form_id = (portal.get("message_form_ids") or {}).get(claim.message)
        form = session.get(Form, form_id) if form_id is not None else None
        schema = form.schema if form is not None else EMPTY_FORM
    if claim.once:
        with read_rows(runtime.db) as rows:
            if claim.nonce in used_links(rows, case_id):
                raise LinkRefused("used", "this link was already used")
    if status != CaseStatus.RUNNING:
        raise LinkRefused("not_waiting", f"case {claim.number} is {status}")
    view = runtime.get_case(claim.number, history_limit=0)
    if claim.message not in set(view.waiting_messages):
        raise LinkRefused("not_waiting", f"case {claim.number} is not waiting for this answer")
    shown = [
        (str(label), view.data.get(name))
        for name, label in (schema.get("x-show") or {}).items()
        if view.data.get(name) not in (None, "")
    ]
    return LinkPage(
        number=claim.number,
        message=claim.message,
        process_title=title,
        schema=schema,
        values=prefilled_values(schema, view.data),
        shown=shown,
        expires_at=claim.expires_at,
        lead=case_lead(key, defaults, view.data, schema),
        store=_text(view.data.get("store")),
        service_item=_text(view.data.get("service_item")),
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def earliest_answer(
    runtime: Runtime, page: LinkPage, urgent: bool = False
) -> tuple[str, datetime] | None:
    """(field, earliest instant in UTC) the link page's lead allows now — for its picker to
    start there — or None when its form has no time with a lead. `urgent`: the earliest an
    urgent request may have (the next office minute)."""
    lead = page.lead
    if lead is None:
        return None
    return lead.field, earliest(runtime.calendar, runtime.clock.now(), 0 if urgent else lead.days)


def answer(
    runtime: Runtime,
    message: str,
    token: str,
    data: dict[str, Any],
    schema: dict[str, Any] | None = None,
) -> LinkPage:
    """Check the answer against the message's form and send it to the case as the message;
    LinkRefused when the link does not open (any more), ValidationFailed beside the fields."""
    page = open_link(runtime, message, token)
    claim = verify(token, runtime.clock.now(), message)
    schema = schema or page.schema
    # The times are checked whatever else is wrong, so every refusal shows at once.
    times, time_errors = _times_in_utc(runtime, page, schema, data)
    try:
        data, _ = declared_submission(schema, data, extras=EXTRAS_DROP)
    except ValidationFailed as exc:
        if time_errors:
            raise form_errors(
                "the answer has errors", schema, {**exc.errors, **time_errors}
            ) from None
        raise refine(exc, "the answer has errors") from None
    if time_errors:
        raise form_errors("the answer has errors", schema, time_errors)
    data = {**data, **{k: v for k, v in times.items() if k in data}}
    try:
        runtime.send_message(
            page.number,
            message,
            data,
            actor="customer",
            once=claim.nonce if claim.once else None,
        )
    except InvalidState as exc:
        if exc.reason == "link_used":
            raise LinkRefused("used", "this link was already used") from None
        raise LinkRefused("not_waiting", str(exc)) from None
    return page


def _times_in_utc(
    runtime: Runtime, page: LinkPage, schema: dict[str, Any], data: dict[str, Any]
) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """The answer's times as instants in UTC, and the refusals of the booking page's rule per
    field (the lead only for the field its process's rule names). A time that is not a time
    at all is left to the form's own check."""
    store_field = source_field(schema, "stores")
    item_field = source_field(schema, "service_items")
    store = _text(data.get(store_field)) if store_field else None
    item = _text(data.get(item_field)) if item_field else None
    store, item = store or page.store, item or page.service_item
    urgent = is_urgent(page.lead, data)

    def refusal(name: str, value: str) -> Any:
        lead = page.lead if page.lead is not None and page.lead.field == name else None
        return check_time(runtime, value, store, item, lead, urgent)

    return checked_times(runtime, schema, data, refusal)
