"""Template helpers: dates in the company's zone, role names."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_locale


def init_app(app: Any) -> None:
    @app.template_filter("local")
    def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        zone = ZoneInfo(current_app.extensions["caseflow"].settings.timezone)
        return value.astimezone(zone).strftime(fmt)

    app.add_template_filter(event_label, "event")
    app.add_template_filter(outcome_label, "outcome")

    @app.context_processor
    def globals_() -> dict[str, Any]:
        runtime = current_app.extensions["caseflow"]
        return {
            "role_names": runtime.settings.roles,
            "now": runtime.clock.now(),
            "locale": str(get_locale() or "zh_Hant"),
        }


def event_label(kind: str) -> str:
    """What an audit event means, in the page's language (unknown kinds shown as they are)."""
    return _event_labels(str(get_locale())).get(kind, kind)


@functools.cache
def _event_labels(locale: str) -> dict[str, str]:
    # Once per language, not per event: a case page shows dozens (each gettext ~35 µs).
    from flask_babel import gettext as _

    return {
        "case_started": _("case started"),
        "case_completed": _("case completed"),
        "case_cancelled": _("case cancelled"),
        "case_migrated": _("moved to a new version"),
        "task_opened": _("task opened"),
        "task_not_assigned": _("task left to its role: nobody to assign"),
        "task_claimed": _("task claimed"),
        "task_unclaimed": _("task given back"),
        "task_reassigned": _("task reassigned"),
        "task_completed": _("task completed"),
        "task_submission_refused": _("submission refused: fields not on the form"),
        "task_cancelled": _("task cancelled"),
        "timer_fired": _("timer fired"),
        "timer_cancelled": _("timer cancelled"),
        "message_received": _("message received"),
        "notification_queued": _("message queued"),
        "notification_sent": _("message sent"),
        "notification_failed": _("message failed"),
        "notification_requeued": _("message queued again"),
        "error": _("error"),
        "retry": _("retried"),
        "script_output": _("script output"),
        "slot_booked": _("slot booked"),
        "slot_released": _("slot released"),
        "rating_recorded": _("rating recorded"),
        "professional_assigned": _("professional assigned"),
        "person_availability": _("availability changed"),
        "personal_data_viewed": _("personal data viewed"),
        "personal_data_purged": _("personal data removed"),
        "pending": _("waiting to be sent"),
        "sent": _("sent"),
        "failed": _("failed"),
    }


def outcome_label(value: str | None) -> str:
    """How a case ended (engine.core.outcomes), in the page's language; blank for none."""
    from flask_babel import gettext as _

    if not value:
        return ""
    labels = {
        "served": _("served"),
        "cancelled_by_customer": _("cancelled by the customer"),
        "cancelled_by_company": _("cancelled by the company"),
        "no_show": _("no-show"),
        "withdrawn": _("withdrawn by the customer"),
        "rejected": _("turned down"),
        "unfulfilled": _("could not be arranged"),
        "transferred": _("handed on"),
        "closed": _("closed"),
        "path_ended": _("path ended"),
    }
    return labels.get(value, value)
