"""Words: gettext for one locale and the ways the engine's sentences say a parameter in
it (a list joined as the language joins one, a time in the company's zone, a role by its name,
a case status by its word, a nested engine message, a form's field errors, quoted text)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

Sentence = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Words:
    """Gettext for one locale and the ways to say a parameter in it."""

    locale: str
    gettext: Callable[..., str]
    ngettext: Callable[..., str]

    def join(self, values: Any) -> str:
        if isinstance(values, list | tuple | set | frozenset):
            items = [str(v) for v in values]
            return ("、" if self.chinese else ", ").join(items)
        return str(values)

    @property
    def chinese(self) -> bool:
        return self.locale.startswith("zh")

    def when(self, value: Any) -> str:
        """A time as the company reads it (its zone), to the minute."""
        if not isinstance(value, datetime):
            return str(value)
        if value.tzinfo is None:  # the database's times are UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(_company_zone()).strftime("%Y-%m-%d %H:%M")

    def role(self, role: Any) -> str:
        """A role by its name in the settings (the lane names people know), its id otherwise."""
        names = _role_names()
        return names.get(role, str(role)) if self.chinese else str(role)

    def roles(self, roles: Any) -> str:
        _ = self.gettext
        return self.join([self.role(r) for r in (roles or [])]) or _("(none)")

    def status(self, status: Any) -> str:
        _ = self.gettext
        words = {
            "running": _("running"),
            "completed": _("completed"),
            "cancelled": _("cancelled"),
            "error": _("in error"),
        }
        return words.get(str(status), str(status))

    def data(self, what: Any) -> str:
        _ = self.gettext
        words = {
            "case data": _("The case data"),
            "task data": _("The task data"),
            "message data": _("The message data"),
            "retry data": _("The data for the retry"),
        }
        return words.get(str(what), str(what))


def _app_runtime() -> Any:
    try:
        from flask import current_app, has_app_context
    except ImportError:  # pragma: no cover - webui always has Flask
        return None
    return current_app.extensions.get("caseflow") if has_app_context() else None


def _company_zone() -> ZoneInfo:
    runtime = _app_runtime()
    zone = getattr(getattr(runtime, "settings", None), "timezone", None)
    try:
        return ZoneInfo(zone or "Asia/Shanghai")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _role_names() -> dict[str, str]:
    runtime = _app_runtime()
    roles = getattr(getattr(runtime, "settings", None), "roles", None)
    return dict(roles) if isinstance(roles, dict) else {}


def nested(w: Words, message: Any) -> str:
    """A message carried as a parameter (the engine error inside a dry run's failure), said in
    the language of `w`; its English text when it has no code."""
    from ..messages import translate  # at call time: webui.messages imports this module

    return translate(message, w.locale)


def field_errors(w: Words, errors: Any) -> str:
    """A form's field errors (field path -> messages) as one line in the language of `w`."""
    from ..messages import translate_errors

    _ = w.gettext
    said = translate_errors(errors if isinstance(errors, dict) else {}, w.locale)
    parts = [
        _("%(field)s: %(message)s", field=field or _("the form"), message=w.join(messages))
        for field, messages in said.items()
    ]
    return ("；" if w.chinese else "; ").join(parts)


def quoted(w: Words, value: Any) -> str:
    """What someone wrote, quoted as the language quotes."""
    return f"「{value}」" if w.chinese else repr(str(value))
