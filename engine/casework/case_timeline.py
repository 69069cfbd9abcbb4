"""A case's history told for supervisors: newest first, elements by name, what each event
changed in a few words (the reason, the note, the message, "from → to"), and the views of a
customer's personal data folded into one line per person and (company) day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.casework import privacy
from engine.runtime.diagram import DiagramIndex
from engine.runtime.views import CaseView, EventView

# Audit events that only say someone looked: one line per person and day on the timeline.
VIEW_KINDS = frozenset({privacy.VIEW_EVENT, privacy.EXPORT_EVENT, "case_viewed"})


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    actor: str | None
    element: str | None  # the element's name
    text: str | None = None  # the reason, the note, the message, "from → to" …
    count: int = 1  # views folded into this line
    first_at: datetime | None = None  # the earliest of the folded views


def _detail_text(event: EventView, diagram: DiagramIndex) -> str | None:
    detail = event.detail if isinstance(event.detail, dict) else {}
    if event.kind == "case_cancelled":
        return str(detail.get("reason") or "") or None
    if event.kind == "task_reassigned":
        return f"{detail.get('from') or '—'} → {detail.get('to') or '—'}"
    if event.kind in ("script_output", "error"):
        return str(detail.get("text") or detail.get("message") or "") or None
    if event.kind == "message_received":
        data = detail.get("data") if isinstance(detail.get("data"), dict) else {}
        note = data.get("note") if isinstance(data.get("note"), str) else None
        if event.element_id:  # the line names what caught it; the note is what it says
            return note
        label = diagram.message_label(str(detail.get("message") or ""))
        return f"{label}: {note}" if note else label or None
    if event.kind == "case_migrated":
        return str(detail.get("to_version") or detail.get("version") or "") or None
    return None


def timeline(case: CaseView, diagram: DiagramIndex, zone: str) -> list[TimelineEntry]:
    """The case's history newest first, elements by name; views of personal data folded into
    one line per person and (company) day."""
    tz = ZoneInfo(zone)
    out: list[TimelineEntry] = []
    folded: dict[tuple[str | None, Any], int] = {}
    # Newest first; events of the same instant in the reverse of the order they happened.
    for event in sorted(reversed(case.history), key=lambda e: e.at, reverse=True):
        if event.kind in VIEW_KINDS:
            key = (event.actor, event.at.astimezone(tz).date())
            index = folded.get(key)
            if index is not None:
                entry = out[index]
                out[index] = TimelineEntry(
                    entry.at,
                    entry.kind,
                    entry.actor,
                    None,
                    None,
                    entry.count + 1,
                    event.at,
                )
                continue
            folded[key] = len(out)
            out.append(TimelineEntry(event.at, privacy.VIEW_EVENT, event.actor, None))
            continue
        out.append(
            TimelineEntry(
                event.at,
                event.kind,
                event.actor,
                diagram.name(event.element_id),
                _detail_text(event, diagram),
            )
        )
    return out
