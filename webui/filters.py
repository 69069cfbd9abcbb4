"""Template helpers: dates in the company's zone, role names."""

from __future__ import annotations

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

    @app.context_processor
    def globals_() -> dict[str, Any]:
        runtime = current_app.extensions["caseflow"]
        return {
            "role_names": runtime.settings.roles,
            "now": runtime.clock.now(),
            "locale": str(get_locale() or "zh_Hant"),
        }
