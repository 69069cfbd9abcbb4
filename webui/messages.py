"""The engine's messages in the reader's language.

The engine writes messages as data (engine.core.messages.Message: English text, a code and
parameters; its errors and the refusals of the task rules carry a `reason` code and params).
This module holds the translatable sentence for each field message (JSON Schema keywords,
x-checks) and takes those of errors and refusals from webui/engine_messages/, so Babel
extracts them like every other string of the web layer; it translates a message, a
field-error map or an engine error for a locale: the page's locale, the API's
Accept-Language, or Traditional Chinese for the command line. A code without a sentence is
shown as the engine's English text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from babel.support import Translations

from . import engine_messages
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
        # A form's own check (x-checks) that could not be made; "check" itself is the words
        # the process owner wrote, shown as written.
        "check_failed": lambda p: _("this check could not be made: %(error)s", error=p["error"]),
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
        "not_an_object": lambda p: _("must be an object"),
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

    words = engine_messages.Words(locale, gettext, ngettext)
    return {**_catalog(gettext, ngettext), **engine_messages.catalogue(words)}


def page_locale() -> str:
    """The locale of the page being rendered (Flask-Babel's choice)."""
    from flask_babel import get_locale

    return str(get_locale() or "zh_Hant")


def api_locale() -> str:
    """The locale of a JSON API answer: English when the client prefers it, else Chinese."""
    from flask import request

    best = request.accept_languages.best_match(["zh-Hant", "zh-TW", "zh", "en"])
    return "en" if best == "en" else "zh_Hant"


def message_codes(message: Any) -> list[str]:
    """The codes a message may be known by, most particular first: an engine error's
    "<class code>.<reason>" and reason, a Message's or Refusal's code."""
    reason = getattr(message, "reason", None)
    code = getattr(message, "code", None)
    if reason:
        return [f"{code}.{reason}", reason] if code else [reason]
    # An engine error without a reason has only its class's code ("not_found"): too general
    # to replace what the English text says.
    return [code] if isinstance(code, str) and not isinstance(message, Exception) else []


def translate(message: Any, locale: str | None = None) -> str:
    """A message in `locale` (default: the page's); text without a known code as it is."""
    sentences = _for_locale(locale or page_locale())
    sentence = next((sentences[c] for c in message_codes(message) if c in sentences), None)
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


def error_summary(fields: list[dict[str, Any]], errors: dict[str, list[str]]) -> list[dict]:
    """The errors of a form said with their fields' titles, in the form's order, for the box
    above the form: [{"name": field path, "title": its title, "text": "title：messages"}].

    `fields` is engine.form_fields(schema) (rows of a list carry their columns under
    "fields"; a row's field path is "<list>.<index>.<column>"), `errors` the translated
    field-error map. A path the fields do not name is listed by the path itself; errors about
    the whole form ("") by their text alone. "input" is the name of the field's input (a row's
    is "<list>-<index>-<column>"), which the form macros make its id with "f-" before it."""
    from flask_babel import gettext as _

    titles: dict[str, str] = {}
    rows: dict[str, dict[str, str]] = {}
    for f in fields:
        titles[f["name"]] = str(f.get("title") or f["name"])
        if f.get("fields"):
            rows[f["name"]] = {c["name"]: str(c.get("title") or c["name"]) for c in f["fields"]}

    def title(path: str) -> str:
        if path in titles:
            return titles[path]
        head, _dot, rest = path.partition(".")
        index, _dot, column = rest.partition(".")
        if head in rows and index.isdigit():
            row = _("%(list)s, row %(row)d", list=titles[head], row=int(index) + 1)
            return f"{row} › {rows[head].get(column, column)}" if column else row
        return path

    order = {name: n for n, name in enumerate(titles)}
    listed = sorted(
        (path for path, messages in errors.items() if messages),
        key=lambda p: (p != "", order.get(p.split(".")[0], len(order)), p),
    )
    summary = []
    for path in listed:
        text = (
            "；".join(errors[path]) if page_locale().startswith("zh") else "; ".join(errors[path])
        )
        name = title(path) if path else ""
        if path:
            text = _("%(field)s: %(message)s", field=name, message=text)
        head, _dot, rest = path.partition(".")
        field_input = f"{head}-{rest.replace('.', '-')}" if head in rows and rest else path
        summary.append({"name": path, "title": name, "text": text, "input": field_input})
    return summary
