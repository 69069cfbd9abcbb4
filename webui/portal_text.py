"""What the customer pages say: times in the company's zone and in words (one function for
every portal page, the `when` filter), the portal's engine messages (a day or time refused by
the calendar rule, why a change or cancellation is not possible now, what it may cost) and a
booking's stage, in the page's language."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from engine import portal

from .filters import outcome_label
from .messages import page_locale, translate

ZH_WEEKDAYS = "一二三四五六日"
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _runtime() -> Any:
    return current_app.extensions["caseflow"]


def _zone() -> ZoneInfo:
    return _runtime().calendar.zone


def local(value: Any) -> datetime | date | None:
    """An instant (aware datetime, or ISO 8601 text; without an offset it is company time) on
    the company's wall clock, a date as it is; None for nothing or unreadable text."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text) if "T" in text or " " in text else None
        except ValueError:
            return None
        if value is None:
            try:
                return date.fromisoformat(text)
            except ValueError:
                return None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            value = value.replace(tzinfo=_zone())
        return value.astimezone(_zone())
    return value if isinstance(value, date) else None


def when_words(value: Any, with_time: bool = True, locale: str | None = None) -> str:
    """A time as customers read it, in the company's zone: 2026年12月8日（星期二）09:00, or in
    English Tue 8 Dec 2026, 09:00; a date (or with_time False) without the time."""
    shown = local(value)
    if shown is None:
        return "" if value in (None, "") else str(value)
    english = (locale or page_locale()) == "en"
    weekday = shown.weekday()
    if english:
        day = f"{EN_WEEKDAYS[weekday]} {shown.day} {EN_MONTHS[shown.month - 1]} {shown.year}"
    else:
        day = f"{shown.year}年{shown.month}月{shown.day}日（星期{ZH_WEEKDAYS[weekday]}）"
    if not with_time or not isinstance(shown, datetime):
        return day
    return f"{day}, {shown:%H:%M}" if english else f"{day}{shown:%H:%M}"


def clock_words(value: Any) -> str:
    """Only the company-time clock of an instant (09:00), e.g. beside a day already shown."""
    shown = local(value)
    return f"{shown:%H:%M}" if isinstance(shown, datetime) else ""


def input_value(value: Any) -> str:
    """An instant as a datetime-local input shows it: company wall-clock time, to the minute."""
    shown = local(value)
    if isinstance(shown, datetime):
        return f"{shown:%Y-%m-%dT%H:%M}"
    return "" if value is None else str(value)


def _day(params: dict[str, Any]) -> str:
    return when_words(params.get("day"), with_time=False) if params.get("day") else ""


def portal_message(message: Any) -> str:
    """An engine message of the customer pages in the page's language (others as
    webui.messages translates them). A refused booking time that comes with the first time the
    customer may book instead (`earliest`, engine.casework.portal_lead) names it."""
    text = _portal_message(message)
    p = getattr(message, "params", None) or {}
    code = getattr(message, "reason", None) or getattr(message, "code", None)
    if p.get("earliest") and code != "time_too_soon":
        nearest = _(
            "The nearest time you can book is %(earliest)s.", earliest=when_words(p["earliest"])
        )
        return f"{text}{'' if page_locale() != 'en' else ' '}{nearest}"
    return text


