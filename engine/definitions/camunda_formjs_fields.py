"""The fields of a Camunda Form file (form-js) as JSON Schema properties, one builder per
component type (text field, text area, number, checkbox, choice, multiple choice, date/time),
with the options, label, description, read-only flag and default every field may carry. Values
written as FEEL expressions (``=...``) are refused: Caseflow cannot evaluate FEEL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.core.linear_re import PatternError, compile_pattern
from engine.definitions.camunda_forms import (
    LABELS_KEY,
    PHONE_MAX_LENGTH,
    PHONE_PATTERN,
    check_default,
)
from engine.definitions.forms import FormError, json_kind

_DATETIME_FORMATS = {"date": "date", "time": "time", "datetime": "date-time"}


def _textfield(c: dict, validate: dict, required: bool, where: str) -> dict:
    prop = _string(validate, required, where)
    kind = validate.get("validationType")
    pattern = validate.get("pattern")
    if kind in (None, "", "custom"):
        pass
    elif kind == "email":
        prop["format"] = "email"
    elif kind == "phone":
        if pattern:
            raise FormError(
                f'{where}: validate.pattern and validationType "phone" are both set; keep one'
            )
        prop["pattern"] = PHONE_PATTERN
        prop["maxLength"] = min(prop.get("maxLength", PHONE_MAX_LENGTH), PHONE_MAX_LENGTH)
    else:
        raise FormError(f"{where}: validationType {kind!r} is not supported")
    if pattern:
        pattern = static_text(pattern, "validate.pattern", where)
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            raise FormError(f"{where}: validate.pattern: {exc}") from None
        prop["pattern"] = pattern
    return prop


def _textarea(c: dict, validate: dict, required: bool, where: str) -> dict:
    return {**_string(validate, required, where), "x-widget": "textarea"}


def _string(validate: dict, required: bool, where: str) -> dict:
    prop: dict[str, Any] = {"type": "string"}
    low = _count(validate.get("minLength"), "validate.minLength", where)
    high = _count(validate.get("maxLength"), "validate.maxLength", where)
    if required:
        low = max(low or 0, 1)  # "" is no answer, as in form-js
    if low:
        prop["minLength"] = low
    if high is not None:
        prop["maxLength"] = high
    return prop


def _number(c: dict, validate: dict, required: bool, where: str) -> dict:
    digits = c.get("decimalDigits")
    whole = digits == 0
    prop: dict[str, Any] = {"type": "integer" if whole else "number"}
    for entry, keyword in (("min", "minimum"), ("max", "maximum")):
        bound = _static(validate.get(entry), f"validate.{entry}", where)
        if bound is None or bound == "":
            continue
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise FormError(f"{where}: validate.{entry} must be a number, not {bound!r}")
        prop[keyword] = bound
    return prop


def _checkbox(c: dict, validate: dict, required: bool, where: str) -> dict:
    prop: dict[str, Any] = {"type": "boolean"}
    if required:
        prop["const"] = True  # form-js: a required checkbox must be ticked
    return prop


def _choice(c: dict, validate: dict, required: bool, where: str) -> dict:
    prop = {"type": "string", **_options(c, where)}
    if c.get("type") == "radio":
        prop["x-widget"] = "radio"
    return prop


def _many(c: dict, validate: dict, required: bool, where: str) -> dict:
    prop: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string", **_options(c, where)},
        "uniqueItems": True,
    }
    if required:
        prop["minItems"] = 1  # form-js: an empty selection is no answer
    return prop


def _datetime(c: dict, validate: dict, required: bool, where: str) -> dict:
    subtype = c.get("subtype") or "date"
    if subtype not in _DATETIME_FORMATS:
        raise FormError(f"{where}: datetime subtype {subtype!r} is not supported")
    if c.get("disallowPassedDates") is True:
        raise FormError(
            f"{where}: disallowPassedDates (no date before today) cannot be checked by a "
            "Caseflow form; clear it and check the date in the process"
        )
    return {"type": "string", "format": _DATETIME_FORMATS[subtype]}


FIELD_BUILDERS: dict[str, Callable[[dict, dict, bool, str], dict]] = {
    "textfield": _textfield,
    "textarea": _textarea,
    "number": _number,
    "checkbox": _checkbox,
    "checklist": _many,
    "taglist": _many,
    "radio": _choice,
    "select": _choice,
    "datetime": _datetime,
}


def _options(c: dict, where: str) -> dict:
    """``enum`` (and ``x-labels``) from a component's static ``values``."""
    for dynamic in ("valuesKey", "valuesExpression"):
        if c.get(dynamic):
            raise FormError(
                f"{where}: the options come from {dynamic} {c[dynamic]!r} (filled in at run "
                "time), which is not supported; list the options in the form (static values)"
            )
    values = c.get("values")
    if not isinstance(values, list) or not values:
        raise FormError(f"{where}: has no options (static values)")
    enum: list[str] = []
    labels: list[str] = []
    for option in values:
        value = option.get("value") if isinstance(option, dict) else None
        if not isinstance(value, str) or not value:
            raise FormError(f"{where}: option {option!r} has no text value")
        if value in enum:
            raise FormError(f"{where}: the option value {value!r} appears twice")
        label = static_text(option.get("label"), "an option label", where)
        enum.append(value)
        labels.append(label if label else value)
    result: dict[str, Any] = {"enum": enum}
    if labels != enum:
        result[LABELS_KEY] = labels
    return result


def with_common(prop: dict, c: dict, kind: str, where: str) -> dict:
    """Title, description, read-only and default, in the order our own files write them."""
    label = static_text(c.get("label"), "label", where)
    if kind == "datetime" and not label:
        subtype = c.get("subtype") or "date"
        label = static_text(
            c.get("timeLabel" if subtype == "time" else "dateLabel"), "label", where
        )
    head: dict[str, Any] = {"type": prop.pop("type")}
    if label:
        head["title"] = label
    description = static_text(c.get("description"), "description", where)
    if description:
        head["description"] = description
    prop = {**head, **prop}
    for flag in ("readonly", "disabled"):
        value = _static(c.get(flag), flag, where)
        if value not in (None, False, True):
            raise FormError(f"{where}: {flag} must be true or false, not {value!r}")
        if value is True:
            prop["readOnly"] = True
    default = c.get("defaultValue")
    if default is not None and default != "":
        check_default(prop, default, where, "defaultValue")
        prop["default"] = default
    return prop


def _static(value: object, what: str, where: str) -> object:
    if isinstance(value, str) and value.startswith("="):
        raise FormError(
            f"{where}: {what} {value!r} is a FEEL expression; Caseflow cannot evaluate FEEL, "
            "write the value itself"
        )
    return value


def static_text(value: object, what: str, where: str) -> str | None:
    value = _static(value, what, where)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormError(f"{where}: {what} must be text, not {json_kind(value)}")
    return value


def _count(value: object, what: str, where: str) -> int | None:
    value = _static(value, what, where)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FormError(f"{where}: {what} must be a whole number of 0 or more, not {value!r}")
    return value
