"""Audit events: who did what to which case and element, and when. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.store.tables import Event


def record(
    session: Session,
    kind: str,
    *,
    at: datetime,
    actor: str | None = None,
    case_id: int | None = None,
    element_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Event:
    """Add one event to the session; it commits with the step that caused it."""
    event = Event(
        case_id=case_id, at=at, actor=actor, kind=kind, element_id=element_id, detail=detail
    )
    session.add(event)
    return event
