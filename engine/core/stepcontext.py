"""What a service helper called from a BPMN script may know about the step it runs in.

Scripts run inside one case step (one transaction). Helpers that read or write the database —
booking a room, ranking nurses, queueing an SMS — must do so in that same transaction, so the
booking, the message and the case's new state commit together or not at all. The runtime sets
the context for the duration of a step; helpers call `current()`.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass
class StepContext:
    session: Session
    case_id: int
    case_number: str
    process_key: str
    actor: str | None
    now: datetime  # the real time of the step (timers may run at their logical due time)
    calendar: Any = None  # the runtime's BusinessCalendar (office hours, holidays)
    settings: Any = None  # the runtime's Settings
    # The message templates of the case's process version (name -> text); None: read them
    # from the notifications folder (a version deployed before versions kept them).
    templates: dict[str, str] | None = None
    # Run just before the step writes its state (e.g. the outbox writes its rows).
    before_commit: list[Callable[[StepContext], None]] = field(default_factory=list)

    def next_key(self, prefix: str) -> str:
        """A unique key for a row this step writes (e.g. an outbox message); senders use it to
        deliver each message once."""
        return f"{prefix}:{self.case_id}:{uuid.uuid4().hex}"


_current: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "caseflow_step", default=None
)


class NoStep(RuntimeError):
    pass


def current() -> StepContext:
    ctx = _current.get()
    if ctx is None:
        raise NoStep("this helper can only be used while a case step runs")
    return ctx


@contextmanager
def step(ctx: StepContext) -> Iterator[StepContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


# Service helpers: plain functions that BPMN scripts and expressions may call by name.
_SERVICES: dict[str, Callable[..., Any]] = {}


def service(name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as a script helper (e.g. `@service() def book_slot(...)`)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _SERVICES[name or fn.__name__] = fn
        return fn

    return register


def services() -> dict[str, Callable[..., Any]]:
    return dict(_SERVICES)