def _portal_message(message: Any) -> str:
    code = getattr(message, "reason", None) or getattr(message, "code", None)
    p = getattr(message, "params", None) or {}
    store = p.get("store") or ""
    if code == "day_past":
        return _("That day has passed; please choose a later day.")
    if code == "day_holiday":
        language = "en_US" if page_locale() == "en" else "zh_TW"
        holiday = portal.holiday_name(_runtime(), str(p.get("day")), language)
        return _(
            "We are closed on %(day)s (public holiday: %(holiday)s); please choose another day.",
            day=_day(p),
            holiday=holiday or p.get("holiday", ""),
        )
    if code == "day_closed":
        return _("We are closed on %(day)s; please choose a working day.", day=_day(p))
    if code == "day_store_closed":
        if store:
            return _(
                "%(store)s has nobody on shift for this service on %(day)s; please choose "
                "another day or another store.",
                store=store,
                day=_day(p),
            )
        return _(
            "No store has anybody on shift for this service on %(day)s; please choose another day.",
            day=_day(p),
        )
    if code == "day_invalid":
        return _("Please give a valid date.")
    if code == "time_past":
        return _("That time has passed; please choose a later time.")
    if code == "time_invalid":
        return _("Please give a valid date and time.")
    if code == "time_outside_hours":
        return _(
            "That is outside office hours (%(opens)s–%(closes)s); please choose a time within "
            "them.",
            opens=p.get("opens", ""),
            closes=p.get("closes", ""),
        )
    if code == "time_too_soon":
        earliest = when_words(p.get("earliest"))
        days = p.get("days") if isinstance(p.get("days"), int) else 0
        if p.get("urgent"):
            return ngettext(
                "Bookings must be made at least %(num)d working day ahead: the earliest you can "
                "book is %(earliest)s. For an urgent need, tick “%(urgent)s” and we will do our "
                "best to arrange it.",
                "Bookings must be made at least %(num)d working days ahead: the earliest you can "
                "book is %(earliest)s. For an urgent need, tick “%(urgent)s” and we will do our "
                "best to arrange it.",
                days,
                earliest=earliest,
                urgent=p.get("urgent"),
            )
        return ngettext(
            "Bookings must be made at least %(num)d working day ahead: the earliest you can "
            "book is %(earliest)s.",
            "Bookings must be made at least %(num)d working days ahead: the earliest you can "
            "book is %(earliest)s.",
            days,
            earliest=earliest,
        )
    if code == "time_store_closed":
        if store:
            return _(
                "%(store)s has nobody on shift for this service at that time; please choose "
                "another time.",
                store=store,
            )
        return _("Nobody is on shift for this service at that time; please choose another time.")
    if code == "change_too_late_hours":
        return _(
            "Less than %(hours)s hours before the appointment: it cannot be changed online any "
            "more; please call the store.",
            hours=p.get("hours"),
        )
    if code == "cancel_fee_hours":
        return _(
            "Less than %(hours)s hours before the appointment: cancelling now may cost a fee of "
            "%(fee)s yuan.",
            hours=p.get("hours"),
            fee=p.get("fee"),
        )
    if code == "cancel_fee_days":
        return _(
            "Less than %(days)s working days before the appointment: cancelling now may cost a "
            "fee of %(fee)s yuan.",
            days=p.get("days"),
            fee=p.get("fee"),
        )
    if code == "change_fee_days":
        if p.get("late") and p.get("repeated"):
            return _(
                "Less than %(days)s working days before the appointment, and your free changes "
                "are used: a change now may cost %(fee)s yuan in fees.",
                days=p.get("days"),
                fee=p.get("fee"),
            )
        if p.get("late"):
            return _(
                "Less than %(days)s working days before the appointment: a change now may cost a "
                "fee of %(fee)s yuan.",
                days=p.get("days"),
                fee=p.get("fee"),
            )
        return _(
            "Your free changes are used: another change may cost a fee of %(fee)s yuan.",
            fee=p.get("fee"),
        )
    if code == "request_too_late":
        return _(
            "this booking can no longer be changed or cancelled online (it is too close to the "
            "appointment, already being handled, or finished); please call customer service"
        )
    if code == "booking_closed":
        return _("This booking is closed.")
    if code == "request_by_phone":
        return _("This booking is not changed or cancelled online; please call customer service.")
    if code == "request_not_now":
        return _(
            "Not possible online at this stage (the booking is being checked or arranged); "
            "please call customer service."
        )
    return translate(message)


def portal_errors(errors: dict[str, list[Any]] | None) -> dict[str, list[str]]:
    """A field-error map of a customer page in its language."""
    return {name: [portal_message(m) for m in found] for name, found in (errors or {}).items()}


def stage_words(stage: str, outcome: str | None = None) -> str:
    """Where a booking stands, as the customer reads it."""
    if stage == "closed":
        return outcome_label(outcome) or _("closed")
    return {
        "confirmed": _("confirmed"),
        "handling": _("being arranged"),
        "cancelled": _("cancelled"),
    }.get(stage, stage)
