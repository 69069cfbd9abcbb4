"""The engine's messages in the reader's language.

The engine writes messages as data (engine.core.messages.Message: English text, a code and
parameters; refusals of the task rules carry a `reason` code). This module holds the
translatable sentence for each code, so Babel extracts them like every other string of the web
layer, and translates a message, a field-error map or an engine error for a locale: the page's
locale, the API's Accept-Language, or Traditional Chinese for the command line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from babel.support import Translations

from .i18n import TRANSLATIONS, compile_translations

Gettext = Callable[..., str]


def _catalog(_: Gettext, ngettext: Gettext) -> dict[str, Callable[[dict[str, Any]], str]]:
    """code -> the sentence for its parameters, in the language of `_` and `ngettext`."""
    types = {
        "integer": lambda: _("a whole number"),
        "number": lambda: _("a number"),
        "string": lambda: _("text"),
        "boolean": lambda: _("true or false"),
        "array": lambda: _("a list"),
        "object": lambda: _("an object"),
        "null": lambda: _("empty"),
    }

    def type_words(p: dict[str, Any]) -> str:
        words = [types[t]() if t in types else str(t) for t in p.get("types", [])]
        return _("must be %(types)s", types=_(" or ").join(words))

    return {
        "required": lambda p: _("this field is required"),
        "undeclared": lambda p: _("not a field of this form; it cannot be submitted"),
        "type": type_words,
        "minimum": lambda p: _("must be at least %(value)s", value=p["value"]),
        "maximum": lambda p: _("must be at most %(value)s", value=p["value"]),
        "exclusiveMinimum": lambda p: _("must be greater than %(value)s", value=p["value"]),
        "exclusiveMaximum": lambda p: _("must be less than %(value)s", value=p["value"]),
        "multipleOf": lambda p: _("must be a multiple of %(value)s", value=p["value"]),
        "minLength": lambda p: ngettext(
            "must be at least %(num)d character", "must be at least %(num)d characters", p["num"]
        ),
        "maxLength": lambda p: ngettext(
            "must be at most %(num)d character", "must be at most %(num)d characters", p["num"]
        ),
        "minItems": lambda p: ngettext(
            "must have at least %(num)d item", "must have at least %(num)d items", p["num"]
        ),
        "maxItems": lambda p: ngettext(
            "must have at most %(num)d item", "must have at most %(num)d items", p["num"]
        ),
        "pattern": lambda p: _("is not in the expected format"),
        "enum": lambda p: _("must be one of: %(choices)s", choices=p["choices"]),
        "checked": lambda p: _("must be checked"),
        "const": lambda p: _("must be %(value)s", value=p["value"]),
        "format_date": lambda p: _("not a valid date"),
        "format_date-time": lambda p: _("not a valid date and time"),
        "format_time": lambda p: _("not a valid time"),
        "format_email": lambda p: _("not a valid email address"),
        "format": lambda p: _("not a valid %(format)s", format=p["format"]),
        "uniqueItems": lambda p: _("must not contain the same item twice"),
        "additionalProperties": lambda p: _("unexpected fields: %(fields)s", fields=p["fields"]),
        # The portal's change request (engine.casework.portal.request_payload)
        "change_time_missing": lambda p: _("please give the new date and time"),
        "change_time_invalid": lambda p: _("not a valid date and time"),
        "change_time_past": lambda p: _("the new time must be later than now"),
        # Refusals of the task rules (engine.core.rules)
        "task_done": lambda p: _(
            "This task was already completed by %(user)s.", user=p.get("user") or "?"
        ),
        "task_cancelled": lambda p: _("This task was cancelled: the case moved on without it."),
        "claimed_by_other": lambda p: _("This task is claimed by %(user)s.", user=p.get("user")),
        "not_supervisor": lambda p: _("Only a supervisor may reassign tasks."),
        "target_role_missing": lambda p: _(
            "%(user)s does not hold role %(role)s.", user=p.get("user"), role=p.get("role")
        ),
    }


@functools.cache
def _for_locale(locale: str) -> dict[str, Callable[[dict[str, Any]], str]]:
    compile_translations()
    translations = Translations.load(str(TRANSLATIONS), [locale])

    def gettext(text: str, **params: Any) -> str:
        translated = translations.gettext(text)
        return translated % params if params else translated

    def ngettext(singular: str, plural: str, num: int, **params: Any) -> str:
        return translations.ngettext(singular, plural, num) % {"num": num, **params}

    return _catalog(gettext, ngettext)


def page_locale() -> str:
    """The locale of the page being rendered (Flask-Babel's choice)."""
    from flask_babel import get_locale

    return str(get_locale() or "zh_Hant")


def api_locale() -> str:
    """The locale of a JSON API answer: English when the client prefers it, else Chinese."""
    from flask import request

    best = request.accept_languages.best_match(["zh-Hant", "zh-TW", "zh", "en"])
    return "en" if best == "en" else "zh_Hant"


def translate(message: Any, locale: str | None = None) -> str:
    """A message in `locale` (default: the page's); text without a known code as it is."""
    code = getattr(message, "reason", None) or getattr(message, "code", None)
    sentence = _for_locale(locale or page_locale()).get(code) if code else None
    if sentence is None:
        return str(message)
    try:
        return sentence(getattr(message, "params", None) or {})
    except (KeyError, TypeError, ValueError):  # parameters not as expected: the English text
        return str(message)


def translate_errors(
    errors: dict[str, list[Any]] | None, locale: str | None = None
) -> dict[str, list[str]]:
    """A field-error map (field path -> messages) in `locale`."""
    return {
        field: [translate(m, locale) for m in messages]
        for field, messages in (errors or {}).items()
    }
