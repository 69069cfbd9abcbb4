"""What a dry run reports (engine.casework.dryrun): the path the case took, the tasks it opened,
the messages it would have sent, its errors, and where it ended or waits — read from the
throw-away database before it is deleted. Times are UTC instants with their company-local
reading beside them ("local", e.g. "2026-11-24 10:00").

What the run itself says (its notes, a step that could not be done and the step's action) is
a Message: `to_dict` gives its text with its "code" and "params" beside it, and takes the
function that says a Message in the reader's language (the web layer's; English by default).
A case's own error (a failing script) is the engine's text as it is, with no code.

A text message's length: GSM-7 text (the basic alphabet; ^{}\\[~]|€ count twice) fits 160
characters in one message and 153 per part when longer; anything else (Chinese) is sent as
UCS-2: 70 characters in one message, 67 per part. The line break that ends every rendered
message is not counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import select

from engine.core.messages import Message
from engine.core.status import CaseStatus
from engine.runtime.tracing import TracingRuntime
from engine.store.tables import Case, Event, Outbox, Task

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    characters: int
    segments: int
    encoding: str  # "GSM-7" or "UCS-2"


def sms_length(text: str) -> SmsLength:
    """How long a text message is and how many parts it is sent in (see the module)."""
    text = text.rstrip("\n")
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        # UTF-16 code units: a character beyond the basic plane (an emoji) takes two.
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else math.ceil(units / part)
    return SmsLength(len(text), segments, encoding)


def _when(value: datetime | None, zone: tzinfo) -> dict[str, str] | None:
    if value is None:
        return None
    return {"at": value.isoformat(), "local": value.astimezone(zone).strftime("%Y-%m-%d %H:%M")}


@dataclass(frozen=True)
class Failure:
    """A scenario step that could not be done (the run stopped there)."""

    step: int | None  # its index in the scenario's steps
    action: Message | None  # what the step does (engine.casework.scenario.Step.describe)
    element: str | None
    message: Message
    at: datetime


@dataclass
class DryRunReport:
    """A dry run's findings, as plain JSON-ready values (see `to_dict`).

    - `path`: the elements reached in order: element, name, type (BPMN), kind (completed,
      opened, started, error), at / local;
    - `tasks`: every task opened: element, name, role (and role_name), opened / due /
      completed times, status, who completed it and the answers submitted;
    - `messages`: every message that would be sent: channel, recipient, queued (time),
      subject, text, and for SMS its length (characters, segments, encoding);
    - `errors`: the case's errors as its page shows them (element, name, message, time), and
      the scenario steps that could not be done (step, action, element, message, time; with
      "code" and "params" of the message, "action_code" and "action_params" of the action);
    - `end`: the case's status and outcome, or what it waits for (open tasks, timers with
      their due times, messages), and the clock when the run ended;
    - `notes`: why the run stopped early, where it did ({"message", "code", "params"} each);
      `start_data`: what the case started with; `actions` and `seconds`: how much the run
      took.
    """

    process: str
    start: dict[str, str]
    start_data: dict[str, Any] | None
    path: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] = field(default_factory=dict)
    notes: list[Message] = field(default_factory=list)
    actions: int = 0
    seconds: float = 0.0

    def to_dict(self, say: Callable[[Message], str] = str) -> dict[str, Any]:
        """The report as JSON values, each Message said by `say` with its code and params
        (params as JSON: times in ISO 8601, a nested message as {"code", "params",
        "message"})."""
        plain = replace(self, errors=[], notes=[])
        return {
            **asdict(plain),
            "errors": [_said_error(e, say) for e in self.errors],
            "notes": [{"message": say(n), **coded(n)} for n in self.notes],
        }


def coded(message: Any) -> dict[str, Any]:
    """The code and params of a Message as JSON values (None and {} for plain text)."""
    return {
        "code": getattr(message, "code", None),
        "params": _json(getattr(message, "params", None) or {}),
    }


def _json(value: Any) -> Any:
    if isinstance(value, Message):
        return {"message": str(value), **coded(value)}
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _said_error(error: dict[str, Any], say: Callable[[Message], str]) -> dict[str, Any]:
    said = dict(error)
    message, action = error.get("message"), error.get("action")
    said.update(message=say(message) if isinstance(message, Message) else message, **coded(message))
    if "action" in error:
        said["action"] = say(action) if isinstance(action, Message) else action
        codes = coded(action)
        said["action_code"], said["action_params"] = codes["code"], codes["params"]
    return said


def build_report(
    rt: TracingRuntime,
    number: str | None,
    index: Any,
    *,
    start: datetime,
    start_data: dict[str, Any] | None,
    clock: datetime,
    failures: list[Failure],
    notes: list[str],
    actions: int,
    seconds: float,
) -> DryRunReport:
    """The report of the case `number` in the dry run's runtime `rt`."""
    zone = rt.calendar.zone
    roles = rt.settings.roles

    def name_of(element: str | None, fallback: str | None = None) -> str | None:
        found = index.elements.get(element) if element else None
        return (found[1] if found else None) or fallback

    def type_of(element: str) -> str | None:
        found = index.elements.get(element)
        return found[0] if found else None

    with rt.db.read() as session:
        case = (
            session.scalars(select(Case).where(Case.number == number)).first() if number else None
        )
        report = DryRunReport(
            process=case.process_key if case is not None else "",
            start=_when(start, zone) or {},
            start_data=start_data,
            notes=list(notes),
            actions=actions,
            seconds=round(seconds, 3),
        )
        if case is None:
            report.errors = [_failure(f, name_of, zone) for f in failures]
            return report
        report.path = [
            {
                "element": r.element_id,
                "name": r.name or name_of(r.element_id),
                "type": type_of(r.element_id),
                "kind": r.kind,
                **(_when(r.at, zone) or {}),
            }
            for r in rt.reached
            if r.case_id == case.id
        ]
        for task in session.scalars(select(Task).where(Task.case_id == case.id).order_by(Task.id)):
            report.tasks.append(
                {
                    "element": task.element_id,
                    "name": task.name,
                    "role": task.role,
                    "role_name": roles.get(task.role),
                    "status": task.status,
                    "opened": _when(task.created_at, zone),
                    "due": _when(task.due_at, zone),
                    "completed": _when(task.completed_at, zone),
                    "completed_by": task.completed_by,
                    "answers": task.data,
                }
            )
        for row in session.scalars(
            select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)
        ):
            message: dict[str, Any] = {
                "channel": row.channel,
                "recipient": row.recipient,
                "queued": _when(row.created_at, zone),
                "subject": row.subject,
                "text": row.body,
                "attachments": [a.get("filename") for a in row.attachments or []],
            }
            if row.channel == "sms":
                message["sms"] = asdict(sms_length(row.body or ""))
            report.messages.append(message)
        for event in session.scalars(
            select(Event).where(Event.case_id == case.id, Event.kind == "error").order_by(Event.id)
        ):
            detail = event.detail or {}
            report.errors.append(
                {
                    "element": event.element_id,
                    "name": name_of(event.element_id),
                    "message": detail.get("message") or "",
                    **(_when(event.at, zone) or {}),
                }
            )
        status, outcome, ended = case.status, case.outcome, case.ended_at
    report.errors += [_failure(f, name_of, zone) for f in failures]
    view = rt.get_case(number, history_limit=1)  # type: ignore[arg-type]
    report.end = {
        "status": status,
        "outcome": outcome,
        "ended": _when(ended, zone),
        "clock": _when(clock, zone),
        "waiting": {
            "tasks": [
                {
                    "element": t.element_id,
                    "name": t.name,
                    "role": t.role,
                    "due": _when(t.due_at, zone),
                }
                for t in view.open_tasks
            ],
            "timers": [
                {
                    "element": t.element_id,
                    "name": t.name or name_of(t.element_id),
                    "due": _when(t.due_at, zone),
                }
                for t in view.timers
                if t.status == "waiting"
            ],
            "messages": list(view.waiting_messages),
        }
        if status in (CaseStatus.RUNNING, CaseStatus.ERROR)
        else None,
        "active": list(view.active_elements),
    }
    return report


def _failure(failure: Failure, name_of: Any, zone: tzinfo) -> dict[str, Any]:
    return {
        "step": failure.step,
        "action": failure.action,
        "element": failure.element,
        "name": name_of(failure.element),
        "message": failure.message,
        **(_when(failure.at, zone) or {}),
    }
