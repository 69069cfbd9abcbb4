"""Small read-only views the engine hands out. SpiffWorkflow objects never leave engine/."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.store.tables import Case, Event, Outbox, Task, Timer


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _fields(view: Any) -> dict[str, Any]:
    """The view's fields, one level deep. (dataclasses.asdict deep-copies every nested value —
    a task's data and form schema — which cost more than the rest of an API answer; the dict
    is serialised to JSON at once, nobody mutates it.)"""
    return dict(vars(view))


@dataclass(frozen=True)
class TaskView:
    id: int
    case_number: str
    element_id: str
    name: str
    role: str
    status: str
    assignee: str | None
    due_at: datetime | None
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None
    form: dict[str, Any] | None = None
    instructions: str | None = None
    data: dict[str, Any] | None = None

    @classmethod
    def of(cls, task: Task, case_number: str, form: dict[str, Any] | None = None) -> TaskView:
        return cls(
            id=task.id,
            case_number=case_number,
            element_id=task.element_id,
            name=task.name,
            role=task.role,
            status=task.status,
            assignee=task.assignee,
            due_at=task.due_at,
            created_at=task.created_at,
            completed_at=task.completed_at,
            completed_by=task.completed_by,
            form=form,
            instructions=task.instructions,
            data=task.data,
        )

    def to_dict(self) -> dict[str, Any]:
        out = _fields(self)
        out["case"] = out.pop("case_number")
        for key in ("due_at", "created_at", "completed_at"):
            out[key] = _iso(out[key])
        if self.form is None:
            out.pop("form")
        return out


@dataclass(frozen=True)
class TimerView:
    id: int
    element_id: str
    name: str | None
    kind: str
    due_at: datetime
    status: str

    @classmethod
    def of(cls, timer: Timer) -> TimerView:
        return cls(timer.id, timer.element_id, timer.name, timer.kind, timer.due_at, timer.status)

    def to_dict(self) -> dict[str, Any]:
        out = _fields(self)
        out["due_at"] = _iso(self.due_at)
        return out


@dataclass(frozen=True)
class EventView:
    at: datetime
    kind: str
    actor: str | None
    element_id: str | None
    detail: dict[str, Any] | None

    @classmethod
    def of(cls, event: Event) -> EventView:
        return cls(event.at, event.kind, event.actor, event.element_id, event.detail)

    def to_dict(self) -> dict[str, Any]:
        out = _fields(self)
        out["at"] = _iso(self.at)
        return out


@dataclass(frozen=True)
class NotificationView:
    channel: str
    recipient: str
    subject: str | None
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, row: Outbox) -> NotificationView:
        return cls(
            row.channel,
            row.recipient,
            row.subject,
            row.status,
            row.attempts,
            row.created_at,
            row.sent_at,
            row.last_error,
        )

    def to_dict(self) -> dict[str, Any]:
        out = _fields(self)
        out["created_at"] = _iso(self.created_at)
        out["sent_at"] = _iso(self.sent_at)
        return out


@dataclass(frozen=True)
class CaseView:
    number: str
    process: str
    version: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    error_element: str | None
    error_message: str | None
    cancel_reason: str | None
    data: dict[str, Any]
    outcome: str | None = None  # how it ended (engine.core.outcomes)
    open_tasks: list[TaskView] = field(default_factory=list)
    timers: list[TimerView] = field(default_factory=list)
    history: list[EventView] = field(default_factory=list)
    active_elements: list[str] = field(default_factory=list)
    completed_elements: list[str] = field(default_factory=list)
    waiting_messages: list[str] = field(default_factory=list)
    notifications: list[NotificationView] = field(default_factory=list)
    # Set on the answer to a repeated start (the same request key): this case was started by
    # the first request, not now.
    repeated: bool = False

    @classmethod
    def of(cls, case: Case, version: int, **parts: Any) -> CaseView:
        return cls(
            number=case.number,
            process=case.process_key,
            version=version,
            status=case.status,
            started_at=case.started_at,
            ended_at=case.ended_at,
            error_element=case.error_element,
            error_message=case.error_message,
            cancel_reason=case.cancel_reason,
            outcome=case.outcome,
            **parts,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "process": self.process,
            "version": self.version,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "error": (
                {"element_id": self.error_element, "message": self.error_message}
                if self.error_message
                else None
            ),
            "cancel_reason": self.cancel_reason,
            "outcome": self.outcome,
            "data": self.data,
            "open_tasks": [t.to_dict() for t in self.open_tasks],
            "timers": [t.to_dict() for t in self.timers],
            "history": [e.to_dict() for e in self.history],
            "active_elements": self.active_elements,
            "completed_elements": self.completed_elements,
            "waiting_messages": self.waiting_messages,
            "notifications": [n.to_dict() for n in self.notifications],
        }
